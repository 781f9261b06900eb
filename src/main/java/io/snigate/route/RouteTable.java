package io.snigate.route;

import io.snigate.config.ProxyConfig;
import io.snigate.config.Route;
import io.snigate.config.Upstream;
import io.snigate.core.Reason;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Picks the route of a connection by its SNI name and the client's ALPN list.
 *
 * <p>The most specific pattern wins, whatever the file order: an exact name beats every wildcard,
 * and a longer wildcard suffix beats a shorter one. Among the routes of that pattern, those with an
 * alpn list are tried before the one without, so that a catch-all route never hides them. When the
 * pattern matched but no route's alpn fits, the connection is rejected rather than sent to a less
 * specific pattern: a name that has rules is denied by default.
 *
 * <p>Built once and never changed, so every event loop can share it. {@link #route} costs one hash
 * lookup per label of the name and allocates nothing: every decision it can return is made here.
 */
public final class RouteTable {
    private static final RouteDecision ECH_PUBLIC_NAME = RouteDecision.rejected(Reason.ECH_PUBLIC_NAME, null);

    private final Map<String, PatternRoutes> exactNames;
    private final SuffixTable wildcardSuffixes;
    private final RouteDecision unmatched;
    private final Set<String> echPublicNames;

    private RouteTable(Map<String, PatternRoutes> exactNames, SuffixTable wildcardSuffixes, RouteDecision unmatched,
            Set<String> echPublicNames) {
        this.exactNames = exactNames;
        this.wildcardSuffixes = wildcardSuffixes;
        this.unmatched = unmatched;
        this.echPublicNames = echPublicNames;
    }

    public static RouteTable from(ProxyConfig config) {
        Map<String, List<Route>> routesByPattern = new LinkedHashMap<>();
        for (Route route : config.routes()) {
            for (String pattern : route.match()) {
                routesByPattern.computeIfAbsent(pattern, p -> new ArrayList<>()).add(route);
            }
        }
        Map<String, PatternRoutes> exactNames = new HashMap<>();
        Map<String, PatternRoutes> wildcards = new HashMap<>();
        routesByPattern.forEach((pattern, routes) -> {
            PatternRoutes entry = new PatternRoutes(pattern, routes);
            if (Route.isWildcard(pattern)) {
                wildcards.put(pattern.substring(Route.WILDCARD_PREFIX.length()), entry);
            } else {
                exactNames.put(pattern, entry);
            }
        });
        Upstream fallback = config.defaultUpstream();
        RouteDecision unmatched = fallback != null
                ? RouteDecision.routed(RouteDecision.DEFAULT_LABEL, fallback)
                : RouteDecision.rejected(Reason.NO_ROUTE, null);
        return new RouteTable(Map.copyOf(exactNames), new SuffixTable(wildcards), unmatched, config.echPublicNames());
    }

    /**
     * @param sni a normalized, valid host name
     * @param clientAlpn the protocols the client offers, or null when it sent no ALPN extension
     * @param dialedPort the port the client dialed; a pattern whose routes all list other
     *     {@code ports} does not match, and a less specific one may
     * @param ech whether the ClientHello carries Encrypted Client Hello: with an ECH provider's
     *     cover name as SNI it is refused, unless a route names that cover name exactly
     */
    public RouteDecision route(String sni, List<String> clientAlpn, int dialedPort, boolean ech) {
        PatternRoutes match = exactNames.get(sni);
        if (ech && match == null && echPublicNames.contains(sni)) {
            return ECH_PUBLIC_NAME;
        }
        if (match == null || !match.acceptsPort(dialedPort)) {
            match = wildcardSuffixes.longestSuffixOf(sni, dialedPort);
        }
        return match == null ? unmatched : match.decide(clientAlpn, dialedPort);
    }

    /** The routes that carry one pattern, in the order they are tried. */
    private static final class PatternRoutes {
        /** Per route, its alpn list, or null when it accepts any client. */
        private final String[][] alpnByRoute;
        /** Per route, its ports, or null when it accepts any: ints, so that a lookup boxes nothing. */
        private final int[][] portsByRoute;
        private final RouteDecision[] decisionByRoute;
        private final RouteDecision alpnNotAllowed;

        PatternRoutes(String pattern, List<Route> routes) {
            List<Route> ordered = new ArrayList<>(routes.size());
            for (Route route : routes) {
                if (!route.alpn().isEmpty()) {
                    ordered.add(route);
                }
            }
            for (Route route : routes) {
                if (route.alpn().isEmpty()) {
                    ordered.add(route);
                }
            }
            alpnByRoute = new String[ordered.size()][];
            portsByRoute = new int[ordered.size()][];
            decisionByRoute = new RouteDecision[ordered.size()];
            for (int i = 0; i < ordered.size(); i++) {
                Route route = ordered.get(i);
                alpnByRoute[i] = route.alpn().isEmpty() ? null : route.alpn().toArray(new String[0]);
                portsByRoute[i] = route.ports().isEmpty() ? null : route.ports().stream().mapToInt(Integer::intValue).toArray();
                decisionByRoute[i] = RouteDecision.routed(pattern, route);
            }
            alpnNotAllowed = RouteDecision.rejected(Reason.ALPN_NOT_ALLOWED, pattern);
        }

        boolean acceptsPort(int port) {
            for (int i = 0; i < portsByRoute.length; i++) {
                if (accepts(portsByRoute[i], port)) {
                    return true;
                }
            }
            return false;
        }

        private static boolean accepts(int[] ports, int port) {
            if (ports == null) {
                return true;
            }
            for (int accepted : ports) {
                if (accepted == port) {
                    return true;
                }
            }
            return false;
        }

        RouteDecision decide(List<String> clientAlpn, int port) {
            for (int i = 0; i < alpnByRoute.length; i++) {
                String[] accepted = alpnByRoute[i];
                if (accepts(portsByRoute[i], port) && (accepted == null || offersAny(clientAlpn, accepted))) {
                    return decisionByRoute[i];
                }
            }
            return alpnNotAllowed;
        }

        private static boolean offersAny(List<String> clientAlpn, String[] accepted) {
            if (clientAlpn == null) {
                return false;
            }
            // Indexed, not for-each: an iterator per connection is the allocation this class avoids.
            for (int i = 0; i < clientAlpn.size(); i++) {
                String offered = clientAlpn.get(i);
                for (String protocol : accepted) {
                    if (protocol.equals(offered)) {
                        return true;
                    }
                }
            }
            return false;
        }
    }

    /**
     * Wildcard suffixes (the part after {@code *.}) in an open-addressing table that can look up a
     * suffix of a name in place. A {@code HashMap} would need a substring per label.
     *
     * <p>The hash runs from the last character backwards, so one backward pass over a name yields
     * the hash of every suffix on the way.
     */
    private static final class SuffixTable {
        private final String[] keys;
        private final int[] hashes;
        private final PatternRoutes[] values;
        private final int mask;

        SuffixTable(Map<String, PatternRoutes> entries) {
            int capacity = 2;
            while (capacity < entries.size() * 2) {
                capacity <<= 1;
            }
            keys = new String[capacity];
            hashes = new int[capacity];
            values = new PatternRoutes[capacity];
            mask = capacity - 1;
            entries.forEach((suffix, value) -> {
                int hash = backwardHash(suffix);
                int slot = spread(hash) & mask;
                while (keys[slot] != null) {
                    slot = (slot + 1) & mask;
                }
                keys[slot] = suffix;
                hashes[slot] = hash;
                values[slot] = value;
            });
        }

        /**
         * The entry of the longest suffix that starts right after a dot of {@code name} and has a
         * route for {@code port}. The name itself is never looked up: a wildcard needs at least one
         * label in front of its suffix.
         */
        PatternRoutes longestSuffixOf(String name, int port) {
            PatternRoutes longest = null;
            int hash = 0;
            // Backwards, the suffixes come shortest first, so the last one found is the longest.
            for (int i = name.length() - 1; i > 0; i--) {
                char c = name.charAt(i);
                if (c == '.') {
                    PatternRoutes found = get(name, i + 1, hash);
                    if (found != null && found.acceptsPort(port)) {
                        longest = found;
                    }
                }
                hash = 31 * hash + c;
            }
            return longest;
        }

        private PatternRoutes get(String name, int from, int hash) {
            int length = name.length() - from;
            for (int slot = spread(hash) & mask; keys[slot] != null; slot = (slot + 1) & mask) {
                String key = keys[slot];
                if (hashes[slot] == hash && key.length() == length && name.regionMatches(from, key, 0, length)) {
                    return values[slot];
                }
            }
            return null;
        }

        private static int backwardHash(String text) {
            int hash = 0;
            for (int i = text.length() - 1; i >= 0; i--) {
                hash = 31 * hash + text.charAt(i);
            }
            return hash;
        }

        private static int spread(int hash) {
            return hash ^ (hash >>> 16);
        }
    }
}
