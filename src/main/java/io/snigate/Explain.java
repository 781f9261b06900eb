package io.snigate;

import io.netty.channel.EventLoopGroup;
import io.netty.resolver.dns.DefaultDnsCache;
import io.netty.resolver.dns.DnsNameResolver;
import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.HostPort;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.config.Route;
import io.snigate.config.Upstream;
import io.snigate.connect.DestinationPolicy;
import io.snigate.connect.Resolvers;
import io.snigate.core.HostNames;
import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import io.snigate.transport.EventLoops;
import io.snigate.transport.Transport;
import io.snigate.log.AccessLog;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code snigate explain}: what the proxy would do with one connection, for the on-call engineer
 * who asks why a name was refused. The answer comes from the proxy's own code: the config loader,
 * the listener's client rules, {@link RouteTable#decide} (route, client rules, TLS floor, audit
 * mode), and with {@code --resolve} snigate's resolver and {@link DestinationPolicy}.
 *
 * <p>The answer is a list of facts, printed for a person or, with {@code --json}, as one object.
 * A little over 300 lines: working out the facts and printing them both ways stay in one class,
 * so that the text and the JSON cannot come to say different things.
 */
final class Explain {
    static final String USAGE = """
            Usage: snigate explain [--config FILE] --sni NAME [--alpn LIST] [--client IP] [--port N]
                                   [--tls VERSION] [--ech] [--listener ADDRESS] [--resolve] [--json]
            Prints what snigate would do with such a connection, by the proxy's own routes and policy.
              -c, --config FILE     The routes file (default: routes.yaml).
                  --sni NAME        The server name the client sends (required).
                  --alpn LIST       The ALPN protocols it offers, comma-separated, e.g. h2,http/1.1
                                    (default: it sends no ALPN).
                  --client IP       Its address (default: not known; clients: rules are shown, not checked).
                  --port N          The port it dialed (default: the listener's port; 443 behind a
                                    transparent listener).
                  --tls VERSION     The highest TLS version it offers: 1.0, 1.1, 1.2 or 1.3 (default: 1.3).
                  --ech             It sends Encrypted Client Hello: NAME is the provider's cover name.
                  --listener ADDR   The listen address as written in the config (default: the first).
                  --resolve         Resolve the upstream with snigate's resolver and judge each address.
                  --json            Print one JSON object instead of text.
            Exit status: 0 forwarded (audit mode included), 1 refused, 2 usage or config error.
            """;
    static final int FORWARDED = 0;
    static final int REFUSED = 1;
    static final int USAGE_ERROR = 2;

    private final ExplainQuestion question;
    private final ProxyConfig config;
    /** The answer, in the order it is printed; values are strings, numbers, booleans, lists or null. */
    private final Map<String, Object> facts = new LinkedHashMap<>();

    private Explain(ExplainQuestion question, ProxyConfig config) {
        this.question = question;
        this.config = config;
    }

    /** Runs {@code snigate explain ARGS...}: prints the answer and returns the exit status. */
    static int run(List<String> args, PrintStream out, PrintStream err) throws InterruptedException {
        ExplainQuestion question;
        try {
            question = ExplainQuestion.parse(args);
        } catch (IllegalArgumentException e) {
            err.print("snigate explain: " + e.getMessage() + "\n" + USAGE);
            return USAGE_ERROR;
        }
        if (question == null) {
            out.print(USAGE);
            return FORWARDED;
        }
        ProxyConfig config;
        try {
            config = ConfigLoader.load(question.config());
        } catch (ConfigException e) {
            err.println("snigate: " + e.getMessage());
            return USAGE_ERROR;
        }
        Explain explain = new Explain(question, config);
        Listener listener = explain.listener();
        if (listener == null) {
            err.print("snigate explain: no listener \"" + question.listener() + "\" in " + config.source() + "\n" + USAGE);
            return USAGE_ERROR;
        }
        boolean forwarded = explain.answer(listener);
        out.print(question.json() ? explain.json() : explain.text());
        return forwarded ? FORWARDED : REFUSED;
    }

    private Listener listener() {
        if (question.listener() == null) {
            return config.listeners().get(0);
        }
        return config.listeners().stream().filter(l -> l.name().equals(question.listener())).findFirst().orElse(null);
    }

    /** Works out the answer into {@link #facts}; returns whether the connection would be forwarded. */
    private boolean answer(Listener listener) throws InterruptedException {
        String sni = HostNames.normalize(question.sni());
        int port = question.port() != null ? question.port()
                : listener.isTransparent() ? 443 : listener.address().port();
        facts.put("sni", sni);
        facts.put("alpn", question.alpn());
        facts.put("client", question.client() == null ? null : question.client().getHostAddress());
        facts.put("port", port);
        facts.put("tls_version", TlsVersions.name(question.tls()));
        facts.put("ech", question.ech());
        facts.put("listener", listener.name());
        facts.put("listener_line", listener.line());
        facts.put("listener_clients", listener.clients().restricts() ? listener.clients().toString() : "any");
        if (!HostNames.isValid(sni)) {
            return refused(Reason.INVALID_SNI, "pre-read");
        }
        if (question.client() != null && !listener.clients().admits(question.client())) {
            return refused(Reason.CLIENT_NOT_ALLOWED, "accept");
        }
        RouteDecision decision = RouteTable.from(config).decide(sni, question.alpn(), port, question.client(),
                question.tls(), listener.isTransparent(), question.ech());
        describeRoute(decision, sni);
        facts.put("policy_mode", decision.mode().label());
        facts.put("would_reject", decision.wouldReject() == null ? null : decision.wouldReject().label());
        if (!decision.routed()) {
            return refused(decision.rejectReason(), "route");
        }
        facts.put("upstream", decision.upstream().label());
        facts.put("dials", dials(decision.upstream(), sni, port));
        if (question.resolve()) {
            Reason refusal = resolve(decision, sni, port);
            if (refusal != null) {
                return refused(refusal, "connect");
            }
        }
        facts.put("outcome", "forwarded");
        return true;
    }

    private void describeRoute(RouteDecision decision, String sni) {
        Route route = decision.route();
        facts.put("route", decision.routeLabel());
        facts.put("route_line", route == null ? null : config.source() + ":" + route.line());
        boolean byList = route != null && route.names() != null && route.names().label().equals(decision.routeLabel());
        facts.put("matched_by", byList ? route.names().whereMatched(sni) : null);
        facts.put("route_clients", route == null || !route.policy().clients().restricts() ? null
                : route.policy().clients().toString());
        facts.put("max_connections", route == null ? 0 : route.policy().maxConnections());
    }

    private boolean refused(Reason reason, String stage) {
        facts.put("outcome", reason.outcome().label());
        facts.put("reason", reason.label());
        facts.put("stage", stage);
        // At accept nothing is sent: the listener's rules close before a byte is read.
        boolean alert = reason.sendsTlsAlert() && !stage.equals("accept");
        facts.put("tls_alert", alert ? Reason.Alerts.name(reason.tlsAlert()) : null);
        return false;
    }

    private static String dials(Upstream upstream, String sni, int port) {
        int dialedPort = upstream.usesOriginalPort() ? port : upstream.port();
        return switch (upstream.kind()) {
            case FIXED -> HostPort.formatHost(upstream.host()) + ":" + dialedPort;
            case SNI -> sni + ":" + dialedPort;
            case ORIGINAL_DST -> "the address the client dialed";
        };
    }

    /**
     * Resolves the upstream as the proxy would and judges each address by the destination policy;
     * returns why none may be dialed, or null when one may.
     */
    private Reason resolve(RouteDecision decision, String sni, int port) throws InterruptedException {
        Upstream upstream = decision.upstream();
        boolean clientChosen = upstream.kind() != Upstream.Kind.FIXED;
        String host = upstream.kind() == Upstream.Kind.FIXED ? upstream.host() : sni;
        int dialedPort = upstream.usesOriginalPort() ? port : upstream.port();
        List<InetAddress> addresses;
        if (upstream.isIpLiteral()) {
            addresses = List.of(decision.literalAddress());
        } else {
            addresses = lookUp(host);
            if (addresses == null) {
                return Reason.DNS_FAILURE;
            }
        }
        DestinationPolicy policy = DestinationPolicy.forListeners(
                config.listeners().stream().map(l -> l.address().toResolvedLiteral()).toList());
        List<String> verdicts = new ArrayList<>();
        Reason refused = null;
        boolean anyAllowed = false;
        for (InetAddress address : addresses) {
            InetSocketAddress target = new InetSocketAddress(address, upstream.dialsOriginalDst() ? port : dialedPort);
            Reason refusal = policy.refusal(target, clientChosen, decision.allowDestinations());
            verdicts.add(HostPort.format(target) + " " + (refusal == null ? "allowed" : refusal.label()));
            anyAllowed |= refusal == null;
            if (refusal != null && refused != Reason.LOOP_DETECTED) {
                refused = refusal;
            }
        }
        facts.put("resolved", verdicts);
        return anyAllowed ? null : refused;
    }

    /** The addresses snigate's resolver gives for {@code host}, or null when it finds none. */
    private List<InetAddress> lookUp(String host) throws InterruptedException {
        Transport transport = Transport.select();
        EventLoopGroup loop = transport.newEventLoopGroup(1);
        try (DnsNameResolver resolver = Resolvers.builder(config, transport, new DefaultDnsCache())
                .eventLoop(loop.next()).build()) {
            var lookup = resolver.resolveAll(host).await();
            return lookup.isSuccess() && !lookup.getNow().isEmpty() ? lookup.getNow() : null;
        } finally {
            EventLoops.stop(loop, "resolver", Duration.ofSeconds(5)); // the resolver's channel closes first
        }
    }

    private String text() {
        StringBuilder text = new StringBuilder();
        String outcome = (String) facts.get("outcome");
        text.append("snigate explain: ").append(facts.get("sni")).append(": ").append(outcome);
        if (facts.get("reason") != null) {
            text.append(", ").append(facts.get("reason"));
        }
        text.append('\n');
        line(text, "asked", "alpn " + (facts.get("alpn") == null ? "none" : String.join(",", question.alpn()))
                + ", client " + (facts.get("client") == null ? "not given" : facts.get("client"))
                + ", port " + facts.get("port") + ", highest TLS version " + facts.get("tls_version")
                + (question.ech() ? ", ECH" : ""));
        line(text, "listener", facts.get("listener") + " (" + config.source() + ":" + facts.get("listener_line")
                + "), clients " + facts.get("listener_clients"));
        if (facts.containsKey("route")) {
            Object route = facts.get("route");
            line(text, "route", route == null ? "none matched" : route + (facts.get("route_line") == null ? ""
                    : " (" + facts.get("route_line") + ")"));
        }
        optional(text, "matched by", facts.get("matched_by"));
        optional(text, "route clients", facts.get("route_clients"));
        if (facts.get("max_connections") instanceof Integer max && max > 0) {
            line(text, "route limit", max + " connections at once (connection_limit beyond)");
        }
        optional(text, "policy mode", facts.get("policy_mode"));
        line(text, "verdict", verdict());
        if (facts.get("upstream") != null) {
            line(text, "upstream", facts.get("upstream") + ": dials " + facts.get("dials"));
        }
        if (facts.get("resolved") instanceof List<?> resolved) {
            for (Object address : resolved) {
                line(text, "resolved", String.valueOf(address));
            }
        }
        return text.toString();
    }

    private String verdict() {
        Object reason = facts.get("reason");
        Object wouldReject = facts.get("would_reject");
        if (reason == null) {
            return wouldReject == null ? "forwarded"
                    : "forwarded in audit mode; in enforce mode it would be refused: " + wouldReject;
        }
        Object alert = facts.get("tls_alert");
        String answer = alert != null ? "the client gets the TLS alert " + alert
                : facts.get("stage").equals("accept") ? "closed at accept, before a byte is read"
                : "the connection is closed";
        String audit = "audit".equals(facts.get("policy_mode")) && "no_route".equals(reason)
                ? "; audit mode has nowhere to send it: set policy.audit_upstream" : "";
        return "refused at " + facts.get("stage") + ": " + reason + "; " + answer + audit;
    }

    private static void line(StringBuilder text, String key, String value) {
        text.append("  ").append(key).append(" ".repeat(Math.max(1, 15 - key.length()))).append(value).append('\n');
    }

    private static void optional(StringBuilder text, String key, Object value) {
        if (value != null) {
            line(text, key, String.valueOf(value));
        }
    }

    private String json() {
        StringBuilder json = new StringBuilder("{");
        facts.forEach((key, value) -> {
            if (json.length() > 1) {
                json.append(',');
            }
            AccessLog.string(json, key);
            json.append(':');
            value(json, value);
        });
        return json.append("}\n").toString();
    }

    private static void value(StringBuilder json, Object value) {
        if (value instanceof List<?> list) {
            json.append('[');
            for (int i = 0; i < list.size(); i++) {
                json.append(i > 0 ? "," : "");
                value(json, list.get(i));
            }
            json.append(']');
        } else if (value instanceof Number || value instanceof Boolean) {
            json.append(value);
        } else {
            AccessLog.string(json, value == null ? null : value.toString());
        }
    }
}
