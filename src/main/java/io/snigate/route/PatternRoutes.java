package io.snigate.route;

import io.snigate.config.ClientRules;
import io.snigate.config.Policy;
import io.snigate.config.PolicyMode;
import io.snigate.config.Route;
import io.snigate.core.Reason;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The routes that carry one pattern (or one {@code match_file}), in the order they are tried,
 * with every decision each of them can give made in advance: forwarded, or refused for the
 * client's address or its TLS version, each as the route's mode has it (rejected, or forwarded
 * and reported in audit mode).
 */
final class PatternRoutes {
    /** Per route, its alpn list, or null when it accepts any client. */
    private final String[][] alpnByRoute;
    /** Per route, its ports, or null when it accepts any: ints, so that a lookup boxes nothing. */
    private final int[][] portsByRoute;
    private final ClientRules[] clientsByRoute;
    private final int[] minTlsByRoute;
    private final RouteDecision[] routedByRoute;
    private final RouteDecision[] clientRefusedByRoute;
    private final RouteDecision[] tlsRefusedByRoute;
    /** Per route in file order: its ports (as {@link #portsByRoute}), and its alpn refusal. */
    private final int[][] portsInFileOrder;
    private final RouteDecision[] alpnRefusedInFileOrder;

    PatternRoutes(String label, List<Route> routes, Policy policy) {
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
        int n = ordered.size();
        alpnByRoute = new String[n][];
        portsByRoute = new int[n][];
        clientsByRoute = new ClientRules[n];
        minTlsByRoute = new int[n];
        routedByRoute = new RouteDecision[n];
        clientRefusedByRoute = new RouteDecision[n];
        tlsRefusedByRoute = new RouteDecision[n];
        for (int i = 0; i < n; i++) {
            Route route = ordered.get(i);
            alpnByRoute[i] = route.alpn().isEmpty() ? null : route.alpn().toArray(new String[0]);
            portsByRoute[i] = route.ports().isEmpty() ? null : route.ports().stream().mapToInt(Integer::intValue).toArray();
            clientsByRoute[i] = route.policy().clients();
            minTlsByRoute[i] = route.policy().minTlsVersionUnder(policy);
            routedByRoute[i] = RouteDecision.routed(label, route, route.policy().modeUnder(policy));
            clientRefusedByRoute[i] = routedByRoute[i].refusedFor(Reason.CLIENT_NOT_ALLOWED);
            tlsRefusedByRoute[i] = routedByRoute[i].refusedFor(Reason.TLS_VERSION_NOT_ALLOWED);
        }
        // No one route decides an alpn refusal: the first route in the file that serves the port
        // does, with its mode (audit mode forwards to that route's upstream).
        portsInFileOrder = new int[routes.size()][];
        alpnRefusedInFileOrder = new RouteDecision[routes.size()];
        for (int i = 0; i < routes.size(); i++) {
            Route route = routes.get(i);
            portsInFileOrder[i] = route.ports().isEmpty() ? null : route.ports().stream().mapToInt(Integer::intValue).toArray();
            alpnRefusedInFileOrder[i] = route.policy().modeUnder(policy) == PolicyMode.AUDIT
                    ? RouteDecision.routed(label, route, PolicyMode.AUDIT).refusedFor(Reason.ALPN_NOT_ALLOWED)
                    : RouteDecision.rejected(Reason.ALPN_NOT_ALLOWED, label);
        }
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

    /**
     * The decision for a client offering {@code clientAlpn} on {@code port}, from {@code client}
     * (null when not known: its rules are not checked) with {@code tlsVersion} as its highest.
     */
    RouteDecision decide(List<String> clientAlpn, int port, InetAddress client, int tlsVersion) {
        for (int i = 0; i < alpnByRoute.length; i++) {
            String[] accepted = alpnByRoute[i];
            if (accepts(portsByRoute[i], port) && (accepted == null || offersAny(clientAlpn, accepted))) {
                if (client != null && !clientsByRoute[i].admits(client)) {
                    return clientRefusedByRoute[i];
                }
                return tlsVersion < minTlsByRoute[i] ? tlsRefusedByRoute[i] : routedByRoute[i];
            }
        }
        for (int i = 0; i < portsInFileOrder.length; i++) {
            if (accepts(portsInFileOrder[i], port)) {
                return alpnRefusedInFileOrder[i];
            }
        }
        // Asked only for a port some route serves (acceptsPort); the first route's, all the same.
        return alpnRefusedInFileOrder[0];
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
