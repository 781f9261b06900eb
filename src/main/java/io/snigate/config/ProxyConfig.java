package io.snigate.config;

import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A whole, validated configuration. Built by {@link ConfigLoader}; nothing in it changes after.
 *
 * @param source the file it came from, for messages
 * @param listeners the addresses accepting TLS clients; never empty
 * @param admin the address of the HTTP endpoint for metrics and health checks
 * @param adminLine the line of {@code admin} in the file, for messages; 0 when it is left out
 * @param routes in file order
 * @param defaultUpstream where a name no route matches goes; null to reject it
 * @param resolvers DNS servers for upstream names; empty to use the system's
 * @param upstreamMark the {@code SO_MARK} put on every upstream socket, so that firewall rules can
 *     tell the proxy's own traffic apart; 0 for none
 * @param upstreamMarkLine the line of {@code upstream_mark} in the file, for messages; 0 for none
 * @param echPublicNames the cover names ECH providers put in the outer SNI ({@code ech.public_names}),
 *     normalized: a ClientHello with ECH and one of these names is refused unless a route names it
 * @param policy the policy defaults: mode, audit upstream, TLS floor
 */
public record ProxyConfig(
        String source,
        List<Listener> listeners,
        HostPort admin,
        int adminLine,
        List<Route> routes,
        Upstream defaultUpstream,
        Timeouts timeouts,
        Limits limits,
        List<HostPort> resolvers,
        List<Nat64Prefix> nat64Prefixes,
        int upstreamMark,
        int upstreamMarkLine,
        Set<String> echPublicNames,
        Policy policy,
        AccessLogSettings accessLog) {
    public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 9090);

    public ProxyConfig {
        Objects.requireNonNull(source, "source");
        listeners = List.copyOf(listeners);
        Objects.requireNonNull(admin, "admin");
        routes = List.copyOf(routes);
        Objects.requireNonNull(timeouts, "timeouts");
        Objects.requireNonNull(limits, "limits");
        resolvers = List.copyOf(resolvers);
        nat64Prefixes = List.copyOf(nat64Prefixes);
        echPublicNames = Set.copyOf(echPublicNames);
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(accessLog, "accessLog");
    }

    /** How many routes run in audit mode, by their own {@code mode} or by {@code policy.mode}. */
    public int routesInAudit() {
        return (int) routes.stream().filter(route -> route.policy().modeUnder(policy) == PolicyMode.AUDIT).count();
    }

    /** The routes' {@code match_file} lists, in route order. */
    public List<NameList> nameLists() {
        return routes.stream().map(Route::names).filter(Objects::nonNull).toList();
    }

    /**
     * What to say of listeners that take some of a wider listener's connections under other rules
     * (one line each), or nothing.
     */
    public List<String> narrowerListenersWithOtherRules() {
        return ListenersReader.narrowerListenersWithOtherRules(listeners);
    }

    /** Whether any listener reads original destinations (REDIRECT or TPROXY interception). */
    public boolean hasTransparentListener() {
        return listeners.stream().anyMatch(Listener::isTransparent);
    }
}
