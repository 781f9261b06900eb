package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import io.snigate.testing.Corpus;
import io.snigate.testing.FakeUpstream;
import io.snigate.testing.LoopbackPorts;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Receiving the PROXY protocol: snigate behind a real HAProxy that sends {@code send-proxy-v2}
 * (with a CRC32C), behind curl's {@code --haproxy-protocol} (v1), and behind hand-made headers,
 * whole and one byte per write; and every way a header can be wrong.
 */
@ExtendWith(NettyLeaks.class)
class ProxyProtocolTest {
    private static final String NAME = "app.e2e.test";
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test
    private static TestCerts certs;
    private static TlsServer server;
    private ProxyHarness proxy;
    private Process haproxy;

    @TempDir
    static Path dir;

    @BeforeAll
    static void startServer() throws Exception {
        certs = TestCerts.forNames(NAME);
        server = new TlsServer(certs, List.of("h2", "http/1.1"));
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @AfterEach
    void stop() throws Exception {
        if (haproxy != null) {
            haproxy.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    private void startProxy(String proxyProtocol, String limits) throws Exception {
        startProxy(proxyProtocol, limits, "{}");
    }

    private void startProxy(String proxyProtocol, String limits, String timeouts) throws Exception {
        proxy = ProxyHarness.start("""
                listen:
                  - { address: "127.0.0.1:0", proxy_protocol: %s }
                limits: %s
                timeouts: %s
                routes:
                  - match: ["*.e2e.test", "*.corpus.test"]
                    upstream: "127.0.0.1:%d"
                """.formatted(proxyProtocol, limits, timeouts, server.port()));
    }

    private void startProxy() throws Exception {
        startProxy("{ trusted: [\"127.0.0.0/8\"], timeout: 2s }", "{}");
    }

    @Test
    void behindARealHaproxySendingV2WithACrcTheClientIsTheOneHaproxySaw() throws Exception {
        startProxy();
        int haproxyPort = LoopbackPorts.free();
        startHaproxy("haproxy.cfg", """
                frontend tls
                  bind 127.0.0.1:%d
                  default_backend snigate
                backend snigate
                  server snigate 127.0.0.1:%d send-proxy-v2 proxy-v2-options crc32c
                """.formatted(haproxyPort, proxy.port()));
        await().atMost(Duration.ofSeconds(20)).until(() -> LoopbackPorts.accepts(haproxyPort));

        try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), haproxyPort, InetAddress.getByName("127.0.0.5"), 0);
                SSLSocket tls = tlsOver(tcp)) {
            tls.startHandshake();
            assertThat(tls.getSession().getPeerCertificates()[0]).isEqualTo(certs.certificate());
        }
        JsonNode line = proxy.nextLog();
        if (line.get("sni").isNull()) {
            line = proxy.nextLog(); // the line of the readiness probe's connection came first
        }
        assertThat(line.get("outcome").asText()).as(line.toString()).isEqualTo("forwarded");
        assertThat(line.get("client").asText()).startsWith("127.0.0.5:");
        assertThat(line.get("peer").asText()).startsWith("127.0.0.1:");
        assertThat(line.get("original_dst").asText()).as("where the client was going: HAProxy's front")
                .isEqualTo("127.0.0.1:" + haproxyPort);
    }

    @Test
    void curlWithHaproxyProtocolCompletesItsHandshake() throws Exception {
        startProxy();
        Path ca = Files.writeString(dir.resolve("ca.pem"), certs.pem());
        ProcessRunner.Result curl = ProcessRunner.run(30, "curl", "-sS", "--http1.1",
                "--haproxy-protocol", "--cacert", ca.toString(), "--max-time", "10",
                "--connect-to", NAME + ":443:127.0.0.1:" + proxy.port(), "https://" + NAME + "/");
        assertThat(curl.exitCode()).as(curl.stderr()).isZero();
        assertThat(curl.stdout()).isEqualTo("hello over http/1.1\n");
        JsonNode line = proxy.nextLog();
        assertThat(line.get("sni").asText()).isEqualTo(NAME);
        assertThat(line.get("outcome").asText()).as(line.toString()).isEqualTo("forwarded");
        assertThat(line.get("client").asText()).isEqualTo(line.get("peer").asText());
    }

    @Test
    void headersOneBytePerWriteThenAHelloAreForwardedWithTheHeadersClient() throws Exception {
        startProxy();
        byte[] v1 = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] v2 = v2Header(HAProxyCommand.PROXY, "2001:db8::7", List.of());
        Map<byte[], List<String>> clientAndFrontOf = new LinkedHashMap<>();
        clientAndFrontOf.put(v1, List.of("192.0.2.7:40000", "198.51.100.1:443"));
        clientAndFrontOf.put(v2, List.of("[2001:db8::7]:40000", "[2001:db8::1]:443"));
        for (Map.Entry<byte[], List<String>> sent : clientAndFrontOf.entrySet()) {
            byte[] header = sent.getKey();
            try (Socket client = proxy.connect()) {
                OutputStream out = client.getOutputStream();
                for (byte b : header) {
                    out.write(b);
                    out.flush();
                }
                out.write(HELLO);
                client.shutdownOutput();
                ProxyHarness.readUntilClosed(client);
            }
            JsonNode line = proxy.nextLog();
            assertThat(line.get("sni").asText()).isEqualTo("curl.corpus.test");
            assertThat(line.get("client").asText()).isEqualTo(sent.getValue().get(0));
            assertThat(line.get("peer").asText()).startsWith("127.0.0.1:");
            assertThat(line.get("original_dst").asText()).as("the header's destination").isEqualTo(sent.getValue().get(1));
            assertThat(line.get("bytes_from_client").asLong()).as("the header is not relayed").isEqualTo(HELLO.length);
        }
    }

    @Test
    void aHeaderAndARefusedHelloInOneWriteGetTheAlertAndALingeringClose() throws Exception {
        startProxy();
        byte[] header = v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of());
        byte[] noSni = Corpus.resource("corpus/crafted/no-sni-curl.bin");
        byte[] both = java.util.Arrays.copyOf(header, header.length + noSni.length);
        System.arraycopy(noSni, 0, both, header.length, noSni.length);
        try (Socket client = proxy.connect()) {
            client.setSoTimeout(5_000);
            OutputStream out = client.getOutputStream();
            out.write(both);
            byte[] alert = client.getInputStream().readNBytes(7);
            assertThat(alert[0]).as("an alert record").isEqualTo((byte) 21);
            assertThat(alert[6]).as("handshake_failure").isEqualTo((byte) 40);
            assertThat(client.getInputStream().read()).as("then the proxy's FIN").isEqualTo(-1);
            // A lingering close reads and drops what the client still sends; a closed socket
            // would answer it with a reset (on loopback within the write), and the next write fails.
            for (int i = 0; i < 5; i++) {
                out.write(new byte[1024]);
            }
        }
        assertReason("no_sni");
    }

    @Test
    void aPeerOutsideTrustedIsClosedBeforeAByteIsRead() throws Exception {
        startProxy("{ trusted: [\"127.0.0.9/32\", \"::1/128\"] }", "{}");
        try (Socket client = proxy.connect()) {
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
        }
        assertReason("proxy_protocol_untrusted");
    }

    @Test
    void aPeerThatSendsNothingIsClosedAtTheTimeout() throws Exception {
        startProxy("{ trusted: [\"127.0.0.0/8\"], timeout: 300ms }", "{}");
        long started = System.nanoTime();
        try (Socket client = proxy.connect()) {
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
        }
        assertThat((System.nanoTime() - started) / 1_000_000).isBetween(250L, 5_000L);
        assertReason("proxy_protocol_timeout");
        assertThat(proxy.admin("/metrics", null).body()).as("no pre-read to time")
                .contains("snigate_preread_duration_seconds_count 0");
    }

    /**
     * The header and the ClientHello each have their own timeout, one after the other, as nginx's
     * proxy_protocol_timeout and preread_timeout: a header slower than {@code timeouts.preread}
     * but within the listener's timeout is waited for (failed before: closed at the pre-read's
     * 500 ms as preread_timeout), and the pre-read's clock starts once the header is in.
     */
    @Test
    void theHeaderAndTheHelloEachHaveTheirOwnTimeout() throws Exception {
        startProxy("{ trusted: [\"127.0.0.0/8\"], timeout: 2s }", "{}", "{ preread: 500ms }");
        long started = System.nanoTime();
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write("PROXY TCP4 192.0.2.7".getBytes(StandardCharsets.US_ASCII));
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
        }
        assertThat((System.nanoTime() - started) / 1_000_000).as("ms to the close").isGreaterThanOrEqualTo(1_900L);
        assertReason("proxy_protocol_timeout");

        try (Socket client = proxy.connect()) {
            Thread.sleep(800); // the header comes later than the pre-read's timeout after the accept
            client.getOutputStream().write(v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of()));
            long headerSent = System.nanoTime();
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
            assertThat((System.nanoTime() - headerSent) / 1_000_000).as("ms from the header to the close")
                    .isGreaterThanOrEqualTo(400L);
        }
        JsonNode line = proxy.nextLog();
        assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("preread_timeout");
        assertThat(line.get("client").asText()).isEqualTo("192.0.2.7:40000");
    }

    /**
     * A v1 line shorter than the shortest valid one ({@code "PROXY UNKNOWN\r\n"}) is refused at once.
     * (Failed before: let through to Netty's decoder, which waits for 13 bytes and refuses nothing
     * shorter, the connection ended at the pre-read's timeout.)
     */
    @Test
    void aTooShortV1LineIsInvalidAtOnce() throws Exception {
        startProxy("{ trusted: [\"127.0.0.0/8\"], timeout: 5s }", "{}", "{ preread: 5s }");
        for (String line : List.of("PROXY \r\n", "PROXY TCP4\r\n")) {
            long started = System.nanoTime();
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(line.getBytes(StandardCharsets.US_ASCII));
                readUntilClosedOrReset(client);
            }
            assertReason("proxy_protocol_invalid");
            assertThat((System.nanoTime() - started) / 1_000_000).as("ms to the close").isLessThan(4_000L);
        }
    }

    /**
     * Behind a balancer, a header sent on to the upstream names one hop: the client and the
     * address it dialed, both from the header received, as HAProxy passes them on. (Failed
     * before: the destination was snigate's own listening address and port.)
     */
    @Test
    void aHeaderSentOnUpstreamNamesTheDestinationTheReceivedOneNamed() throws Exception {
        String expected = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n";
        try (FakeUpstream upstream = new FakeUpstream(socket -> assertThat(
                new String(socket.getInputStream().readNBytes(expected.length()), StandardCharsets.US_ASCII))
                .as("the header sent upstream").isEqualTo(expected))) {
            proxy = ProxyHarness.start("""
                    listen:
                      - { address: "127.0.0.1:0", proxy_protocol: { trusted: ["127.0.0.0/8"] } }
                    routes:
                      - match: "*.corpus.test"
                        upstream: "127.0.0.1:%d"
                        send_proxy_protocol: v1
                    """.formatted(upstream.port()));
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of()));
                client.getOutputStream().write(HELLO);
                upstream.verify(Duration.ofSeconds(10));
            }
        }
        assertThat(proxy.nextLog().get("client").asText()).isEqualTo("192.0.2.7:40000");
    }

    @Test
    void whatIsNotAWellFormedHeaderIsInvalid() throws Exception {
        startProxy();
        byte[] crcOk = v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of(crcTlv()));
        byte[] crcWrong = crcOk.clone();
        crcWrong[crcWrong.length - 1] ^= 1;
        byte[] oversized = v2Header(HAProxyCommand.PROXY, "192.0.2.7",
                List.of(new HAProxyTLV((byte) 0x04, Unpooled.wrappedBuffer(new byte[5000]))));
        List<byte[]> invalid = List.of(
                HELLO, // no header at all: the spec forbids guessing
                "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
                "PROXY TCP4 999.0.2.7 198.51.100.1 40000 443\r\n".getBytes(StandardCharsets.US_ASCII), // Netty's decoder refuses it
                ("PROXY TCP4 192.0.2.7 198.51.100.1 40000 443" + " ".repeat(80) + "\r\n").getBytes(StandardCharsets.US_ASCII),
                // Ports with a sign or a leading zero, which HAProxy and nginx refuse and Netty took.
                "PROXY TCP4 192.0.2.7 198.51.100.1 +5555 443\r\n".getBytes(StandardCharsets.US_ASCII),
                "PROXY TCP4 192.0.2.7 198.51.100.1 5555 0443\r\n".getBytes(StandardCharsets.US_ASCII),
                withCrc(crcWrong),
                oversized);
        for (byte[] bytes : invalid) {
            try (Socket client = proxy.connect()) {
                try {
                    client.getOutputStream().write(bytes);
                    client.getOutputStream().write(HELLO);
                } catch (java.net.SocketException closedAlready) {
                    // Refused on the first bytes, before the rest was written: what this test wants.
                }
                readUntilClosedOrReset(client);
            }
            JsonNode line = proxy.nextLog();
            assertThat(line.get("reason").asText()).as(new String(bytes, 0, Math.min(40, bytes.length),
                    StandardCharsets.ISO_8859_1) + " -> " + line).isEqualTo("proxy_protocol_invalid");
        }
        // The same header with its right checksum passes.
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(withCrc(crcOk));
            client.getOutputStream().write(HELLO);
            client.shutdownOutput();
            ProxyHarness.readUntilClosed(client);
        }
        assertThat(proxy.nextLog().get("client").asText()).isEqualTo("192.0.2.7:40000");
    }

    /** Sends {@code bytes}, then closes: with a reset, or with a FIN after which the proxy closes without a byte. */
    private void sendThenClose(byte[] bytes, boolean reset) throws Exception {
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(bytes);
            if (reset) {
                client.setSoLinger(true, 0);
            } else {
                client.shutdownOutput();
                assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
            }
        }
    }

    /** A LOCAL header and then a close, by FIN or by reset (HAProxy's checks reset), is a health check. */
    @Test
    void aLocalHeaderAloneIsABalancersHealthCheck() throws Exception {
        startProxy();
        for (boolean reset : new boolean[] {false, true}) {
            sendThenClose(v2Header(HAProxyCommand.LOCAL, "192.0.2.7", List.of()), reset);
            JsonNode line = proxy.nextLog();
            assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("health_check");
            assertThat(line.get("client").asText()).isEqualTo(line.get("peer").asText());
        }
        // A v1 UNKNOWN line means the same as a v2 LOCAL header.
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write("PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII));
            client.shutdownOutput();
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
        }
        assertReason("health_check");
        // The balancer's own connection that sent part of a hello and closed is no health check.
        sendThenFin(v2Header(HAProxyCommand.LOCAL, "192.0.2.7", List.of()), java.util.Arrays.copyOf(HELLO, 40));
        assertReason("malformed");
        // A connection that names a client and then closes is that client's.
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of()));
        }
        assertReason("client_closed");
    }

    /**
     * A trusted balancer's connection that closes, by FIN or reset, before a byte is its check
     * (an AWS NLB's TCP checks send no header) and is {@code health_check} (failed before:
     * {@code client_closed}); one that sent part of a header is {@code proxy_protocol_invalid},
     * however it closed (failed before: {@code client_closed} on a reset).
     */
    @Test
    void aBareConnectionFromTheBalancerIsAHealthCheckAndAPartHeaderIsInvalid() throws Exception {
        startProxy();
        byte[] part = java.util.Arrays.copyOf(v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of()), 10);
        for (byte[] sent : List.of(new byte[0], part)) {
            for (boolean reset : new boolean[] {false, true}) {
                sendThenClose(sent, reset);
                JsonNode line = proxy.nextLog();
                assertThat(line.get("reason").asText()).as(sent.length + " bytes, reset " + reset + ": " + line)
                        .isEqualTo(sent.length == 0 ? "health_check" : "proxy_protocol_invalid");
            }
        }
    }

    /**
     * A LOCAL header followed by a hello is the balancer's own connection, which the PROXY protocol
     * says to accept with the socket's endpoints (a frontend on a UNIX socket, a check that speaks TLS).
     */
    @Test
    void aLocalHeaderThenAHelloIsForwardedAsTheBalancersOwnConnection() throws Exception {
        startProxy();
        sendThenFin(v2Header(HAProxyCommand.LOCAL, "192.0.2.7", List.of()), HELLO);
        JsonNode line = proxy.nextLog();
        assertThat(line.get("outcome").asText()).as(line.toString()).isEqualTo("forwarded");
        assertThat(line.get("sni").asText()).isEqualTo("curl.corpus.test");
        assertThat(line.get("client").asText()).as("the header's addresses discarded").isEqualTo(line.get("peer").asText());
    }

    /**
     * A real HAProxy whose frontend is a UNIX socket sends {@code send-proxy-v2}'s LOCAL before its
     * clients' bytes, and so does its TLS health check: both reach the upstream, and HAProxy keeps
     * the server up.
     */
    @Test
    void behindAHaproxyUnixSocketFrontendAndItsTlsHealthCheck() throws Exception {
        startProxy();
        Path socket = dir.resolve("frontend.sock");
        Files.deleteIfExists(socket);
        startHaproxy("haproxy-unix.cfg", """
                frontend tls
                  bind unix@%s
                  default_backend snigate
                backend snigate
                  server snigate 127.0.0.1:%d send-proxy-v2 check inter 300ms fall 1 rise 1 check-ssl verify none check-sni %s
                """.formatted(socket, proxy.port(), NAME));
        JsonNode check = proxy.nextLog();
        for (int line = 0; line < 20 && !check.get("outcome").asText().equals("forwarded"); line++) {
            check = proxy.nextLog();
        }
        assertThat(check.get("outcome").asText()).as("a health check's line: " + check).isEqualTo("forwarded");
        assertThat(check.get("sni").asText()).isEqualTo(NAME);
        assertThat(check.get("client").asText()).isEqualTo(check.get("peer").asText());

        Path ca = Files.writeString(dir.resolve("ca-unix.pem"), certs.pem());
        ProcessRunner.Result curl = ProcessRunner.run(30, "curl", "-sS", "--http1.1", "--unix-socket", socket.toString(),
                "--cacert", ca.toString(), "--max-time", "10", "https://" + NAME + "/");
        assertThat(curl.exitCode()).as(curl.stderr()).isZero();
        assertThat(curl.stdout()).isEqualTo("hello over http/1.1\n");
    }

    @Test
    void theHeadersSourceIsTheClientThatPerClientLimitsCount() throws Exception {
        startProxy("{ trusted: [\"127.0.0.0/8\"] }", "{ max_connections_per_client: 1 }");
        try (Socket first = proxy.connect()) {
            first.getOutputStream().write(v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of()));
            first.getOutputStream().write(HELLO);
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.admin("/metrics", null).body()
                    .contains("snigate_upstream_connect_duration_seconds_count{route=\"*.corpus.test\"} 1"));
            try (Socket sameClient = proxy.connect()) {
                sameClient.getOutputStream().write(v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of()));
                readUntilClosedOrReset(sameClient);
            }
            assertReason("connection_limit");
            sendThenFin(v2Header(HAProxyCommand.PROXY, "192.0.2.8", List.of()), HELLO);
            JsonNode line = proxy.nextLog();
            assertThat(line.get("client").asText()).isEqualTo("192.0.2.8:40000");
            assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
        }
    }

    @Test
    void theListenersClientRulesJudgeTheClientTheHeaderNames() throws Exception {
        proxy = ProxyHarness.start("""
                listen:
                  - address: "127.0.0.1:0"
                    proxy_protocol: { trusted: ["127.0.0.0/8"] }
                    clients: { allow: ["192.0.2.0/24"] }
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:%d"
                """.formatted(server.port()));
        try (Socket outside = proxy.connect()) {
            outside.getOutputStream().write(v2Header(HAProxyCommand.PROXY, "198.51.100.9", List.of()));
            readUntilClosedOrReset(outside);
        }
        JsonNode refused = proxy.nextLog();
        assertThat(refused.get("reason").asText()).as("the peer 127.0.0.1 is trusted, the client is not").isEqualTo("client_not_allowed");
        assertThat(refused.get("client").asText()).isEqualTo("198.51.100.9:40000");
        assertThat(refused.get("sni").isNull()).as("refused before the ClientHello").isTrue();
        try (Socket outsideWithHello = proxy.connect()) {
            byte[] header = v2Header(HAProxyCommand.PROXY, "198.51.100.9", List.of());
            byte[] both = java.util.Arrays.copyOf(header, header.length + HELLO.length);
            System.arraycopy(HELLO, 0, both, header.length, HELLO.length);
            outsideWithHello.getOutputStream().write(both);
            readUntilClosedOrReset(outsideWithHello);
        }
        JsonNode refusedWithHello = proxy.nextLog();
        assertThat(refusedWithHello.get("reason").asText()).isEqualTo("client_not_allowed");
        assertThat(refusedWithHello.get("sni").isNull()).as("the hello in the header's read is never pre-read").isTrue();
        assertThat(refusedWithHello.get("route").isNull()).as("nor routed").isTrue();
        try (Socket inside = proxy.connect()) {
            inside.getOutputStream().write(v2Header(HAProxyCommand.PROXY, "192.0.2.7", List.of()));
            inside.getOutputStream().write(HELLO);
            inside.shutdownOutput();
            readUntilClosedOrReset(inside);
        }
        JsonNode admitted = proxy.nextLog();
        assertThat(admitted.get("client").asText()).isEqualTo("192.0.2.7:40000");
        assertThat(admitted.get("outcome").asText()).isEqualTo("forwarded");
    }

    /** A real HAProxy in the foreground with {@code frontendAndBackend} in TCP mode, or the test skipped where none is installed. */
    private void startHaproxy(String file, String frontendAndBackend) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/haproxy")) || System.getenv("CI") != null,
                "haproxy is not installed here (.ci/run installs it)");
        Path config = Files.writeString(dir.resolve(file), """
                defaults
                  mode tcp
                  timeout connect 5s
                  timeout client 30s
                  timeout server 30s
                  timeout check 5s
                """ + frontendAndBackend);
        haproxy = new ProcessBuilder("haproxy", "-db", "-f", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve(file + ".log").toFile()).start();
    }

    /** A connection that sends {@code parts}, then FIN, and reads until the proxy closes it. */
    private void sendThenFin(byte[]... parts) throws Exception {
        try (Socket client = proxy.connect()) {
            for (byte[] part : parts) {
                client.getOutputStream().write(part);
            }
            client.shutdownOutput();
            ProxyHarness.readUntilClosed(client);
        }
    }

        private void assertReason(String reason) throws Exception {
        JsonNode line = proxy.nextLog();
        assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo(reason);
    }

    /** A v2 header made by Netty's own encoder (not snigate's code), from {@code source}:40000. */
    private static byte[] v2Header(HAProxyCommand command, String source, List<HAProxyTLV> tlvs) {
        boolean ipv6 = source.contains(":");
        HAProxyMessage message = new HAProxyMessage(HAProxyProtocolVersion.V2, command,
                ipv6 ? HAProxyProxiedProtocol.TCP6 : HAProxyProxiedProtocol.TCP4,
                source, ipv6 ? "2001:db8::1" : "198.51.100.1", 40000, 443, tlvs);
        EmbeddedChannel encoder = new EmbeddedChannel(HAProxyMessageEncoder.INSTANCE);
        encoder.writeOutbound(message);
        ByteBuf encoded = encoder.readOutbound();
        byte[] bytes = ByteBufUtil.getBytes(encoded);
        encoded.release();
        encoder.finishAndReleaseAll();
        return bytes;
    }

    private static HAProxyTLV crcTlv() {
        return new HAProxyTLV((byte) 0x03, Unpooled.wrappedBuffer(new byte[4]));
    }

    /** The header with its CRC32C TLV, the last four bytes, filled in as the spec says (over the header with them zero). */
    private static byte[] withCrc(byte[] headerWithZeroCrc) {
        byte[] bytes = headerWithZeroCrc.clone();
        byte[] zeroed = bytes.clone();
        System.arraycopy(new byte[4], 0, zeroed, zeroed.length - 4, 4);
        CRC32C crc = new CRC32C();
        crc.update(zeroed);
        boolean corrupt = !java.util.Arrays.equals(headerWithZeroCrc, zeroed);
        int value = (int) crc.getValue() ^ (corrupt ? 1 : 0);
        ByteBuffer.wrap(bytes, bytes.length - 4, 4).putInt(value);
        return bytes;
    }

    private static void readUntilClosedOrReset(Socket client) throws Exception {
        try {
            ProxyHarness.readUntilClosed(client);
        } catch (java.net.SocketException reset) {
            // Closed with the client's bytes unread: a reset is as good as a close here.
        }
    }

    private static SSLSocket tlsOver(Socket tcp) throws Exception {
        SSLSocket socket = (SSLSocket) certs.clientContext().getSocketFactory().createSocket(tcp, NAME, tcp.getPort(), true);
        SSLParameters params = socket.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(NAME)));
        params.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(params);
        socket.setSoTimeout(15_000);
        return socket;
    }



}
