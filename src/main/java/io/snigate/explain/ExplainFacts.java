package io.snigate.explain;

import java.util.List;

/**
 * What {@code snigate explain} found out about one connection, stage by stage: the facts that
 * {@link ExplainAnswer} prints as text or as the {@code --json} object. A stage that explain did
 * not reach is null, so that the JSON leaves out its keys instead of writing them as null.
 *
 * @param asked the connection asked about and the listener it arrives at; always there
 * @param routing what the route table decided, or null when the connection ends before routing
 * @param dialing the upstream and what it dials, or null when no route forwards the connection
 * @param resolved one {@code "ip:port verdict"} per address, or the parent proxy's part; null
 *     without {@code --resolve}, or when the name did not resolve
 * @param verdict forwarded or refused, and how; always there
 */
record ExplainFacts(Asked asked, Routing routing, Dialing dialing, List<String> resolved, Verdict verdict) {

    boolean forwarded() {
        return verdict.reason() == null;
    }

    /**
     * @param alpn the protocols offered, or null when the client sends no ALPN extension
     * @param client the client's address, or null when not given
     * @param listenerLine the listener's line in the config file
     */
    record Asked(String sni, List<String> alpn, String client, int port, String tlsVersion, boolean ech,
            String listener, int listenerLine, String listenerClients) {
    }

    /**
     * @param route the deciding route's pattern or list, or null when none matched
     * @param routeLine the route's {@code file:line}, or null when none matched
     * @param matchedBy the list entry that matched, or null when the route is not a list's
     * @param routeClients the route's client rules, or null when it has none
     * @param maxConnections the route's limit of connections at once; 0 for none
     * @param wouldReject the refusal that audit mode forwarded anyway, or null
     */
    record Routing(String route, String routeLine, String matchedBy, String routeClients, int maxConnections,
            String policyMode, String wouldReject) {
    }

    /** @param dials what is dialed, e.g. {@code www.example.org:443}, or the parent proxy and its CONNECT */
    record Dialing(String upstream, String dials) {
    }

    /**
     * @param outcome {@code forwarded} or the reason's outcome, e.g. {@code rejected}
     * @param reason why it is refused, or null when forwarded
     * @param stage where it is refused ({@code accept}, {@code pre-read}, {@code route},
     *     {@code connect}), or null when forwarded
     * @param tlsAlert the TLS alert the client gets, or null when none is sent
     */
    record Verdict(String outcome, String reason, String stage, String tlsAlert) {
        static final Verdict FORWARDED = new Verdict("forwarded", null, null, null);
    }
}
