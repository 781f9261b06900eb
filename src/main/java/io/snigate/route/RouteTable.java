package io.snigate.route;

import io.snigate.config.NameList;
import io.snigate.config.Policy;
import io.snigate.config.PolicyMode;
import io.snigate.config.ProxyConfig;
import io.snigate.config.Route;
import io.snigate.config.Upstream;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.core.RouteLabels;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The policy's one decision about a connection: which route its SNI name, ALPN list and dialed
 * port pick, then whether that route admits its client address and TLS version, each verdict
 * enforced or, in audit mode, forwarded and reported. The proxy's {@link RouteHandler} and
 * {@code snigate explain} both ask {@link #decide}.
 *
 * <p>The most specific pattern wins, whatever the file order: an exact name beats every wildcard,
 * and a longer wildcard suffix beats a shorter one, across {@code match} patterns and the names of
 * every {@code match_file} alike; at equal specificity a {@code match} pattern beats a list, and
 * an earlier route's list a later one's. Among the routes of that pattern, those with an alpn list
 * are tried before the one without, so that a catch-all route never hides them. When the pattern
 * matched but no route's alpn fits, the connection is refused rather than sent to a less specific
 * pattern: a name that has rules is denied by default.
 *
 * <p>Built once, off the event loops, and never changed, so every event loop can share it.
 * {@link #decide} costs one hash probe per label of the name for the patterns and for each list,
 * however many names the lists hold, and allocates nothing: every decision it can return is made
 * here.
 */
public final class RouteTable {
    private static final RouteDecision ECH_PUBLIC_NAME = RouteDecision.rejected(Reason.ECH_PUBLIC_NAME, null);

    private final Map<String, PatternRoutes> exactNames;
    private final SuffixTable wildcardSuffixes;
    /** The routes with a {@code match_file}, in file order, and the names of each. */
    private final NameList[] lists;
    private final PatternRoutes[] listRoutes;
    private final RouteDecision unmatched;
    private final RouteDecision unmatchedOldTls;
    private final RouteDecision unmatchedTransparent;
    private final int minTlsVersion;
    private final Set<String> echPublicNames;
    private final boolean recheckOnReload;

    private RouteTable(Map<String, PatternRoutes> exactNames, SuffixTable wildcardSuffixes, NameList[] lists,
            PatternRoutes[] listRoutes, Policy policy, Upstream fallback, Set<String> echPublicNames) {
        this.exactNames = exactNames;
        this.wildcardSuffixes = wildcardSuffixes;
        this.lists = lists;
        this.listRoutes = listRoutes;
        this.minTlsVersion = policy.minTlsVersion();
        this.echPublicNames = echPublicNames;
        this.recheckOnReload = policy.recheckOnReload();
        boolean audit = policy.mode() == PolicyMode.AUDIT;
        if (fallback != null) {
            // default: keeps its meaning in both modes: no verdict to audit, but the TLS floor.
            unmatched = RouteDecision.routed(RouteLabels.DEFAULT, fallback, policy.mode());
            unmatchedOldTls = unmatched.refusedFor(Reason.TLS_VERSION_NOT_ALLOWED);
            unmatchedTransparent = unmatched;
        } else {
            RouteDecision noRoute = RouteDecision.rejected(Reason.NO_ROUTE, null, null, policy.mode());
            unmatched = audit && policy.auditUpstream() != null
                    ? RouteDecision.routed(null, policy.auditUpstream(), PolicyMode.AUDIT).refusedFor(Reason.NO_ROUTE)
                    : noRoute;
            unmatchedOldTls = unmatched;
            // Behind a transparent listener, audit mode lets the client go where it was going, by
            // the name it sent and the port it dialed.
            unmatchedTransparent = audit && policy.auditUpstream() == null
                    ? RouteDecision.routed(null, Upstream.sni(Upstream.ORIGINAL_PORT), PolicyMode.AUDIT)
                            .refusedFor(Reason.NO_ROUTE)
                    : unmatched;
        }
    }

    /**
     * Whether this table, put in force by a reload, judges again the connections already routed
     * ({@code policy.recheck_on_reload}).
     */
    public boolean rechecksOnReload() {
        return recheckOnReload;
    }

    /** Builds the table of {@code config}; its lists are already read, so this is quick. */
    public static RouteTable from(ProxyConfig config) {
        Policy policy = config.policy();
        Map<String, List<Route>> routesByPattern = new LinkedHashMap<>();
        // The routes of each list, by the files it names: routes that share a list split it by
        // alpn or ports, as routes that share a pattern do.
        Map<Path, List<Route>> routesByList = new LinkedHashMap<>();
        for (Route route : config.routes()) {
            for (String pattern : route.match()) {
                routesByPattern.computeIfAbsent(pattern, p -> new ArrayList<>()).add(route);
            }
            if (route.names() != null) {
                routesByList.computeIfAbsent(route.names().pattern(), p -> new ArrayList<>()).add(route);
            }
        }
        List<NameList> lists = new ArrayList<>();
        List<PatternRoutes> listRoutes = new ArrayList<>();
        routesByList.values().forEach(routes -> {
            NameList names = routes.get(0).names();
            lists.add(names);
            listRoutes.add(new PatternRoutes(names.label(), routes, policy));
        });
        Map<String, PatternRoutes> exactNames = new HashMap<>();
        Map<String, PatternRoutes> wildcards = new HashMap<>();
        routesByPattern.forEach((pattern, routes) -> {
            PatternRoutes entry = new PatternRoutes(pattern, routes, policy);
            if (Route.isWildcard(pattern)) {
                wildcards.put(pattern.substring(Route.WILDCARD_PREFIX.length()), entry);
            } else {
                exactNames.put(pattern, entry);
            }
        });
        return new RouteTable(Map.copyOf(exactNames), new SuffixTable(wildcards), lists.toArray(NameList[]::new),
                listRoutes.toArray(PatternRoutes[]::new), policy, config.defaultUpstream(), config.echPublicNames());
    }

    /**
     * The route a name and ALPN list pick, before the client's address and TLS version are
     * considered: {@link #decide} for a client whose address and version every route admits.
     */
    public RouteDecision route(String sni, List<String> clientAlpn, int dialedPort) {
        return decide(sni, clientAlpn, dialedPort, null, Integer.MAX_VALUE, false, false);
    }

    /**
     * The decision for one connection.
     *
     * @param sni a normalized, valid host name
     * @param clientAlpn the protocols the client offers, or null when it sent no ALPN extension
     * @param dialedPort the port the client dialed; a pattern whose routes all list other
     *     {@code ports} does not match, and a less specific one may
     * @param client the client's address, or null when not known (then {@code clients:} rules are
     *     not checked: only {@code snigate explain} asks without one)
     * @param tlsVersion the highest TLS version the client offers, as on the wire
     * @param transparentListener whether the client came through a transparent listener, where
     *     audit mode forwards an unmatched name to where the client was going
     * @param ech whether the ClientHello carries Encrypted Client Hello: with an ECH provider's
     *     cover name as SNI it is refused (never audited), unless a route names that cover name
     *     exactly (in {@code match} or a {@code match_file}) for the dialed port
     */
    public RouteDecision decide(String sni, List<String> clientAlpn, int dialedPort, InetAddress client,
            int tlsVersion, boolean transparentListener, boolean ech) {
        PatternRoutes match;
        if (ech && echPublicNames.contains(sni)) {
            match = exactly(sni, dialedPort);
            if (match == null) {
                return ECH_PUBLIC_NAME;
            }
        } else {
            match = mostSpecific(sni, dialedPort);
        }
        if (match != null) {
            return match.decide(clientAlpn, dialedPort, client, tlsVersion);
        }
        RouteDecision fallback = transparentListener ? unmatchedTransparent : unmatched;
        return fallback == unmatched && tlsVersion < minTlsVersion ? unmatchedOldTls : fallback;
    }

    /** The decision for a connection whose ClientHello the pre-read recorded. */
    public RouteDecision decide(ConnectionRecord record) {
        return decide(record.sni(), record.alpn(), record.dialedPort(), record.client().getAddress(),
                record.tlsVersionCode(), record.originalDst() != null, Boolean.TRUE.equals(record.ech()));
    }

    private PatternRoutes mostSpecific(String sni, int port) {
        PatternRoutes exact = exactly(sni, port);
        return exact != null ? exact : longestWildcard(sni, port);
    }

    /** The routes that name {@code sni} itself, in {@code match} or a list, and have a route for {@code port}. */
    private PatternRoutes exactly(String sni, int port) {
        PatternRoutes exact = exactNames.get(sni);
        if (exact != null && exact.acceptsPort(port)) {
            return exact;
        }
        if (lists.length > 0) {
            int hash = NameList.hash(sni, 0);
            for (int i = 0; i < lists.length; i++) {
                if (lists[i].contains(sni, 0, hash, NameList.EXACT) && listRoutes[i].acceptsPort(port)) {
                    return listRoutes[i];
                }
            }
        }
        return null;
    }

    /**
     * The routes of the longest suffix that starts right after a dot of {@code name} and has a
     * route for {@code port}. The name itself is never looked up: a wildcard needs at least one
     * label in front of its suffix.
     */
    private PatternRoutes longestWildcard(String name, int port) {
        PatternRoutes longest = null;
        int hash = 0;
        // Backwards, the suffixes come shortest first, so the last one found is the longest.
        for (int i = name.length() - 1; i > 0; i--) {
            char c = name.charAt(i);
            if (c == '.') {
                PatternRoutes found = wildcardAt(name, i + 1, hash, port);
                if (found != null) {
                    longest = found;
                }
            }
            hash = 31 * hash + c;
        }
        return longest;
    }

    private PatternRoutes wildcardAt(String name, int from, int hash, int port) {
        PatternRoutes pattern = wildcardSuffixes.get(name, from, hash);
        if (pattern != null && pattern.acceptsPort(port)) {
            return pattern;
        }
        for (int i = 0; i < lists.length; i++) {
            if (lists[i].contains(name, from, hash, NameList.WILDCARD) && listRoutes[i].acceptsPort(port)) {
                return listRoutes[i];
            }
        }
        return null;
    }

    /** Every {@code route} label a connection routed by {@code config} can have, {@code none} aside. */
    public static List<String> labelsOf(ProxyConfig config) {
        List<String> labels = new ArrayList<>();
        config.routes().forEach(route -> {
            labels.addAll(route.match());
            if (route.names() != null) {
                labels.add(route.names().label());
            }
        });
        if (config.defaultUpstream() != null) {
            labels.add(RouteLabels.DEFAULT);
        }
        return labels;
    }
}
