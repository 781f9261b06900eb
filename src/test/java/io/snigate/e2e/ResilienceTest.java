package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.SinkServer;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import io.snigate.testing.TunnelLoad;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Load that must not hurt: thousands of stalled clients while real handshakes go on, thousands of
 * tunnels held and released, and a churn of short connections, with file descriptors, the
 * active-connections gauge, the heap and Netty's buffers back where they started. Every loop is
 * bounded in count and time; {@code -Pheavy} runs the larger churn.
 */
@ExtendWith(NettyLeaks.class)
class ResilienceTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test

    private ProxyHarness proxy;
    private SinkServer upstream;
    private final List<Socket> clients = new ArrayList<>();

    @AfterEach
    void stop() throws IOException {
        for (Socket client : clients) {
            client.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private static long openFileDescriptors() {
        String[] fds = new File("/proc/self/fd").list();
        return fds == null ? -1 : fds.length;
    }

    /** The route's connections that ended, by their outcome and reason labels; the series at 0 left out. */
    private Map<String, Double> endedOnTheRoute() throws Exception {
        Matcher series = Pattern.compile("snigate_connections_total\\{listener=\"127.0.0.1:0\",(outcome=\"[a-z]+\","
                + "reason=\"[a-z_]+\"),route=\"\\*\\.e2e\\.test\"\\} (\\S+)").matcher(proxy.admin("/metrics", null).body());
        Map<String, Double> ended = new TreeMap<>();
        while (series.find()) {
            double value = Double.parseDouble(series.group(2));
            if (value > 0) {
                ended.put(series.group(1), value);
            }
        }
        return ended;
    }

    private double metric(String series) throws Exception {
        Matcher value = Pattern.compile(Pattern.quote(series) + " (\\S+)").matcher(proxy.admin("/metrics", null).body());
        return value.find() ? Double.parseDouble(value.group(1)) : Double.NaN;
    }

    @Test
    void slowlorisClientsAreClosedAtThePrereadTimeoutWhileRealHandshakesGoOn() throws Exception {
        int stalled = 2_000;
        TestCerts certs = TestCerts.forNames("app.e2e.test");
        try (TlsServer tls = new TlsServer(certs, List.of("http/1.1"))) {
            proxy = ProxyHarness.start("""
                    timeouts: { preread: 3s }
                    routes:
                      - match: "*.e2e.test"
                        upstream: "127.0.0.1:%d"
                    """.formatted(tls.port()));
            long started = System.nanoTime();
            for (int i = 0; i < stalled; i++) {
                Socket socket = new Socket(proxy.address().getAddress(), proxy.port());
                socket.getOutputStream().write(22); // one byte of a TLS record, then nothing
                clients.add(socket);
            }
            int handshakes = 0;
            while (System.nanoTime() - started < TimeUnit.SECONDS.toNanos(2) || handshakes < 5) {
                try (SSLSocket tlsClient = (SSLSocket) certs.clientContext().getSocketFactory()
                        .createSocket(proxy.connect(), "app.e2e.test", proxy.port(), true)) {
                    SSLParameters params = tlsClient.getSSLParameters();
                    params.setServerNames(List.of(new SNIHostName("app.e2e.test")));
                    tlsClient.setSSLParameters(params);
                    tlsClient.startHandshake();
                    handshakes++;
                }
                assertThat(handshakes).as("handshakes").isLessThan(10_000);
            }
            assertThat(handshakes).isGreaterThanOrEqualTo(5);
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    metric("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"rejected\",reason=\"preread_timeout\",route=\"none\"}") == stalled);
            for (Socket socket : clients) {
                socket.setSoTimeout(5_000);
                assertThat(socket.getInputStream().read()).isEqualTo(-1);
            }
            // The proxy closes the last handshake's tunnel after its client has: waited for, then
            // every one of them was forwarded. A client that closes right after its handshake may
            // have the server's session tickets unread in its socket: its kernel then resets the
            // connection instead of sending FIN, and the tunnel ends as connection_reset, as a
            // client's abort should (about one in fifty here).
            int tunnels = handshakes;
            await().atMost(Duration.ofSeconds(10)).until(() -> endedOnTheRoute().values().stream()
                    .mapToDouble(Double::doubleValue).sum() == tunnels);
            assertThat(endedOnTheRoute()).as("every tunnel ended, by outcome and reason").allSatisfy((labels, count) ->
                    assertThat(labels).isIn("outcome=\"forwarded\",reason=\"none\"",
                            "outcome=\"forwarded\",reason=\"connection_reset\""));
        }
    }

    @Test
    void fourThousandTunnelsHeldThenClosedLeaveNothingBehind() throws Exception {
        int tunnels = 4_000; // client, two proxy and one upstream socket each: 16 000 of 20 000 fds
        upstream = new SinkServer(0);
        proxy = ProxyHarness.corpusTo(upstream.port());
        proxy.admin("/metrics", null);
        long fdsBefore = openFileDescriptors();
        for (int i = 0; i < tunnels; i++) {
            Socket socket = new Socket(proxy.address().getAddress(), proxy.port());
            socket.getOutputStream().write(HELLO);
            clients.add(socket);
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> upstream.open() == tunnels);
        assertThat(metric("snigate_connections_active{listener=\"127.0.0.1:0\"}")).isEqualTo(tunnels);
        // Give or take the few this JVM opens and closes meanwhile (the admin request's
        // connection): failed once on CI at 15,999 of 16,000.
        assertThat(openFileDescriptors() - fdsBefore).isGreaterThanOrEqualTo(4L * tunnels - 8);

        for (Socket socket : clients) {
            socket.close();
        }
        clients.clear();
        await().atMost(Duration.ofSeconds(60)).until(() -> upstream.open() == 0);
        await().atMost(Duration.ofSeconds(30)).until(() -> metric("snigate_connections_active{listener=\"127.0.0.1:0\"}") == 0);
        await().atMost(Duration.ofSeconds(30)).until(() -> openFileDescriptors() <= fdsBefore + 8);
        proxy.drainLog();
    }

    @Test
    @Tag("heavy")
    void nineThousandTunnelsFromAnotherProcessLeaveNothingBehind() throws Exception {
        // 20,000 open files per process here, two per tunnel in the proxy: 9,000 leaves room for
        // the JVM's own. The clients and the upstream live in a child process.
        int tunnels = 9_000;
        String javaBinary = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process load = new ProcessBuilder(javaBinary, "-cp", System.getProperty("java.class.path"), TunnelLoad.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        try (java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(load.getInputStream()));
                java.io.PrintWriter in = new java.io.PrintWriter(load.getOutputStream(), true)) {
            int sinkPort = Integer.parseInt(out.readLine().split(" ")[1]);
            proxy = ProxyHarness.corpusTo(sinkPort);
            proxy.admin("/metrics", null);
            long fdsBefore = openFileDescriptors();
            in.println("OPEN " + proxy.port() + " " + tunnels);
            assertThat(out.readLine()).isEqualTo("HELD " + tunnels);
            assertThat(metric("snigate_connections_active{listener=\"127.0.0.1:0\"}")).isEqualTo(tunnels);
            long heldFds = openFileDescriptors() - fdsBefore;
            System.out.printf("tunnels: %d held, %d fds in the proxy process%n", tunnels, heldFds);
            assertThat(heldFds).isGreaterThanOrEqualTo(2L * tunnels);
            in.println("CLOSE");
            assertThat(out.readLine()).isEqualTo("CLOSED 0");
            await().atMost(Duration.ofSeconds(60)).until(() -> metric("snigate_connections_active{listener=\"127.0.0.1:0\"}") == 0);
            await().atMost(Duration.ofSeconds(30)).until(() -> openFileDescriptors() <= fdsBefore + 8);
            proxy.drainLog();
            in.println("EXIT");
        } finally {
            load.destroyForcibly();
        }
    }

    @Test
    void twentyThousandShortConnectionsLeakNothing() throws Exception {
        churn(Integer.getInteger("snigate.churn", 20_000));
    }

    @Test
    @Tag("heavy")
    void twoHundredThousandShortConnectionsLeakNothing() throws Exception {
        churn(200_000);
    }

    private void churn(int connections) throws Exception {
        upstream = new SinkServer(HELLO.length);
        proxy = ProxyHarness.corpusTo(upstream.port());
        // Warm up, then take the baseline the churn must come back to.
        runConnections(500, 2);
        long fdsBefore = openFileDescriptors();
        long heapBefore = heapAfterGc();
        long started = System.nanoTime();
        runConnections(connections, 4);
        long seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started));
        System.out.printf("churn: %d connections in %d s%n", connections, seconds);

        await().atMost(Duration.ofSeconds(30)).until(() -> metric("snigate_connections_active{listener=\"127.0.0.1:0\"}") == 0);
        assertThat(metric("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"forwarded\",reason=\"none\",route=\"*.corpus.test\"}"))
                .isEqualTo(connections + 500);
        await().atMost(Duration.ofSeconds(30)).until(() -> openFileDescriptors() <= fdsBefore + 8);
        proxy.drainLog();
        assertThat(heapAfterGc() - heapBefore).as("heap growth after GC, bytes").isLessThan(32L << 20);
    }

    /** Each connection sends a ClientHello and waits for the proxy to close it (the upstream closes first). */
    private void runConnections(int count, int threads) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int share = count / threads + (t < count % threads ? 1 : 0);
            done.add(pool.submit(() -> {
                for (int i = 0; i < share; i++) {
                    try (Socket socket = new Socket(proxy.address().getAddress(), proxy.port())) {
                        socket.setSoTimeout(10_000);
                        socket.getOutputStream().write(HELLO);
                        socket.getInputStream().readAllBytes();
                    }
                }
                return null;
            }));
        }
        try {
            for (Future<?> f : done) {
                f.get(10, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        // The access log of the harness keeps every line; forget them as we go.
        proxy.drainLog();
    }

    private static long heapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
