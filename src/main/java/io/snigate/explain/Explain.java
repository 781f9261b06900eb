package io.snigate.explain;

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
import io.snigate.explain.ExplainFacts.Asked;
import io.snigate.explain.ExplainFacts.Dialing;
import io.snigate.explain.ExplainFacts.Routing;
import io.snigate.explain.ExplainFacts.Verdict;
import io.snigate.transport.EventLoops;
import io.snigate.transport.Transport;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;

/**
 * {@code snigate explain}: what the proxy would do with one connection, for the on-call engineer
 * who asks why a name was refused. The answer comes from the proxy's own code: the config loader,
 * the listener's client rules, {@link RouteTable#decide} (route, client rules, TLS floor, audit
 * mode), and with {@code --resolve} snigate's resolver and {@link DestinationPolicy}.
 *
 * <p>The answer is an {@link ExplainFacts}, which {@link ExplainAnswer} prints for a person or,
 * with {@code --json}, as one object.
 */
public final class Explain {
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

    private Explain(ExplainQuestion question, ProxyConfig config) {
        this.question = question;
        this.config = config;
    }

    /** Runs {@code snigate explain ARGS...}: prints the answer and returns the exit status. */
    public static int run(List<String> args, PrintStream out, PrintStream err) throws InterruptedException {
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
        ExplainFacts facts = explain.workOut(listener);
        ExplainAnswer answer = new ExplainAnswer(facts, config.source());
        out.print(question.json() ? answer.json() : answer.text());
        return facts.forwarded() ? FORWARDED : REFUSED;
    }

    private Listener listener() {
        if (question.listener() == null) {
            return config.listeners().get(0);
        }
        return config.listeners().stream().filter(l -> l.name().equals(question.listener())).findFirst().orElse(null);
    }

    /** Works out what the proxy would do with the connection asked about. */
    private ExplainFacts workOut(Listener listener) throws InterruptedException {
        String sni = HostNames.normalize(question.sni());
        int port = question.port() != null ? question.port()
                : listener.isTransparent() ? 443 : listener.address().port();
        Asked asked = new Asked(sni, question.alpn(),
                question.client() == null ? null : question.client().getHostAddress(), port,
                TlsVersions.name(question.tls()), question.ech(), listener.name(), listener.line(),
                listener.clients().restricts() ? listener.clients().toString() : "any");
        if (!HostNames.isValidServerName(sni)) {
            return new ExplainFacts(asked, null, null, null, refused(Reason.INVALID_SNI, "pre-read"));
        }
        if (question.client() != null && !listener.clients().admits(question.client())) {
            return new ExplainFacts(asked, null, null, null, refused(Reason.CLIENT_NOT_ALLOWED, "accept"));
        }
        RouteDecision decision = RouteTable.from(config).decide(sni, question.alpn(), port, question.client(),
                question.tls(), listener.isTransparent(), question.ech());
        Routing routing = routing(decision, sni);
        if (!decision.routed()) {
            return new ExplainFacts(asked, routing, null, null, refused(decision.rejectReason(), "route"));
        }
        // Through a parent proxy the parent resolves a name and applies its own destination
        // policy; an original destination is judged here first, as the connect stage does.
        HostPort parent = decision.delivery().via();
        String dials = dials(decision.upstream(), sni, port);
        Dialing dialing = new Dialing(decision.upstream().label(),
                parent == null ? dials : "the parent proxy " + parent + " (CONNECT " + dials + ")");
        if (!question.resolve()) {
            return new ExplainFacts(asked, routing, dialing, null, Verdict.FORWARDED);
        }
        if (parent != null && decision.upstream().kind() != Upstream.Kind.ORIGINAL_DST) {
            List<String> byParent = List.of("by the parent proxy, whose destination policy applies");
            return new ExplainFacts(asked, routing, dialing, byParent, Verdict.FORWARDED);
        }
        Resolution resolution = resolve(decision, sni, port);
        return new ExplainFacts(asked, routing, dialing, resolution.verdicts(),
                resolution.refusal() == null ? Verdict.FORWARDED : refused(resolution.refusal(), "connect"));
    }

    private Routing routing(RouteDecision decision, String sni) {
        Route route = decision.route();
        boolean byList = route != null && route.names() != null && route.names().label().equals(decision.routeLabel());
        return new Routing(decision.routeLabel(),
                route == null ? null : config.source() + ":" + route.line(),
                byList ? route.names().whereMatched(sni) : null,
                route == null || !route.policy().clients().restricts() ? null : route.policy().clients().toString(),
                route == null ? 0 : route.policy().maxConnections(),
                decision.mode().label(),
                decision.wouldReject() == null ? null : decision.wouldReject().label());
    }

    private static Verdict refused(Reason reason, String stage) {
        // At accept nothing is sent: the listener's rules close before a byte is read.
        boolean alert = reason.sendsTlsAlert() && !stage.equals("accept");
        return new Verdict(reason.outcome().label(), reason.label(), stage,
                alert ? Reason.Alerts.name(reason.tlsAlert()) : null);
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
     * What resolving the upstream found.
     *
     * @param verdicts one {@code "ip:port verdict"} per address, or null when the name did not resolve
     * @param refusal why no address may be dialed, or null when one may
     */
    private record Resolution(List<String> verdicts, Reason refusal) {
    }

    /** Resolves the upstream as the proxy would and judges each address by the destination policy. */
    private Resolution resolve(RouteDecision decision, String sni, int port) throws InterruptedException {
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
                return new Resolution(null, Reason.DNS_FAILURE);
            }
        }
        DestinationPolicy policy = DestinationPolicy.forListeners(
                config.listeners().stream().map(l -> l.address().toResolvedLiteral()).toList(), config.nat64Prefixes());
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
        return new Resolution(verdicts, anyAllowed ? null : refused);
    }

    /** The addresses snigate's resolver gives for {@code host}, or null when it finds none. */
    private List<InetAddress> lookUp(String host) throws InterruptedException {
        Transport transport = Transport.select();
        EventLoopGroup loop = transport.newEventLoopGroup(1);
        // Both families, whatever the time between their answers: the proxy waits for the second
        // at most a moment (connect.AddressLookups), a question asked by hand can wait.
        try (DnsNameResolver resolver = Resolvers.builder(config, transport, new DefaultDnsCache())
                .completeOncePreferredResolved(false).eventLoop(loop.next()).build()) {
            var lookup = resolver.resolveAll(host).await();
            return lookup.isSuccess() && !lookup.getNow().isEmpty() ? lookup.getNow() : null;
        } finally {
            EventLoops.stop(loop, "resolver", Duration.ofSeconds(5)); // the resolver's channel closes first
        }
    }
}
