package io.snigate.config;

import java.util.Objects;

/**
 * A route's own policy settings beyond its match: who may use it, in which mode its verdicts
 * run, the TLS floor and its connection budget.
 *
 * @param clients the client addresses the route admits
 * @param mode the route's {@code mode:}, or null to follow {@code policy.mode}
 * @param minTlsVersion the route's {@code min_tls_version} as on the wire, or 0 to follow the
 *     top level
 * @param maxConnections connections open at once through the route; 0 means no limit
 */
public record RoutePolicy(ClientRules clients, PolicyMode mode, int minTlsVersion, int maxConnections) {
    /** A route that sets none of these. */
    public static final RoutePolicy INHERITED = new RoutePolicy(ClientRules.ANYONE, null, 0, 0);

    public RoutePolicy {
        Objects.requireNonNull(clients, "clients");
    }

    /** The mode this route runs in under the top-level {@code policy}. */
    public PolicyMode modeUnder(Policy policy) {
        return mode == null ? policy.mode() : mode;
    }

    /** The TLS floor this route applies under the top-level {@code policy}; 0 for none. */
    public int minTlsVersionUnder(Policy policy) {
        return minTlsVersion == 0 ? policy.minTlsVersion() : minTlsVersion;
    }
}
