package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.util.NetUtil;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import io.snigate.testing.TestDnsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * What a hostile client or a hostile DNS name can and cannot make the proxy do: dial into the
 * loopback or private network, dial itself, exhaust its connection budgets, or hold a tunnel
 * open forever; and how DNS faults end.
 */
@ExtendWith(NettyLeaks.class)
class HardeningTest {
    /** ClientHellos from the corpus whose SNI is NAME.corpus.test. */
    private static final byte[] CURL = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test
    private static final byte[] OPENSSL = Corpus.resource("corpus/captured/openssl-tls13-default.bin");
    private static final byte[] CURL_HTTP2 = Corpus.resource("corpus/captured/curl-http2.bin"); // curl-http2.corpus.test

    private TestDnsServer dns;
    private RecordingServer upstream;
    private ProxyHarness proxy;
    private final List<Socket> held = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        dns = new TestDnsServer();
        upstream = new RecordingServer();
    }

    @AfterEach
    void stop() throws IOException {
        for (Socket socket : held) {
            socket.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        upstream.close();
        dns.close();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** Sends a ClientHello, half-closes, and returns what the proxy answered before closing. */
    private byte[] helloAndAnswer(byte[] hello) throws Exception {
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(hello);
            client.shutdownOutput();
            return ProxyHarness.readUntilClosed(client);
        }
    }

    /** Accepts run on several event loops: wait until the proxy holds these, not just the kernel. */
    private void awaitOpenConnections(int n) {
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().openConnections() == n);
    }

    private JsonNode log() throws Exception {
        return proxy.nextLog();
    }

    @Test
    void refusesSniNamesThatResolveToLoopbackWithAccessDenied() throws Exception {
        dns.answer("curl.corpus.test", InetAddress.getByName("127.0.0.1"), 60);
        proxy = ProxyHarness.start("""
                resolvers: ["%s"]
                routes:
                  - match: "*.corpus.test"
                    upstream: "$sni:%d"
                """.formatted(dns.hostPort(), upstream.port()));
        assertThat(helloAndAnswer(CURL)).containsExactly(21, 3, 1, 0, 2, 2, 49);
        JsonNode log = log();
        assertThat(log.get("reason").asText()).isEqualTo("forbidden_destination");
        assertThat(log.get("upstream").isNull()).isTrue();
        assertThat(upstream.accepted()).isZero();
    }

    /**
     * A DNS server answering AAAA with IPv6 spellings of 127.0.0.1. The JDK turns an IPv4-mapped
     * address into an IPv4 one as it decodes the answer; the NAT64 spelling stays IPv6 all the way,
     * and only snigate's own check ({@code core.Addresses.embeddedIpv4}) sees the loopback address
     * inside it: this case fails when that check is taken out. ({@code DestinationPolicyTest}
     * holds the check to every spelling directly.)
     */
    @ParameterizedTest
    @ValueSource(strings = {"::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1"})
    void refusesIpv6SpellingsOfLoopback(String spelling) throws Exception {
        byte[] address = NetUtil.createByteArrayFromIpAddressString(spelling);
        dns.answer("curl.corpus.test", Inet6Address.getByAddress(null, address, -1), 60);
        proxy = ProxyHarness.start("""
                resolvers: ["%s"]
                routes:
                  - match: "*.corpus.test"
                    upstream: "$sni:%d"
                """.formatted(dns.hostPort(), upstream.port()));
        assertThat(helloAndAnswer(CURL)).as("alert access_denied").containsExactly(21, 3, 1, 0, 2, 2, 49);
        assertThat(log().get("reason").asText()).isEqualTo("forbidden_destination");
        assertThat(upstream.accepted()).isZero();
    }

    @Test
    void routeMayOptInToLoopbackWithAllowDestinations() throws Exception {
        dns.answer("curl.corpus.test", InetAddress.getByName("127.0.0.1"), 60);
        upstream.expectBytes(CURL.length);
        proxy = ProxyHarness.start("""
                resolvers: ["%s"]
                routes:
                  - match: "*.corpus.test"
                    upstream: "$sni:%d"
                    allow_destinations: ["127.0.0.0/8"]
                """.formatted(dns.hostPort(), upstream.port()));
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(CURL);
            assertThat(upstream.nextReceived(10_000)).isEqualTo(CURL);
        }
        JsonNode log = log();
        assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(log.get("upstream").asText()).isEqualTo("127.0.0.1:" + upstream.port());
    }

    @Test
    void neverFollowsADnsNameBackToItsOwnListener() throws Exception {
        int listen = freePort();
        dns.answer("curl.corpus.test", InetAddress.getByName("127.0.0.1"), 60);
        dns.answer("self.loop.test", InetAddress.getByName("127.0.0.1"), 60);
        proxy = ProxyHarness.start("""
                listen: ["127.0.0.1:%d"]
                resolvers: ["%s"]
                routes:
                  - match: "curl.corpus.test"
                    upstream: "$sni:%d"
                    allow_destinations: ["127.0.0.0/8"]
                  - match: "*.corpus.test"
                    upstream: "self.loop.test:%d"
                """.formatted(listen, dns.hostPort(), listen, listen));
        // A loop, whether an allowed range or a name written in the config leads there: alert internal_error.
        assertThat(helloAndAnswer(CURL)).containsExactly(21, 3, 1, 0, 2, 2, 80);
        assertThat(log().get("reason").asText()).isEqualTo("loop_detected");
        helloAndAnswer(OPENSSL);
        assertThat(log().get("reason").asText()).isEqualTo("loop_detected");
    }

    @Test
    void closesConnectionsOverThePerClientLimitAndKeepsServingOthers() throws Exception {
        proxy = ProxyHarness.corpusTo(upstream.port(), """
                limits: { max_connections_per_client: 2 }
                """);
        held.add(proxy.connect());
        held.add(proxy.connect());
        awaitOpenConnections(2);
        try (Socket third = proxy.connect()) {
            assertThat(ProxyHarness.readUntilClosed(third)).isEmpty();
        }
        assertThat(log().get("reason").asText()).isEqualTo("connection_limit");
        held.remove(0).close();
        assertThat(log().get("reason").asText()).isEqualTo("client_closed");
        upstream.expectBytes(CURL.length);
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(CURL);
            assertThat(upstream.nextReceived(10_000)).isEqualTo(CURL);
        }
        assertThat(log().get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void aConnectionRefusedOverItsClientsLimitLeavesThePrereadBudgetWhole() throws Exception {
        proxy = ProxyHarness.corpusTo(upstream.port(), """
                limits: { max_connections_per_client: 1, max_preread_connections: 2 }
                """);
        Socket forwarded = proxy.connect();
        held.add(forwarded);
        upstream.expectBytes(CURL.length);
        forwarded.getOutputStream().write(CURL);
        assertThat(upstream.nextReceived(10_000)).isEqualTo(CURL);
        for (int i = 0; i < 2; i++) {
            try (Socket refused = proxy.connect()) {
                assertThat(ProxyHarness.readUntilClosed(refused)).isEmpty();
            }
            assertThat(log().get("reason").asText()).isEqualTo("connection_limit");
        }
        held.remove(forwarded);
        forwarded.close();
        assertThat(log().get("outcome").asText()).isEqualTo("forwarded");
        for (int i = 0; i < 2; i++) {
            upstream.expectBytes(CURL.length);
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(CURL);
                assertThat(upstream.nextReceived(10_000)).as("connection %d after the refusals", i).isEqualTo(CURL);
            }
            assertThat(log().get("outcome").asText()).isEqualTo("forwarded");
        }
    }

    @Test
    void closesConnectionsOverThePrereadBudget() throws Exception {
        proxy = ProxyHarness.corpusTo(upstream.port(), """
                limits: { max_preread_connections: 3 }
                """);
        for (int i = 0; i < 3; i++) {
            Socket stalled = proxy.connect();
            stalled.getOutputStream().write(22);
            held.add(stalled);
        }
        awaitOpenConnections(3);
        try (Socket fourth = proxy.connect()) {
            assertThat(ProxyHarness.readUntilClosed(fourth)).isEmpty();
        }
        assertThat(log().get("reason").asText()).isEqualTo("connection_limit");
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"rejected\",reason=\"connection_limit\",route=\"none\"} 1.0");
    }

    @Test
    void closesATunnelHalfClosedForTooLong() throws Exception {
        CountDownLatch testOver = new CountDownLatch(1);
        try (ServerSocket neverCloses = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Integer> upstreamSaw = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = neverCloses.accept()) {
                    socket.getInputStream().readNBytes(CURL.length);
                    int fin = socket.getInputStream().read(); // the client's FIN, passed on
                    testOver.await(30, TimeUnit.SECONDS); // and this side never closes
                    return fin;
                } catch (IOException | InterruptedException e) {
                    return -2;
                }
            }, runnable -> new Thread(runnable).start());
            proxy = ProxyHarness.corpusTo(neverCloses.getLocalPort(), """
                    timeouts: { half_closed: 300ms }
                    """);
            long started = System.nanoTime();
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(CURL);
                client.shutdownOutput();
                assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
            }
            long elapsedMillis = (System.nanoTime() - started) / 1_000_000;
            JsonNode log = log();
            assertThat(log.get("reason").asText()).as(log.toString()).isEqualTo("half_closed_timeout");
            assertThat(elapsedMillis).isBetween(250L, 5_000L);
            // The upstream read everything and said nothing: a silent upstream, counted as such.
            assertThat(proxy.admin("/metrics", null).body())
                    .contains("snigate_connections_unanswered_total{route=\"*.corpus.test\"} 1.0");
            testOver.countDown();
            assertThat(upstreamSaw.get(15, TimeUnit.SECONDS)).as("the upstream saw the FIN").isEqualTo(-1);
        } finally {
            testOver.countDown();
        }
    }

    /**
     * A client that half-closes after its request, and an answer that takes longer than the
     * half-closed timeout but never pauses that long: the answer arrives whole.
     */
    @Test
    void aHalfClosedTunnelStillSendingIsNotCutByTheHalfClosedTimeout() throws Exception {
        int trickled = 25; // 2.5 s at 100 ms a byte, against a timeout of 500 ms
        try (ServerSocket answers = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Integer> upstreamSaw = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = answers.accept()) {
                    socket.getInputStream().readNBytes(CURL.length);
                    int fin = socket.getInputStream().read(); // the client's FIN, passed on
                    trickle(socket.getOutputStream(), trickled);
                    return fin;
                } catch (IOException | InterruptedException e) {
                    return -2;
                }
            }, runnable -> new Thread(runnable).start());
            proxy = ProxyHarness.corpusTo(answers.getLocalPort(), """
                    timeouts: { half_closed: 500ms }
                    """);
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(CURL);
                client.shutdownOutput();
                assertThat(ProxyHarness.readUntilClosed(client)).hasSize(trickled);
            }
            assertThat(upstreamSaw.get(15, TimeUnit.SECONDS)).as("the upstream saw the FIN").isEqualTo(-1);
            JsonNode log = log();
            assertThat(log.get("reason").isNull()).as(log.toString()).isTrue();
            assertThat(proxy.admin("/metrics", null).body()).as("answered")
                    .contains("snigate_connections_unanswered_total{route=\"*.corpus.test\"} 0.0");
        }
    }

    @Test
    void whatIsStillOpenWhenTheDrainRunsOutIsLoggedAsDrainTimeout() throws Exception {
        proxy = ProxyHarness.corpusTo(upstream.port());
        Socket tunnel = proxy.connect();
        held.add(tunnel);
        tunnel.getOutputStream().write(CURL);
        await().atMost(Duration.ofSeconds(5)).until(() -> upstream.accepted() == 1);
        held.add(proxy.connect()); // sends nothing: still in its pre-read
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.server().openConnections() == 2);
        proxy.server().drain(Duration.ofMillis(200));
        // Cut short, the tunnel does not end as a whole answer would, with the end of the stream.
        assertThatThrownBy(() -> ProxyHarness.readUntilClosed(tunnel)).isInstanceOf(SocketException.class)
                .hasMessageContaining("reset");
        assertThat(upstream.nextEndedByReset(10_000)).as("the upstream's side reset too").isTrue();
        List<JsonNode> logs = List.of(log(), log());
        assertThat(logs).as(logs.toString()).extracting(line -> line.get("reason").asText())
                .containsOnly("drain_timeout");
        assertThat(logs).extracting(line -> line.get("outcome").asText())
                .containsExactlyInAnyOrder("forwarded", "rejected");
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"forwarded\","
                        + "reason=\"drain_timeout\",route=\"*.corpus.test\"} 1.0")
                .as("the one never forwarded, as its log line says")
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"rejected\","
                        + "reason=\"drain_timeout\",route=\"none\"} 1.0")
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"forwarded\","
                        + "reason=\"drain_timeout\",route=\"none\"} 0.0");
    }

    /**
     * One byte every 100 ms for 2.5 s, from one side: ten idle timeouts' worth of tunnel, but never
     * a second of silence; then silence until the proxy gives up. Either side's bytes count.
     */
    @ParameterizedTest(name = "bytes from the {0}")
    @ValueSource(strings = {"upstream", "client"})
    void trafficInEitherDirectionKeepsATunnelPastItsIdleTimeout(String sender) throws Exception {
        int trickled = 25;
        boolean fromUpstream = sender.equals("upstream");
        try (ServerSocket upstreamSide = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Integer> upstreamGot = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = upstreamSide.accept()) {
                    socket.getInputStream().readNBytes(CURL.length);
                    if (fromUpstream) {
                        trickle(socket.getOutputStream(), trickled);
                    }
                    return socket.getInputStream().readAllBytes().length; // until the proxy closes
                } catch (IOException | InterruptedException e) {
                    return -1;
                }
            }, runnable -> new Thread(runnable).start());
            proxy = ProxyHarness.corpusTo(upstreamSide.getLocalPort(), """
                    timeouts: { idle: 1s }
                    """);
            long started = System.nanoTime();
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(CURL);
                if (!fromUpstream) {
                    trickle(client.getOutputStream(), trickled);
                }
                assertThat(ProxyHarness.readUntilClosed(client)).hasSize(fromUpstream ? trickled : 0);
            }
            long elapsedMillis = (System.nanoTime() - started) / 1_000_000;
            assertThat(elapsedMillis).as("open while bytes flowed, closed after 1 s of silence").isBetween(3_000L, 10_000L);
            assertThat(upstreamGot.get(10, TimeUnit.SECONDS)).isEqualTo(fromUpstream ? 0 : trickled);
            JsonNode log = log();
            assertThat(log.get("reason").asText()).as(log.toString()).isEqualTo("idle_timeout");
            assertThat(log.get(fromUpstream ? "bytes_to_client" : "bytes_from_client").asLong())
                    .isEqualTo(fromUpstream ? trickled : CURL.length + trickled);
        }
    }

    /** Writes {@code count} bytes, one every 100 ms. */
    private static void trickle(OutputStream out, int count) throws IOException, InterruptedException {
        for (int i = 0; i < count; i++) {
            out.write('x');
            out.flush();
            Thread.sleep(100);
        }
    }

    @Test
    void dnsServfailAndSilenceEndAsDnsFailure() throws Exception {
        dns.behave("openssl-tls13.corpus.test", TestDnsServer.Behaviour.SERVFAIL);
        dns.behave("curl.corpus.test", TestDnsServer.Behaviour.SILENT);
        dns.behave("curl-http2.corpus.test", TestDnsServer.Behaviour.NXDOMAIN);
        Logger dnsTroubleLog = (Logger) LoggerFactory.getLogger("io.snigate.connect.DnsTrouble");
        ListAppender<ILoggingEvent> said = new ListAppender<>();
        said.start();
        dnsTroubleLog.addAppender(said);
        try {
            nxdomainServfailAndSilence();
        } finally {
            dnsTroubleLog.detachAppender(said);
        }
        // The resolvers' trouble is said, the names' (a client's typo on a $sni route) is not.
        synchronized (said) {
            assertThat(said.list).extracting(ILoggingEvent::getFormattedMessage).satisfiesExactly(
                    servfail -> assertThat(servfail).startsWith("DNS lookup of openssl-tls13.corpus.test failed: the resolver answered SERVFAIL"),
                    silent -> assertThat(silent).startsWith("DNS lookup of curl.corpus.test failed: no answer"));
        }
    }

    private void nxdomainServfailAndSilence() throws Exception {
        proxy = ProxyHarness.start("""
                resolvers: ["%s"]
                timeouts: { connect: 5s }
                routes:
                  - match: "*.corpus.test"
                    upstream: "$sni:443"
                """.formatted(dns.hostPort()));

        // First: said, it would take the second the SERVFAIL's line needs.
        assertThat(helloAndAnswer(CURL_HTTP2)).containsExactly(21, 3, 1, 0, 2, 2, 80);
        assertThat(log().get("reason").asText()).isEqualTo("dns_failure");

        long started = System.nanoTime();
        assertThat(helloAndAnswer(OPENSSL)).containsExactly(21, 3, 1, 0, 2, 2, 80);
        // A SERVFAIL is an answer: it ends the lookup without waiting for the connect timeout.
        assertThat((System.nanoTime() - started) / 1_000_000).as("a SERVFAIL waits for nothing").isLessThan(2_500);
        assertThat(log().get("reason").asText()).isEqualTo("dns_failure");
        assertThat(dns.queriesFor("openssl-tls13.corpus.test")).as("the SERVFAIL name was asked").isPositive();

        started = System.nanoTime();
        assertThat(helloAndAnswer(CURL)).containsExactly(21, 3, 1, 0, 2, 2, 80);
        assertThat((System.nanoTime() - started) / 1_000_000).as("bounded by the connect timeout").isBetween(4_000L, 10_000L);
        assertThat(log().get("reason").asText()).isEqualTo("dns_failure");
        assertThat(dns.queriesFor("curl.corpus.test")).as("the silent name was asked").isPositive();
    }

    /** {@code *.corpus.test} to {@code $sni:443}, names resolved by {@code resolvers} (quoted, comma-separated). */
    private void startSniRouteWithConnectTimeoutOf1s(String resolvers) throws Exception {
        proxy = ProxyHarness.start("""
                resolvers: [%s]
                timeouts: { connect: 1s }
                routes:
                  - match: "*.corpus.test"
                    upstream: "$sni:443"
                """.formatted(resolvers));
    }

    @Test
    void aLookupThatEveryResolverLeavesUnansweredEndsWithinOneConnectTimeout() throws Exception {
        List<TestDnsServer> silent = new ArrayList<>();
        try {
            List<String> resolvers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                TestDnsServer server = new TestDnsServer().behave("curl.corpus.test", TestDnsServer.Behaviour.SILENT);
                silent.add(server);
                resolvers.add("\"" + server.hostPort() + "\"");
            }
            startSniRouteWithConnectTimeoutOf1s(String.join(", ", resolvers));
            long started = System.nanoTime();
            assertThat(helloAndAnswer(CURL)).containsExactly(21, 3, 1, 0, 2, 2, 80);
            // Each resolver in turn has a quarter of the connect timeout, so all four are asked;
            // the connect timeout ends the lookup either way.
            assertThat((System.nanoTime() - started) / 1_000_000).as("one connect timeout for the whole stage")
                    .isLessThan(2_500);
            assertThat(log().get("reason").asText()).isEqualTo("dns_failure");
        } finally {
            for (TestDnsServer server : silent) {
                server.close();
            }
        }
    }

    @Test
    void upstreamThatNeverReadsEndsAtTheIdleTimeoutWithoutUnboundedBuffering() throws Exception {
        CountDownLatch testOver = new CountDownLatch(1);
        try (ServerSocket neverReads = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture.runAsync(() -> {
                try (Socket socket = neverReads.accept()) {
                    testOver.await(30, TimeUnit.SECONDS); // accepts, and never reads a byte
                } catch (IOException | InterruptedException e) {
                    // Gone: the end either way.
                }
            }, runnable -> new Thread(runnable).start());
            proxy = ProxyHarness.corpusTo(neverReads.getLocalPort(), """
                    timeouts: { idle: 1s }
                    """);
            try (Socket client = proxy.connect()) {
                client.setSoTimeout(20_000);
                OutputStream out = client.getOutputStream();
                out.write(CURL);
                long written = 0;
                try {
                    byte[] chunk = new byte[64 * 1024];
                    for (int i = 0; i < 1024; i++) { // at most 64 MiB; blocks long before that
                        out.write(chunk);
                        written += chunk.length;
                    }
                } catch (IOException closedByProxy) {
                    // Expected: the proxy closed the tunnel while this write was blocked.
                }
                assertThat(written).as("bytes the client could push into a tunnel nobody reads").isLessThan(48L << 20);
            }
            assertThat(log().get("reason").asText()).isEqualTo("idle_timeout");
        } finally {
            testOver.countDown();
        }
    }
    /**
     * A client that resets while its upload waits for an upstream that does not read is noticed
     * at once and logged as a reset, not held until the idle timeout (60 s here) as
     * {@code idle_timeout}: on io_uring nothing reads the paused side, so a watch for its reset
     * is armed while it waits.
     */
    @Test
    void aClientThatResetsWhileItsUploadIsPausedEndsAsAResetAtOnce() throws Exception {
        CountDownLatch testOver = new CountDownLatch(1);
        try (ServerSocket neverReads = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture.runAsync(() -> {
                try (Socket socket = neverReads.accept()) {
                    testOver.await(60, TimeUnit.SECONDS); // accepts, and never reads a byte
                } catch (IOException | InterruptedException e) {
                    // Gone: the end either way.
                }
            }, runnable -> new Thread(runnable).start());
            proxy = ProxyHarness.corpusTo(neverReads.getLocalPort(), """
                    timeouts: { idle: 60s }
                    """);
            Socket client = proxy.connect();
            AtomicLong written = new AtomicLong();
            CompletableFuture<Void> uploading = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = client.getOutputStream();
                    out.write(CURL);
                    byte[] chunk = new byte[16 * 1024];
                    for (int i = 0; i < 4096; i++) { // at most 64 MiB; blocks long before that
                        out.write(chunk);
                        written.addAndGet(chunk.length);
                    }
                } catch (IOException closed) {
                    // the reset below, while this write was blocked
                }
            }, runnable -> new Thread(runnable).start());
            long stillFor = 0;
            long last = -1;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (stillFor < 1_000) { // the upload is blocked: the proxy has paused reading it
                assertThat(System.nanoTime()).as("the upload stops").isLessThan(deadline);
                Thread.sleep(100);
                long now = written.get();
                stillFor = now == last ? stillFor + 100 : 0;
                last = now;
            }
            long resetAt = System.nanoTime();
            client.setSoLinger(true, 0);
            client.close();
            uploading.get(10, TimeUnit.SECONDS);
            JsonNode line = log();
            assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("connection_reset");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - resetAt)).as("noticed before the idle timeout")
                    .isLessThan(30_000);
        } finally {
            testOver.countDown();
        }
    }
    /**
     * A download the client stops reading is cut at the idle timeout with a reset: a FIN would
     * tell the client that the stream it has is whole (failed before: the client read the end of
     * the stream). What is counted as sent then is ChannelTunnelTest's.
     */
    @Test
    void aDownloadCutAtTheIdleTimeoutWithBytesQueuedEndsInAReset() throws Exception {
        CountDownLatch testOver = new CountDownLatch(1);
        try (ServerSocket sendsALot = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture.runAsync(() -> {
                try (Socket socket = sendsALot.accept()) {
                    byte[] chunk = new byte[64 * 1024];
                    for (int i = 0; i < 1024; i++) { // at most 64 MiB; blocks long before that
                        socket.getOutputStream().write(chunk);
                    }
                    testOver.await(30, TimeUnit.SECONDS);
                } catch (IOException | InterruptedException e) {
                    // the proxy closed it: the end either way
                }
            }, runnable -> new Thread(runnable).start());
            proxy = ProxyHarness.corpusTo(sendsALot.getLocalPort(), """
                    timeouts: { idle: 1s }
                    """);
            try (Socket client = new Socket()) {
                client.setReceiveBufferSize(4096);
                client.connect(proxy.address());
                client.getOutputStream().write(CURL);
                JsonNode line = log(); // not reading: cut at the idle timeout
                assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("idle_timeout");
                client.setSoTimeout(10_000);
                InputStream in = client.getInputStream();
                byte[] buffer = new byte[64 * 1024];
                AtomicLong received = new AtomicLong();
                assertThatThrownBy(() -> {
                    for (int n; (n = in.read(buffer)) > 0; ) {
                        received.addAndGet(n); // what reached the client before the cut
                    }
                }).as("a reset, not the end of the stream").isInstanceOf(SocketException.class).hasMessageContaining("reset");
                assertThat(line.get("bytes_to_client").asLong()).as("at least what the client received")
                        .isGreaterThanOrEqualTo(received.get());
            }
        } finally {
            testOver.countDown();
        }
    }
}
