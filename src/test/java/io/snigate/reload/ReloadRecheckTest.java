package io.snigate.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import io.snigate.testing.SilentListener;
import io.snigate.testing.TestDnsServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * {@code policy.recheck_on_reload}: a reload judges the tunnels already open again and closes
 * those its config refuses, with reason {@code revoked_by_reload}; the others relay on, byte for
 * byte. Two tunnels are open across each reload: {@code curl.corpus.test} ("A") and
 * {@code curl-http11.corpus.test} ("B"), each on a route of its own.
 */
@ExtendWith(NettyLeaks.class)
class ReloadRecheckTest {
    private static final byte[] HELLO_A = Corpus.resource("corpus/captured/curl-default.bin");
    private static final byte[] HELLO_B = Corpus.resource("corpus/captured/curl-http1.1.bin");
    private static final byte[] HELLO_C = Corpus.resource("corpus/captured/curl-http2.bin"); // curl-http2.corpus.test
    /** The listener's line that makes it take a PROXY header from loopback. */
    private static final String PROXY_PROTOCOL = "proxy_protocol: { trusted: [\"127.0.0.0/8\"] }";
    private static final byte[] MORE = "bytes after the reload".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger recheckLog = (Logger) LoggerFactory.getLogger("io.snigate.listen.OpenConnections");
    private Path config;
    private RecordingServer upstream;
    /** Resolves curl-http2.corpus.test to loopback; resolvers are set at start, a reload cannot change them. */
    private TestDnsServer dns;
    private ProxyHarness proxy;
    private Reloader reloader;
    private final List<Socket> clients = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        logged.start();
        recheckLog.addAppender(logged);
        upstream = new RecordingServer();
        dns = new TestDnsServer().answer("curl-http2.corpus.test", InetAddress.getLoopbackAddress(), 300);
        config = Files.writeString(dir.resolve("routes.yaml"), configText("", "", routeA(), routeB()));
        proxy = ProxyHarness.startFile(config);
        reloader = new Reloader(config, proxy.server(), proxy.metrics(), Files.readString(config));
        clients.add(openTunnel(HELLO_A));
        clients.add(openTunnel(HELLO_B));
        // Both relaying: each ClientHello has reached the upstream.
        await().atMost(Duration.ofSeconds(10)).until(() -> upstream.bytesSoFar() == HELLO_A.length + HELLO_B.length);
    }

    @AfterEach
    void stop() throws IOException {
        recheckLog.detachAppender(logged);
        for (Socket client : clients) {
            client.close();
        }
        reloader.close();
        proxy.close();
        upstream.close();
        dns.close();
    }

    /** The config: lines at the top level and in the listener's entry, then the routes. */
    private String configText(String topLevel, String listener, String... routes) {
        return """
                listen:
                  - address: "127.0.0.1:0"
                %s
                admin: "127.0.0.1:0"
                resolvers: ["%s"]
                %s
                routes:
                %s""".formatted(listener.isEmpty() ? "" : "    " + listener, dns.hostPort(), topLevel, String.join("", routes));
    }

    /** A route entry: its match, the recording upstream unless {@code lines} name another, and {@code lines}. */
    private String route(String match, String... lines) {
        StringBuilder entry = new StringBuilder("  - match: \"" + match + "\"\n");
        if (Arrays.stream(lines).noneMatch(line -> line.startsWith("upstream:"))) {
            entry.append("    upstream: \"127.0.0.1:").append(upstream.port()).append("\"\n");
        }
        for (String line : lines) {
            entry.append("    ").append(line).append('\n');
        }
        return entry.toString();
    }

    private String routeA(String... lines) {
        return route("curl.corpus.test", lines);
    }

    private String routeB(String... lines) {
        return route("curl-http11.corpus.test", lines);
    }

    /** A connection the proxy has accepted, beside the two tunnels, that has sent nothing yet. */
    private Socket acceptedSilentConnection() throws IOException {
        Socket silent = proxy.connect();
        clients.add(silent);
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().openConnections() == 3);
        return silent;
    }

    private Socket openTunnel(byte[] hello) throws IOException {
        Socket client = proxy.connect();
        client.getOutputStream().write(hello);
        return client;
    }

    private void reload(String text) throws Exception {
        Files.writeString(config, text);
        assertThat(reloader.reload("test")).isTrue();
    }

    /** The proxy closes the connection: the client reads the end of the stream. */
    private static void assertClosedByTheProxy(Socket client) throws IOException {
        assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
    }

    /**
     * The proxy cuts the connection with a reset: a tunnel it revoked does not end as a whole
     * answer would, with the end of the stream.
     */
    private static void assertResetByTheProxy(Socket client) {
        assertThatThrownBy(() -> ProxyHarness.readUntilClosed(client))
                .isInstanceOf(SocketException.class).hasMessageContaining("reset");
    }

    /**
     * The tunnel still relays: more bytes reach the upstream after the ClientHello, and a
     * half-close ends it as usual.
     */
    private void assertRelaysOn(Socket client, byte[] hello) throws Exception {
        client.getOutputStream().write(MORE);
        client.shutdownOutput();
        assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
        byte[] expected = new byte[hello.length + MORE.length];
        System.arraycopy(hello, 0, expected, 0, hello.length);
        System.arraycopy(MORE, 0, expected, hello.length, MORE.length);
        assertThat(upstream.nextReceived(10_000)).isEqualTo(expected);
    }

    /** The access-log lines to come, by SNI. */
    private Map<String, JsonNode> nextLogs(int count) throws Exception {
        Map<String, JsonNode> bySni = new HashMap<>();
        for (int i = 0; i < count; i++) {
            JsonNode line = proxy.nextLog();
            bySni.put(line.get("sni").asText(), line);
        }
        return bySni;
    }

    /** Waits for the one line the recheck logs when every event loop has judged its clients. */
    private String awaitRecheckSummary() {
        await().atMost(Duration.ofSeconds(10)).until(() -> !recheckLines().isEmpty());
        assertThat(recheckLines()).hasSize(1);
        return recheckLines().get(0);
    }

    /** What the recheck logged so far: the appender's list is written on an event loop. */
    private List<String> recheckLines() {
        synchronized (logged) {
            return logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        }
    }

    /** A is closed, with its log line, summary and metric; B relays on. */
    private void assertOnlyAWasClosed(String verdict) throws Exception {
        assertResetByTheProxy(clients.get(0));
        JsonNode closed = proxy.nextLog();
        assertThat(closed.get("sni").asText()).isEqualTo("curl.corpus.test");
        assertThat(closed.get("reason").asText()).isEqualTo("revoked_by_reload");
        assertThat(closed.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(closed.get("route").asText()).isEqualTo("curl.corpus.test");
        assertThat(closed.get("bytes_from_client").asLong()).isEqualTo(HELLO_A.length);
        assertThat(awaitRecheckSummary())
                .isEqualTo("reload: closed 1 open connections the new config refuses, by verdict: {" + verdict + "=1}");
        assertThat(proxy.admin("/metrics", null).body()).contains("snigate_connections_total{listener=\"127.0.0.1:0\","
                + "outcome=\"forwarded\",reason=\"revoked_by_reload\",route=\"curl.corpus.test\"} 1.0");
        assertThat(upstream.nextReceived(10_000)).isEqualTo(HELLO_A);
        assertRelaysOn(clients.get(1), HELLO_B);
    }

    @Test
    void aRouteRemovedClosesItsTunnels() throws Exception {
        reload(configText("", "", routeB()));
        assertOnlyAWasClosed("no_route");
    }

    @Test
    void aRouteWhoseClientsNoLongerIncludeTheClientClosesItsTunnels() throws Exception {
        reload(configText("", "", routeA("clients: { deny: [\"127.0.0.0/8\"] }"), routeB()));
        assertOnlyAWasClosed("client_not_allowed");
    }

    @Test
    void aRouteThatNowNeedsAProtocolNotOfferedClosesItsTunnels() throws Exception {
        reload(configText("", "", routeA("alpn: [\"x-unoffered\"]"), routeB()));
        assertOnlyAWasClosed("alpn_not_allowed");
    }

    @Test
    void aListenerWhoseClientsNoLongerIncludeTheClientClosesItsTunnels() throws Exception {
        reload(configText("", "clients: { deny: [\"127.0.0.0/8\"] }", routeA(), routeB()));
        assertResetByTheProxy(clients.get(0));
        assertResetByTheProxy(clients.get(1));
        Map<String, JsonNode> lines = nextLogs(2);
        assertThat(lines.get("curl.corpus.test").get("reason").asText()).isEqualTo("revoked_by_reload");
        assertThat(lines.get("curl-http11.corpus.test").get("reason").asText()).isEqualTo("revoked_by_reload");
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {client_not_allowed=2}");
    }

    /**
     * A connection accepted before the reload that denies its client, and silent until after it,
     * is closed by the reload too: routing does not judge the listener's clients again, so its
     * later hello would have been forwarded (failed before: the hello reached the upstream).
     */
    @Test
    void aListenerWhoseClientsNoLongerIncludeTheClientClosesItsConnectionsStillInPreread() throws Exception {
        Socket early = acceptedSilentConnection();
        reload(configText("", "clients: { deny: [\"127.0.0.0/8\"] }", routeA(), routeB()));
        assertResetByTheProxy(early);
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {client_not_allowed=3}");
        assertThat(upstream.bytesSoFar()).as("no hello of the early connection").isEqualTo(HELLO_A.length + HELLO_B.length);
    }

    /**
     * Behind a PROXY header that comes after a reload, the client it names is judged by the
     * listener's rules in force then, not by those of the accept (failed before: forwarded).
     */
    /**
     * Sends {@code early} a header naming 192.0.2.7 and then HELLO_A, which the proxy refuses;
     * returns the connection's line.
     */
    private JsonNode headerAndHelloRefused(Socket early) throws Exception {
        early.getOutputStream().write("PROXY TCP4 192.0.2.7 127.0.0.1 40000 443\r\n".getBytes(StandardCharsets.US_ASCII));
        try {
            early.getOutputStream().write(HELLO_A);
            assertClosedByTheProxy(early);
        } catch (java.net.SocketException reset) {
            // Closed on the header, with the hello unread or unsent: the kernel resets, as good
            // as a close here (the line says why it closed).
        }
        return proxy.nextLog();
    }

    @Test
    void aProxyHeaderThatComesAfterAReloadIsJudgedByTheNewRules() throws Exception {
        reload(configText("", PROXY_PROTOCOL, routeA(), routeB()));
        Socket early = acceptedSilentConnection();
        reload(configText("", PROXY_PROTOCOL + "\n    clients: { deny: [\"192.0.2.0/24\"] }", routeA(), routeB()));
        JsonNode line = headerAndHelloRefused(early);
        assertThat(line.get("client").asText()).isEqualTo("192.0.2.7:40000");
        assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("client_not_allowed");
        assertThat(upstream.bytesSoFar()).isEqualTo(HELLO_A.length + HELLO_B.length);
    }

    /**
     * A header that comes after a reload took its balancer out of {@code trusted}, or took the
     * listener's {@code proxy_protocol} away, names no client: the connection is refused as
     * untrusted (failed before: forwarded, judged by the trust of the accept; without
     * {@code proxy_protocol}, by no trust at all).
     */
    @ParameterizedTest
    @ValueSource(strings = {"proxy_protocol: { trusted: [\"10.0.0.0/8\"] }", ""})
    void aProxyHeaderFromABalancerNoLongerTrustedIsRefused(String listenerNow) throws Exception {
        reload(configText("", PROXY_PROTOCOL, routeA(), routeB()));
        Socket early = acceptedSilentConnection();
        reload(configText("", listenerNow, routeA(), routeB()));
        JsonNode line = headerAndHelloRefused(early);
        assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("proxy_protocol_untrusted");
        assertThat(upstream.bytesSoFar()).isEqualTo(HELLO_A.length + HELLO_B.length);
    }

    /**
     * A connection still waiting for its header is not judged by the listener's clients at a
     * reload: its peer is the balancer, not its client. Its header is judged when it comes
     * (failed before: with the reload taking {@code proxy_protocol} away, closed at once as
     * client_not_allowed, the balancer taken for the client).
     */
    @Test
    void aConnectionAwaitingItsHeaderIsNotJudgedByItsBalancersAddress() throws Exception {
        reload(configText("", PROXY_PROTOCOL, routeA(), routeB()));
        Socket early = acceptedSilentConnection();
        reload(configText("", "clients: { deny: [\"127.0.0.0/8\"] }", routeA(), routeB()));
        assertThat(awaitRecheckSummary()).as("the two tunnels of 127.0.0.1").endsWith("by verdict: {client_not_allowed=2}");
        for (int tunnel = 0; tunnel < 2; tunnel++) {
            assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("revoked_by_reload");
        }
        JsonNode line = headerAndHelloRefused(early);
        assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("proxy_protocol_untrusted");
    }

    /** A third tunnel, behind the PROXY {@code header} line: HELLO_A has reached the upstream. */
    private Socket tunnelBehind(String header) throws IOException {
        Socket client = acceptedSilentConnection();
        client.getOutputStream().write(header.getBytes(StandardCharsets.US_ASCII));
        client.getOutputStream().write(HELLO_A);
        await().atMost(Duration.ofSeconds(10)).until(() -> upstream.bytesSoFar() == 2L * HELLO_A.length + HELLO_B.length);
        return client;
    }

    /**
     * A routed connection behind a PROXY {@code UNKNOWN} header keeps its peer as its client, and
     * a reload that denies that peer closes it, as it closes any routed connection of a denied
     * client (a header still awaited is the only case left to the header's own check).
     */
    @Test
    void aRoutedConnectionBehindAnUnknownHeaderIsJudgedByItsPeer() throws Exception {
        reload(configText("", PROXY_PROTOCOL, routeA(), routeB()));
        Socket unknown = tunnelBehind("PROXY UNKNOWN\r\n");
        reload(configText("", PROXY_PROTOCOL + "\n    clients: { deny: [\"127.0.0.0/8\"] }", routeA(), routeB()));
        assertResetByTheProxy(unknown);
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {client_not_allowed=3}");
    }

    /**
     * A client a PROXY header named is only as good as the balancer that sent the header: a
     * reload that takes that balancer out of {@code trusted}, or takes the listener's
     * {@code proxy_protocol} away, closes its clients' tunnels, as one that denies the clients
     * would (failed before: the tunnel stayed open; without {@code proxy_protocol}, until this test).
     */
    @ParameterizedTest
    @ValueSource(strings = {"proxy_protocol: { trusted: [\"10.0.0.0/8\"] }", ""})
    void aBalancerNoLongerTrustedTakesTheTunnelsOfTheClientsItNamedWithIt(String listenerNow) throws Exception {
        reload(configText("", PROXY_PROTOCOL, routeA(), routeB()));
        Socket proxied = tunnelBehind("PROXY TCP4 192.0.2.7 127.0.0.1 40000 443\r\n");
        reload(configText("", listenerNow, routeA(), routeB()));
        assertResetByTheProxy(proxied);
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {proxy_protocol_untrusted=1}");
        JsonNode line = proxy.nextLog();
        assertThat(line.get("client").asText()).isEqualTo("192.0.2.7:40000");
        assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("revoked_by_reload");
        assertThat(upstream.nextReceived(10_000)).as("what the closed tunnel relayed").isEqualTo(HELLO_A);
        assertRelaysOn(clients.get(0), HELLO_A); // its peer is its client: no header vouched for it
    }

    /**
     * A reload that keeps A and refuses B, the witness: the one summary line is written once every
     * event loop has judged its clients, A's included; then A still relays.
     */
    private void assertOnlyBWasClosedAndARelaysOn(String routeA) throws Exception {
        assertOnlyBWasClosedAndARelaysOnThen(routeA, line -> assertThat(line.get("would_reject").isNull()).isTrue());
    }

    private void assertOnlyBWasClosedAndARelaysOnThen(String routeA, Consumer<JsonNode> lineOfA) throws Exception {
        reload(configText("", "", routeA, routeB("clients: { deny: [\"127.0.0.0/8\"] }")));
        assertResetByTheProxy(clients.get(1));
        assertThat(proxy.nextLog().get("sni").asText()).isEqualTo("curl-http11.corpus.test");
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {client_not_allowed=1}");
        assertThat(upstream.nextReceived(10_000)).isEqualTo(HELLO_B);
        assertRelaysOn(clients.get(0), HELLO_A);
        JsonNode line = proxy.nextLog();
        assertThat(line.get("reason").isNull()).isTrue();
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
        lineOfA.accept(line);
    }

    @Test
    void aRouteInAuditModeKeepsItsTunnelsOpenAndReportsWhatEnforceWouldDo() throws Exception {
        assertOnlyBWasClosedAndARelaysOnThen(routeA("mode: audit", "clients: { deny: [\"127.0.0.0/8\"] }"),
                line -> assertThat(line.get("would_reject").asText()).isEqualTo("client_not_allowed"));
        assertThat(proxy.admin("/metrics", null).body()).contains(
                "snigate_policy_would_reject_total{listener=\"127.0.0.1:0\",reason=\"client_not_allowed\",route=\"curl.corpus.test\"} 1.0");
    }

    @Test
    void aRouteSentToAnotherUpstreamKeepsItsTunnelsWhereTheyAre() throws Exception {
        assertOnlyBWasClosedAndARelaysOn(routeA("upstream: \"127.0.0.1:9\""));
    }

    @Test
    void aNameNowMatchedByAWildcardKeepsItsTunnels() throws Exception {
        assertOnlyBWasClosedAndARelaysOn(route("*.corpus.test"));
    }

    @Test
    void aConnectionStillBeingDialedWhenItsRouteGoesIsRejected() throws Exception {
        // The proxy's SYN is dropped, so the dial hangs.
        try (SilentListener full = new SilentListener()) {
            String blackhole = "upstream: \"127.0.0.1:" + full.port() + "\"";
            reload(configText("timeouts: { connect: 30s }", "", routeA(), routeB(), route("curl-http2.corpus.test", blackhole)));
            Socket dialing = openTunnel(HELLO_C);
            clients.add(dialing);
            await().atMost(Duration.ofSeconds(10)).until(full::isBeingDialed); // routed and dialing
            reload(configText("timeouts: { connect: 30s }", "", routeA(), routeB()));
            assertResetByTheProxy(dialing);
            // The dial goes with it (failed before: its SYNs went on until the connect timeout,
            // and a SYN answered then reached what the reload refused).
            await().atMost(Duration.ofSeconds(5)).until(() -> !full.isBeingDialed());
            JsonNode line = proxy.nextLog();
            assertThat(line.get("sni").asText()).isEqualTo("curl-http2.corpus.test");
            assertThat(line.get("reason").asText()).isEqualTo("revoked_by_reload");
            assertThat(line.get("outcome").asText()).isEqualTo("rejected");
            assertThat(line.get("upstream").asText()).isEqualTo("127.0.0.1:" + full.port());
            assertThat(awaitRecheckSummary()).endsWith("by verdict: {no_route=1}");
            assertThat(proxy.admin("/metrics", null).body()).contains("snigate_connections_total{listener=\"127.0.0.1:0\","
                    + "outcome=\"rejected\",reason=\"revoked_by_reload\",route=\"curl-http2.corpus.test\"} 1.0");
        }
        assertRelaysOn(clients.get(0), HELLO_A);
    }

    /**
     * A name with two addresses, the first of which drops the proxy's SYNs: while the first is
     * dialed, a reload takes the second out of allow_destinations. The recheck keeps the
     * connection (the address being dialed is still allowed), and the dial does not move on to
     * the second: it ends as revoked_by_reload, the second never dialed.
     */
    @Test
    void anAddressAReloadForbadeIsNotDialedAfterTheOneBeingDialed() throws Exception {
        try (SilentListener first = new SilentListener();
                RecordingServer second = new RecordingServer(InetAddress.getByName("127.0.0.2"), first.port())) {
            dns.answerAll("curl-http2.corpus.test",
                    List.of(InetAddress.getByName("127.0.0.1"), InetAddress.getByName("127.0.0.2")), 300);
            String sniRoute = "upstream: \"$sni:" + first.port() + "\"";
            String timeouts = "timeouts: { connect: 6s }"; // 3 s for each address
            reload(configText(timeouts, "", routeA(), routeB(),
                    route("curl-http2.corpus.test", sniRoute, "allow_destinations: [\"127.0.0.0/8\"]")));
            Socket dialing = openTunnel(HELLO_C);
            clients.add(dialing);
            await().atMost(Duration.ofSeconds(10)).until(first::isBeingDialed);
            reload(configText(timeouts, "", routeA(), routeB(),
                    route("curl-http2.corpus.test", sniRoute, "allow_destinations: [\"127.0.0.1/32\"]")));
            ProxyHarness.readUntilClosed(dialing);
            JsonNode line = proxy.nextLog();
            assertThat(line.get("sni").asText()).isEqualTo("curl-http2.corpus.test");
            assertThat(line.get("reason").asText()).isEqualTo("revoked_by_reload");
            assertThat(line.get("upstream").asText()).isEqualTo("127.0.0.1:" + first.port());
            assertThat(second.accepted()).as("the address the reload forbade").isZero();
        }
        assertRelaysOn(clients.get(0), HELLO_A);
    }

    /** Opens a third tunnel, for curl-http2.corpus.test, and waits until the upstream has its ClientHello. */
    private Socket openTunnelC() throws Exception {
        Socket c = openTunnel(HELLO_C);
        clients.add(c);
        long expected = HELLO_A.length + HELLO_B.length + HELLO_C.length;
        await().atMost(Duration.ofSeconds(10)).until(() -> upstream.bytesSoFar() == expected);
        return c;
    }

    @Test
    void aNameAuditModeForwardedIsClosedWhenThePolicyIsEnforced() throws Exception {
        // Audit mode's fallback for a name no route matches has no route label of its own.
        String audit = "policy: { mode: audit, audit_upstream: \"127.0.0.1:" + upstream.port() + "\" }";
        reload(configText(audit, "", routeA(), routeB()));
        Socket c = openTunnelC();
        reload(configText("", "", routeA(), routeB()));
        assertResetByTheProxy(c);
        JsonNode line = proxy.nextLog();
        assertThat(line.get("sni").asText()).isEqualTo("curl-http2.corpus.test");
        assertThat(line.get("route").isNull()).isTrue();
        assertThat(line.get("would_reject").asText()).isEqualTo("no_route");
        assertThat(line.get("reason").asText()).isEqualTo("revoked_by_reload");
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {no_route=1}");
    }

    @Test
    void anAddressTheDestinationPolicyNoLongerAllowsIsClosed() throws Exception {
        String sniRoute = "upstream: \"$sni:" + upstream.port() + "\"";
        reload(configText("", "", routeA(), routeB(),
                route("curl-http2.corpus.test", sniRoute, "allow_destinations: [\"127.0.0.0/8\"]")));
        Socket c = openTunnelC();
        reload(configText("", "", routeA(), routeB(), route("curl-http2.corpus.test", sniRoute)));
        assertResetByTheProxy(c);
        JsonNode line = proxy.nextLog();
        assertThat(line.get("sni").asText()).isEqualTo("curl-http2.corpus.test");
        assertThat(line.get("reason").asText()).isEqualTo("revoked_by_reload");
        assertThat(line.get("upstream").asText()).isEqualTo("127.0.0.1:" + upstream.port());
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {forbidden_destination=1}");
        assertThat(upstream.nextReceived(10_000)).isEqualTo(HELLO_C);
        assertRelaysOn(clients.get(0), HELLO_A);
    }

    /** The route of C to its name at the upstream's port, with {@code lines}. */
    private String sniRouteC(String... lines) {
        String[] all = Arrays.copyOf(lines, lines.length + 1);
        all[lines.length] = "upstream: \"$sni:" + upstream.port() + "\"";
        return route("curl-http2.corpus.test", all);
    }

    /** C, routed to its name with loopback allowed, its DNS answer held by the server. */
    private Socket routedWhileItsAnswerIsHeld() throws Exception {
        dns.hold("curl-http2.corpus.test", InetAddress.getLoopbackAddress(), 300);
        reload(configText("", "", routeA(), routeB(), sniRouteC("allow_destinations: [\"127.0.0.0/8\"]")));
        Socket resolving = openTunnel(HELLO_C);
        clients.add(resolving);
        await().atMost(Duration.ofSeconds(10)).until(() -> dns.queriesFor("curl-http2.corpus.test") > 0); // routed
        return resolving;
    }

    @Test
    void anAnswerThatComesAfterAReloadIsJudgedByTheNewRoute() throws Exception {
        Socket resolving = routedWhileItsAnswerIsHeld();
        reload(configText("", "", routeA(), routeB(), sniRouteC()));
        dns.release();
        // Refused as a new connection would be: the TLS alert access_denied, then the close.
        assertThat(ProxyHarness.readUntilClosed(resolving)).containsExactly(21, 3, 1, 0, 2, 2, 49);
        JsonNode line = proxy.nextLog();
        assertThat(line.get("sni").asText()).isEqualTo("curl-http2.corpus.test");
        assertThat(line.get("reason").asText()).isEqualTo("forbidden_destination");
        assertThat(line.get("outcome").asText()).isEqualTo("rejected");
        assertThat(upstream.accepted()).isEqualTo(2); // A and B only: C was never dialed
        assertRelaysOn(clients.get(0), HELLO_A);
    }

    /** With recheck_on_reload: false, a connection routed before the reload is dialed as it was routed. */
    @Test
    void anAnswerThatComesAfterAReloadThatRechecksNothingIsJudgedByTheRouteItWasGiven() throws Exception {
        Socket resolving = routedWhileItsAnswerIsHeld();
        reload(configText("policy: { recheck_on_reload: false }", "", routeA(), routeB(), sniRouteC()));
        dns.release();
        assertRelaysOn(resolving, HELLO_C);
    }

    @Test
    void anAddressTheConfigChoseIsNotJudgedAsTheClientsWhenTheRouteNowLetsTheClientChoose() throws Exception {
        reload(configText("", "", routeA(), routeB(), route("curl-http2.corpus.test")));
        Socket c = openTunnelC();
        // The same name now goes to $sni, with no allow_destinations: a new dial to loopback would
        // be refused, but this connection's address was the config's, so it keeps it.
        reload(configText("", "", routeA(), routeB("clients: { deny: [\"127.0.0.0/8\"] }"),
                route("curl-http2.corpus.test", "upstream: \"$sni:" + upstream.port() + "\"")));
        assertResetByTheProxy(clients.get(1));
        assertThat(proxy.nextLog().get("sni").asText()).isEqualTo("curl-http11.corpus.test");
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {client_not_allowed=1}");
        assertThat(upstream.nextReceived(10_000)).isEqualTo(HELLO_B);
        assertRelaysOn(c, HELLO_C);
    }

    @Test
    void recheckOnReloadFalseLeavesEveryTunnelAsItWas() throws Exception {
        reload(configText("policy: { recheck_on_reload: false }", "", routeB()));
        // The witness: a reload that rechecks and refuses only B. Its tasks run after any the
        // first reload queued (each loop runs its tasks in order), so A's closing would show by then.
        reload(configText("", "", routeA(), routeB("clients: { deny: [\"127.0.0.0/8\"] }")));
        assertResetByTheProxy(clients.get(1));
        assertThat(awaitRecheckSummary()).endsWith("by verdict: {client_not_allowed=1}");
        assertThat(proxy.nextLog().get("sni").asText()).isEqualTo("curl-http11.corpus.test");
        assertThat(upstream.nextReceived(10_000)).isEqualTo(HELLO_B);
        assertRelaysOn(clients.get(0), HELLO_A);
        assertThat(proxy.nextLog().get("reason").isNull()).isTrue();
    }
}
