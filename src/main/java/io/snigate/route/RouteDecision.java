package io.snigate.route;

import io.snigate.config.Cidr;
import io.snigate.config.Delivery;
import io.snigate.config.PolicyMode;
import io.snigate.config.Route;
import io.snigate.config.Upstream;
import io.snigate.core.Reason;
import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * What to do with one connection: forward it to {@code upstream}, or reject it for
 * {@code rejectReason}. Every decision the route table can return is made when the table is
 * built, so routing a connection allocates nothing.
 *
 * @param rejectReason null when routed
 * @param routeLabel the pattern that matched as written in the configuration (e.g.
 *     {@code *.example.org}), the {@code match_file} of a name from a list, {@code default} for
 *     the default upstream, or null when nothing matched
 * @param upstream null when rejected
 * @param allowDestinations the route's opt-in address ranges for destinations the client chose
 * @param verifyDestination for {@code $original_dst}: dial only an address the SNI resolves to
 * @param literalAddress for an upstream written as an IP literal, its address, made once when the
 *     route table is built so that no connection parses it again; null otherwise
 * @param route the route that decided, or null (the default upstream, no route)
 * @param mode the policy mode the decision was made in: in {@link PolicyMode#AUDIT} a policy
 *     verdict forwards (see {@code wouldReject}), and a {@code $original_dst} mismatch is dialed
 * @param wouldReject the policy verdict that audit mode forwarded anyway, or null
 */
public record RouteDecision(
        Reason rejectReason,
        String routeLabel,
        Upstream upstream,
        List<Cidr> allowDestinations,
        boolean verifyDestination,
        InetAddress literalAddress,
        Route route,
        PolicyMode mode,
        Reason wouldReject) {
    public RouteDecision {
        if ((rejectReason == null) == (upstream == null)) {
            throw new IllegalArgumentException("a decision either routes to an upstream or rejects, not both");
        }
        if (wouldReject != null && (upstream == null || mode != PolicyMode.AUDIT)) {
            throw new IllegalArgumentException("only audit mode forwards what the policy would reject");
        }
        allowDestinations = List.copyOf(allowDestinations);
        Objects.requireNonNull(mode, "mode");
    }

    /** The default upstream's decision. */
    public static RouteDecision routed(String routeLabel, Upstream upstream) {
        return routed(routeLabel, upstream, PolicyMode.ENFORCE);
    }

    /** A decision for an upstream that is not a route's: the default, or audit mode's fallback. */
    static RouteDecision routed(String routeLabel, Upstream upstream, PolicyMode mode) {
        return new RouteDecision(null, routeLabel, upstream, List.of(), true, literalOf(upstream), null, mode, null);
    }

    /** The decision of {@code route} matched by {@code pattern}. */
    public static RouteDecision routed(String pattern, Route route) {
        return routed(pattern, route, PolicyMode.ENFORCE);
    }

    static RouteDecision routed(String pattern, Route route, PolicyMode mode) {
        Upstream upstream = route.upstream();
        return new RouteDecision(null, pattern, upstream, route.allowDestinations(), route.verifyDestination(),
                literalOf(upstream), route, mode, null);
    }

    public static RouteDecision rejected(Reason reason, String routeLabel) {
        return rejected(reason, routeLabel, null, PolicyMode.ENFORCE);
    }

    static RouteDecision rejected(Reason reason, String routeLabel, Route route, PolicyMode mode) {
        return new RouteDecision(reason, routeLabel, null, List.of(), true, null, route, mode, null);
    }

    /**
     * The decision for a connection the policy refuses for {@code reason}: in audit mode this
     * decision forwarded, saying so; otherwise rejected.
     */
    RouteDecision refusedFor(Reason reason) {
        if (mode == PolicyMode.AUDIT) {
            return new RouteDecision(null, routeLabel, upstream, allowDestinations, verifyDestination, literalAddress,
                    route, mode, reason);
        }
        return rejected(reason, routeLabel, route, mode);
    }

    private static InetAddress literalOf(Upstream upstream) {
        return upstream.isIpLiteral()
                ? new io.snigate.config.HostPort(upstream.host(), 1).toResolvedLiteral().getAddress()
                : null;
    }

    /** How the route reaches its upstream: a PROXY header, a parent proxy; the default goes direct. */
    public Delivery delivery() {
        return route == null ? Delivery.DIRECT : route.delivery();
    }

    public boolean routed() {
        return rejectReason == null;
    }

    /** Whether the decision was made in audit mode. */
    public boolean audited() {
        return mode == PolicyMode.AUDIT;
    }
}
