package io.snigate.route;

import io.snigate.config.Cidr;
import io.snigate.config.Delivery;
import io.snigate.config.Route;
import io.snigate.config.Upstream;
import io.snigate.core.Reason;
import java.net.InetAddress;
import java.util.List;

/**
 * What to do with one connection: forward it to {@code upstream}, or reject it for
 * {@code rejectReason}. Every decision the route table can return is made when the table is
 * built, so routing a connection allocates nothing.
 *
 * @param rejectReason null when routed
 * @param routeLabel the pattern that matched as written in the configuration (e.g.
 *     {@code *.example.org}), {@code default} for the default upstream, or null when nothing matched
 * @param upstream null when rejected
 * @param allowDestinations the route's opt-in address ranges for destinations the client chose
 * @param verifyDestination for {@code $original_dst}: dial only an address the SNI resolves to
 * @param literalAddress for an upstream written as an IP literal, its address, made once when the
 *     route table is built so that no connection parses it again; null otherwise
 * @param delivery the PROXY header to send and the parent proxy to go through, if any
 */
public record RouteDecision(
        Reason rejectReason,
        String routeLabel,
        Upstream upstream,
        List<Cidr> allowDestinations,
        boolean verifyDestination,
        InetAddress literalAddress,
        Delivery delivery) {
    /** The label of decisions made by {@code default:}. */
    public static final String DEFAULT_LABEL = "default";

    public RouteDecision {
        if ((rejectReason == null) == (upstream == null)) {
            throw new IllegalArgumentException("a decision either routes to an upstream or rejects, not both");
        }
        allowDestinations = List.copyOf(allowDestinations);
    }

    /** The default upstream's decision. */
    public static RouteDecision routed(String routeLabel, Upstream upstream) {
        return new RouteDecision(null, routeLabel, upstream, List.of(), true, literalOf(upstream), Delivery.DIRECT);
    }

    /** The decision of {@code route} matched by {@code pattern}. */
    public static RouteDecision routed(String pattern, Route route) {
        Upstream upstream = route.upstream();
        return new RouteDecision(null, pattern, upstream, route.allowDestinations(), route.verifyDestination(),
                literalOf(upstream), route.delivery());
    }

    public static RouteDecision rejected(Reason reason, String routeLabel) {
        return new RouteDecision(reason, routeLabel, null, List.of(), true, null, Delivery.DIRECT);
    }

    private static InetAddress literalOf(Upstream upstream) {
        return upstream.isIpLiteral()
                ? new io.snigate.config.HostPort(upstream.host(), 1).toResolvedLiteral().getAddress()
                : null;
    }

    public boolean routed() {
        return rejectReason == null;
    }
}
