package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.core.Reason;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import io.snigate.testing.SilentListener;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TestDnsServer;
import io.snigate.testing.TlsServer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every reason in the vocabulary, produced by a real situation: a real client doing the wrong
 * thing, a real closed port, a real DNS server answering NXDOMAIN. Each test asserts on the
 * reason in the access log and on what the client saw. The reasons a situation here cannot make
 * (a firewall's interception, a tunnel's end) are produced by the tests {@link #ELSEWHERE} names;
 * after the class, every {@link Reason} must have been asserted here or be named there.
 */
@ExtendWith(NettyLeaks.class)
class RejectionReasonsTest {
    private static final String NAME = "app.e2e.test";
    private static TestCerts certs;
    private static TlsServer server;
    private static TestDnsServer dns;
    private static ProxyHarness proxy;
    private static SilentListener fullBacklog;
    private static int closedPort;
    /** The reasons the tests of this class asserted. */
    private static final Set<Reason> ASSERTED = EnumSet.noneOf(Reason.class);
    /** Reasons produced by tests elsewhere, by the class and method that assert them. */
    private static final Map<Reason, String> ELSEWHERE = Map.ofEntries(
            Map.entry(Reason.CLIENT_NOT_ALLOWED, "ClientRulesTest#aRoutesRulesAnswerAccessDeniedAndDenyBeatsAllow"),
            Map.entry(Reason.TLS_VERSION_NOT_ALLOWED, "TlsVersionFloorTest#theTopLevelFloorRefusesAnOlderClientWithProtocolVersion"),
            Map.entry(Reason.ECH_PUBLIC_NAME, "EchTest#anOuterHelloWithAListedCoverNameIsRefusedUnlessARouteNamesItExactly"),
            Map.entry(Reason.PARENT_PROXY_REFUSED, "UpstreamDeliveryTest#throughARealSquidParentWithCredentialsRefusedAndUnreachable"),
            Map.entry(Reason.PROXY_PROTOCOL_UNTRUSTED, "ProxyProtocolTest#aPeerOutsideTrustedIsClosedBeforeAByteIsRead"),
            Map.entry(Reason.PROXY_PROTOCOL_INVALID, "ProxyProtocolTest#whatIsNotAWellFormedHeaderIsInvalid"),
            Map.entry(Reason.PROXY_PROTOCOL_TIMEOUT, "ProxyProtocolTest#aPeerThatSendsNothingIsClosedAtTheTimeout"),
            Map.entry(Reason.HEALTH_CHECK, "ProxyProtocolTest#aLocalHeaderAloneIsABalancersHealthCheck"),
            Map.entry(Reason.SNI_DESTINATION_MISMATCH, "TransparentInterceptionTest#originalDstWithVerificationRefusesARogueAddress"),
            Map.entry(Reason.IDLE_TIMEOUT, "RelayBehaviourTest#closesAnIdleTunnelOnBothSides"),
            Map.entry(Reason.HALF_CLOSED_TIMEOUT, "HardeningTest#closesATunnelHalfClosedForTooLong"),
            Map.entry(Reason.DRAIN_TIMEOUT, "HardeningTest#whatIsStillOpenWhenTheDrainRunsOutIsLoggedAsDrainTimeout"),
            Map.entry(Reason.REVOKED_BY_RELOAD, "io.snigate.reload.ReloadRecheckTest#aRouteRemovedClosesItsTunnels"),
            Map.entry(Reason.INTERNAL_ERROR, "io.snigate.route.RouteHandlerTest#anExceptionThrownWhileRoutingClosesTheConnectionAsAnInternalError"),
            Map.entry(Reason.CONNECTION_RESET, "RelayBehaviourTest#endsTheTunnelWhenTheUpstreamResetsMidStream"));

    @BeforeAll
    static void start() throws Exception {
        certs = TestCerts.forNames(NAME, "h2only.e2e.test", "dyn.e2e.test");
        server = new TlsServer(certs, List.of("h2", "http/1.1"));
        dns = new TestDnsServer().behave("missing.dyn.test", TestDnsServer.Behaviour.NXDOMAIN);
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        fullBacklog = new SilentListener();
        proxy = ProxyHarness.start("""
                resolvers: ["%s"]
                timeouts: { preread: 500ms, connect: 1s, idle: 15m }
                routes:
                  - match: "h2only.e2e.test"
                    alpn: ["h2"]
                    upstream: "127.0.0.1:%d"
                  - match: "*.e2e.test"
                    upstream: "127.0.0.1:%d"
                  - match: "*.dyn.test"
                    upstream: "$sni:443"
                  - match: "closed.port.test"
                    upstream: "127.0.0.1:%d"
                  - match: "silent.port.test"
                    upstream: "127.0.0.1:%d"
                """.formatted(dns.hostPort(), server.port(), server.port(), closedPort, fullBacklog.port()));
    }

    /** A failed test may leave its line behind; each test reads only its own. */
    @BeforeEach
    void forgetEarlierLines() throws InterruptedException {
        proxy.drainLog();
    }

    @AfterAll
    static void everyReasonIsProducedByATest() throws Exception {
        for (Map.Entry<Reason, String> test : ELSEWHERE.entrySet()) {
            String[] classAndMethod = test.getValue().split("#");
            // A class named without its package is one of this package's.
            Class<?> testClass = Class.forName(
                    classAndMethod[0].contains(".") ? classAndMethod[0] : "io.snigate.e2e." + classAndMethod[0]);
            assertThat(testClass.getDeclaredMethod(classAndMethod[1]).isAnnotationPresent(Test.class))
                    .as(test.getValue() + " is a test").isTrue();
        }
        Set<Reason> covered = EnumSet.copyOf(ELSEWHERE.keySet());
        covered.addAll(ASSERTED);
        assertThat(covered).as("reasons a test produces").containsExactlyInAnyOrder(Reason.values());
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        server.close();
        dns.close();
        fullBacklog.close();
    }

    private SSLSocket tlsClient(String sni, String... alpn) throws Exception {
        SSLSocket socket = (SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket(proxy.connect(), "127.0.0.1", proxy.port(), true);
        SSLParameters params = socket.getSSLParameters();
        if (sni != null) {
            params.setServerNames(List.of(new SNIHostName(sni)));
        }
        if (alpn.length > 0) {
            params.setApplicationProtocols(alpn);
        }
        socket.setSSLParameters(params);
        return socket;
    }

    /** A real TLS client is refused with {@code alertText}, and the log says {@code reason}. */
    private JsonNode assertHandshakeRefusedWith(String sni, String alertText, String reason, String... alpn)
            throws Exception {
        try (SSLSocket socket = tlsClient(sni, alpn)) {
            assertThatThrownBy(socket::startHandshake)
                    .isInstanceOf(SSLException.class)
                    .hasMessageContaining(alertText);
        }
        return assertReason(reason);
    }

    private JsonNode assertReason(String reason) throws Exception {
        return assertReason(proxy, reason);
    }

    private static JsonNode assertReason(ProxyHarness from, String reason) throws Exception {
        JsonNode log = from.nextLog();
        assertThat(log.get("reason").asText()).as(log.toString()).isEqualTo(reason);
        Reason asserted = Arrays.stream(Reason.values()).filter(r -> r.label().equals(reason)).findFirst().orElseThrow();
        assertThat(log.get("outcome").asText()).as(log.toString()).isEqualTo(asserted.outcome().label());
        ASSERTED.add(asserted);
        return log;
    }

    private byte[] sendAndReadUntilClosed(byte[] bytes) throws Exception {
        try (Socket socket = proxy.connect()) {
            OutputStream out = socket.getOutputStream();
            out.write(bytes);
            out.flush();
            return ProxyHarness.readUntilClosed(socket);
        }
    }

    @Test
    void rejectsTlsWithoutSniWithHandshakeFailureAlert() throws Exception {
        assertHandshakeRefusedWith(null, "handshake_failure", "no_sni");
    }

    @Test
    void rejectsUnknownNameWithUnrecognizedNameAlert() throws Exception {
        int handshakesBefore = server.negotiatedProtocols().size();
        JsonNode log = assertHandshakeRefusedWith("nobody.example.com", "unrecognized_name", "no_route");
        assertThat(log.get("outcome").asText()).isEqualTo("rejected");
        assertThat(log.get("sni").asText()).isEqualTo("nobody.example.com");
        assertThat(server.negotiatedProtocols()).as("handshakes at the TLS server").hasSize(handshakesBefore);
    }

    @Test
    void rejectsClientWhoseAlpnTheRouteDoesNotAllow() throws Exception {
        assertHandshakeRefusedWith("h2only.e2e.test", "no_application_protocol", "alpn_not_allowed", "http/1.1");
    }

    @Test
    void rejectsConnectRequestWithClearLogAndHttpAnswer() throws Exception {
        ProcessRunner.Result curl = ProcessRunner.run(30, "curl", "-sS", "--max-time", "10",
                "-x", "http://127.0.0.1:" + proxy.port(), "https://" + NAME + "/");
        assertThat(curl.exitCode()).isNotZero();
        assertThat(curl.stderr()).contains("405");
        assertReason("connect_request");
        byte[] answer = sendAndReadUntilClosed("CONNECT app.e2e.test:443 HTTP/1.1\r\nHost: app.e2e.test:443\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
        assertThat(new String(answer, StandardCharsets.US_ASCII))
                .startsWith("HTTP/1.1 405 Method Not Allowed\r\n")
                .contains("This port is a transparent TLS proxy, not an HTTP proxy");
        assertReason("connect_request");
    }

    @Test
    void rejectsPlainHttpSilently() throws Exception {
        ProcessRunner.Result curl = ProcessRunner.run(30, "curl", "-sS", "--max-time", "10",
                "http://127.0.0.1:" + proxy.port() + "/");
        assertThat(curl.exitCode()).isNotZero();
        assertReason("plain_http");
    }

    /** A balancer sending the PROXY protocol to a listener without proxy_protocol: a misconfiguration named as such. */
    @Test
    void aProxyHeaderOnAListenerWithoutProxyProtocolIsInvalid() throws Exception {
        ProcessRunner.Result curl = ProcessRunner.run(30, "curl", "-sS", "--max-time", "10", "--haproxy-protocol",
                "--connect-to", "a.e2e.test:443:127.0.0.1:" + proxy.port(), "https://a.e2e.test/");
        assertThat(curl.exitCode()).isNotZero();
        assertReason("proxy_protocol_invalid");
    }

    @Test
    void rejectsOtherProtocolsAsNotTls() throws Exception {
        assertThat(sendAndReadUntilClosed("SSH-2.0-OpenSSH_9.2\r\n".getBytes(StandardCharsets.US_ASCII))).isEmpty();
        assertReason("not_tls");
    }

    @Test
    void rejectsHelloWhoseLengthsDoNotAddUpAsMalformed() throws Exception {
        // A handshake record whose ClientHello claims a 3-byte body but carries a 40-byte session id.
        byte[] hello = {22, 3, 1, 0, 7, 1, 0, 0, 3, 3, 3, 40};
        byte[] answer = sendAndReadUntilClosed(hello);
        assertThat(answer).containsExactly(21, 3, 1, 0, 2, 2, 50);
        assertReason("malformed");
    }

    @Test
    void rejectsIpLiteralSniFromOpensslAsInvalidSni() throws Exception {
        ProcessRunner.Result openssl = ProcessRunner.runWithInput(30, new byte[0],
                "openssl", "s_client", "-connect", "127.0.0.1:" + proxy.port(), "-servername", "10.1.2.3");
        assertThat(openssl.stdout() + openssl.stderr()).contains("unrecognized name");
        JsonNode log = assertReason("invalid_sni");
        assertThat(log.get("sni").asText()).isEqualTo("10.1.2.3");
    }

    @Test
    void rejectsClientHelloOverTheSizeLimitBeforeBufferingIt() throws Exception {
        // The handshake header declares a 65 536-byte ClientHello; the limit is 16 KiB.
        byte[] header = {22, 3, 1, 0x40, 0, 1, 1, 0, 0};
        byte[] answer = sendAndReadUntilClosed(header);
        assertThat(answer).containsExactly(21, 3, 1, 0, 2, 2, 40);
        assertReason("client_hello_too_large");
    }

    @Test
    void closesSilentClientAtPrereadTimeout() throws Exception {
        long started = System.nanoTime();
        try (Socket socket = proxy.connect()) {
            socket.getOutputStream().write(22);
            assertThat(ProxyHarness.readUntilClosed(socket)).isEmpty();
        }
        assertThat((System.nanoTime() - started) / 1_000_000).isBetween(400L, 5_000L);
        assertReason("preread_timeout");
    }

    @Test
    void logsClientThatHangsUpBeforeSendingAnything() throws Exception {
        proxy.connect().close();
        assertReason("client_closed");
    }

    @Test
    void failsWithDnsFailureWhenTheNameDoesNotResolve() throws Exception {
        assertHandshakeRefusedWith("missing.dyn.test", "internal_error", "dns_failure");
        assertThat(dns.queries()).isPositive();
    }

    @Test
    void failsWithUpstreamUnreachableOnAClosedPort() throws Exception {
        JsonNode log = assertHandshakeRefusedWith("closed.port.test", "internal_error", "upstream_unreachable");
        assertThat(log.get("outcome").asText()).isEqualTo("failed");
        assertThat(log.get("upstream").asText()).as("the address that refused").isEqualTo("127.0.0.1:" + closedPort);
    }

    @Test
    void failsWithUpstreamTimeoutWhenTheSynIsNeverAnswered() throws Exception {
        JsonNode log = assertHandshakeRefusedWith("silent.port.test", "internal_error", "upstream_timeout");
        assertThat(log.get("upstream").asText()).as("the address that never answered")
                .isEqualTo("127.0.0.1:" + fullBacklog.port());
    }

    /**
     * A client that resets its connection while its upstream is dialed is logged as having left,
     * not against the upstream: on io_uring its channel reads nothing meanwhile, and the stage
     * asks its socket once the dial runs out of time. One that only half-closes may still be
     * waiting for the answer: it gets the alert, and the upstream's timeout is logged; one that
     * resets after its FIN has left (failed before: upstream_timeout).
     */
    @Test
    void aClientThatResetsWhileItsUpstreamIsDialedIsLoggedAsClosedNotAsTheUpstreamsTimeout() throws Exception {
        try (Socket socket = dialingSilentPort()) {
            socket.setSoLinger(true, 0);
        }
        JsonNode log = assertReason("client_closed");
        assertThat(log.get("sni").asText()).as(log.toString()).isEqualTo("silent.port.test");

        try (Socket socket = dialingSilentPort()) {
            socket.shutdownOutput();
            socket.setSoTimeout(10_000);
            assertThat(ProxyHarness.readUntilClosed(socket)).as("the alert, read after the client's FIN")
                    .containsExactly(21, 3, 3, 0, 2, 2, 80);
        }
        assertReason("upstream_timeout");

        try (Socket socket = dialingSilentPort()) {
            socket.shutdownOutput();
            socket.setSoLinger(true, 0);
        }
        assertThat(assertReason("client_closed").get("sni").asText()).as("a reset after the FIN").isEqualTo("silent.port.test");
    }

    /** A connection whose hello for {@code silent.port.test} the pre-read has taken: its upstream is being dialed. */
    private static Socket dialingSilentPort() throws Exception {
        long prereads = prereadsDone();
        Socket socket = proxy.connect();
        socket.getOutputStream().write(helloFor("silent.port.test"));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (prereadsDone() == prereads) {
            assertThat(System.nanoTime()).as("the pre-read took the hello").isLessThan(deadline);
            Thread.sleep(10);
        }
        return socket;
    }

    private static long prereadsDone() {
        return proxy.metrics().registry().get("snigate.preread.duration").timer().count();
    }

    /** The ClientHello the JDK's client sends for {@code name}. */
    private static byte[] helloFor(String name) throws Exception {
        SSLEngine engine = certs.clientContext().createSSLEngine(name, 443);
        engine.setUseClientMode(true);
        SSLParameters params = engine.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(name)));
        engine.setSSLParameters(params);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        return Arrays.copyOf(out.array(), out.position());
    }

    @Test
    void closesAConnectionOverTheLimitAtAccept() throws Exception {
        try (ProxyHarness limited = ProxyHarness.start("""
                limits: { max_connections_per_client: 1 }
                default: "127.0.0.1:%d"
                """.formatted(server.port()));
                Socket first = limited.connect();
                Socket second = limited.connect()) {
            assertThat(ProxyHarness.readUntilClosed(second)).as("closed at once, before a byte").isEmpty();
            assertReason(limited, "connection_limit");
        }
    }

    @Test
    void refusesANameThatResolvesToAPrivateAddressAsForbidden() throws Exception {
        dns.answer("private.dyn.test", InetAddress.getByName("10.1.2.3"), 60);
        assertHandshakeRefusedWith("private.dyn.test", "access_denied", "forbidden_destination");
    }

    @Test
    void refusesAnUpstreamThatIsTheProxysOwnListenerAsALoop() throws Exception {
        try (ProxyHarness looping = ProxyHarness.start("default: \"127.0.0.1:$port\"\n")) {
            try (Socket client = looping.connect()) {
                client.getOutputStream().write(io.snigate.testing.Corpus.resource("corpus/captured/curl-default.bin"));
                assertThat(ProxyHarness.readUntilClosed(client)).as("alert internal_error")
                        .containsExactly(21, 3, 1, 0, 2, 2, 80);
            }
            assertReason(looping, "loop_detected");
        }
    }

    @Test
    void closesADirectConnectionToARedirectListenerAtAccept() throws Exception {
        try (ProxyHarness redirect = ProxyHarness.start("""
                listen:
                  - { address: "127.0.0.1:0", original_dst: redirect }
                default: "$sni:$port"
                """)) {
            try (Socket client = redirect.connect()) {
                assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
            }
            assertReason(redirect, "no_original_destination");
        }
    }

    /**
     * A {@code $original_dst} route reached through a listener that knows no original destination
     * (a reload took its {@code original_dst} away, another listener keeps the route valid) has
     * read the ClientHello: the client gets an alert, as for any route that cannot be served
     * (failed before: a bare close, as at an accept).
     */
    @Test
    void anOriginalDestinationRouteOnAListenerThatKnowsNoneIsRefusedWithAnAlert() throws Exception {
        try (ProxyHarness mixed = ProxyHarness.start("""
                listen:
                  - "127.0.0.1:0"
                  - { address: "127.0.0.2:0", original_dst: redirect }
                default: "$original_dst"
                """)) {
            try (Socket client = mixed.connect()) {
                client.getOutputStream().write(io.snigate.testing.Corpus.resource("corpus/captured/curl-default.bin"));
                assertThat(ProxyHarness.readUntilClosed(client)).as("alert internal_error")
                        .containsExactly(21, 3, 1, 0, 2, 2, 80);
            }
            assertThat(assertReason(mixed, "no_original_destination").get("sni").isNull()).isFalse();
        }
    }
}
