package io.snigate.route;

import io.snigate.config.Cidr;
import java.net.InetSocketAddress;
import java.util.List;
import io.snigate.config.Upstream;
import io.snigate.core.Reason;

/**
 * What to do with one connection: forward it to {@code upstream}, or reject it for
 * {@code rejectReason}.
 *
 * @param rejectReason null when routed
 * @param routeLabel the pattern that matched as written in the configuration (e.g.
 *     {@code *.example.org}), {@code default} for the default upstream, or null when nothing matched
 * @param upstream null when rejected
 * @param allowDestinations the route's opt-in address ranges for a {@code $sni} upstream
 * @param literalAddresses for an upstream written as an IP literal, its address, made once when
 *     the route table is built so that no connection parses it again; empty otherwise
 */
public record RouteDecision(
        Reason rejectReason,
        String routeLabel,
        Upstream upstream,
        List<Cidr> allowDestinations,
        List<InetSocketAddress> literalAddresses) {
    /** The label of decisions made by {@code default:}. */
    public static final String DEFAULT_LABEL = "default";

    public RouteDecision {
        if ((rejectReason == null) == (upstream == null)) {
            throw new IllegalArgumentException("a decision either routes to an upstream or rejects, not both");
        }
        allowDestinations = List.copyOf(allowDestinations);
        literalAddresses = List.copyOf(literalAddresses);
    }

    public static RouteDecision routed(String routeLabel, Upstream upstream) {
        return routed(routeLabel, upstream, List.of());
    }

    public static RouteDecision routed(String routeLabel, Upstream upstream, List<Cidr> allowDestinations) {
        List<InetSocketAddress> literal =
                upstream.isIpLiteral() ? List.of(upstream.hostPort().toResolvedLiteral()) : List.of();
        return new RouteDecision(null, routeLabel, upstream, allowDestinations, literal);
    }

    public static RouteDecision rejected(Reason reason, String routeLabel) {
        return new RouteDecision(reason, routeLabel, null, List.of(), List.of());
    }

    public boolean routed() {
        return rejectReason == null;
    }
}
