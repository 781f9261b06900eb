package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What a tunnel's upstream side must do however it is built: on io_uring a direct route's
 * upstream is a socket the relay drives itself ({@code relay.UpstreamSocket}), elsewhere a Netty
 * channel, and this class runs on both (CI runs every test on io_uring and on epoll). Many short
 * connections closed from both ends at once, side by side: a socket closed while an operation
 * naming it is still queued ends whichever connection gets its number next (performance page,
 * "Closing a socket driven by hand"), and as many whose upstream answers and closes while the
 * client still sends, whose answer and FIN the relay passes on together. A proxy stopped with
 * tunnels open, which must close every socket it had. And an IPv6 upstream.
 */
@ExtendWith(NettyLeaks.class)
class UpstreamSocketTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");
    private static final int CLIENTS = 4, CONNECTIONS_EACH = 250, ANSWER_BYTES = 200;

    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final ConcurrentLinkedQueue<Throwable> upstreamFailures = new ConcurrentLinkedQueue<>();
    private ServerSocket upstream;
    private ProxyHarness proxy;

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
        threads.shutdownNow();
        assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).as("the test's threads ended").isTrue();
        assertThat(upstreamFailures).as("what the upstream's connections threw").isEmpty();
    }

    /**
     * An upstream on {@code address} that, for every connection, reads the ClientHello, answers
     * {@link #ANSWER_BYTES} bytes and closes. What it finds wrong reaches
     * the test thread through {@link #upstreamFailures}.
     */
    private int startUpstream(InetAddress address) throws IOException {
        upstream = new ServerSocket(0, 256, address);
        threads.submit(() -> {
            while (!upstream.isClosed()) {
                Socket connection;
                try {
                    connection = upstream.accept();
                } catch (IOException closed) {
                    return;
                }
                threads.submit(() -> {
                    try (Socket c = connection) {
                        c.setSoTimeout(15_000);
                        // Answers without waiting for the client's FIN, which the proxy is passing
                        // on meanwhile: the proxy's last operations on the socket overlap its close.
                        byte[] got = c.getInputStream().readNBytes(HELLO.length);
                        assertThat(got).as("what reached the upstream").isEqualTo(HELLO);
                        c.getOutputStream().write(answer());
                    } catch (Throwable e) {
                        upstreamFailures.add(e);
                    }
                });
            }
        });
        return upstream.getLocalPort();
    }

    private static byte[] answer() {
        byte[] answer = new byte[ANSWER_BYTES];
        Arrays.fill(answer, (byte) 'x');
        return answer;
    }

    /**
     * Sends the ClientHello, and FIN at once if {@code finFirst}, and returns everything the proxy
     * passes back until it closes; without {@code finFirst} the client closes only after that.
     */
    private byte[] oneConnection(boolean finFirst) throws IOException {
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            if (finFirst) {
                client.shutdownOutput();
            }
            return ProxyHarness.readUntilClosed(client);
        }
    }

    @Test
    void connectionsClosedFromBothEndsAtOnceSideBySideEachGetTheirWholeAnswer() throws Exception {
        manyConnectionsSideBySide(true);
    }

    /**
     * The upstream's answer and FIN arrive together while the client still sends: the relay sends
     * both on at once (the client's FIN comes later, to a half-closed tunnel).
     */
    @Test
    void connectionsTheUpstreamAnswersAndClosesFirstEachGetTheirWholeAnswerAndItsEnd() throws Exception {
        manyConnectionsSideBySide(false);
    }

    private void manyConnectionsSideBySide(boolean finFirst) throws Exception {
        proxy = ProxyHarness.corpusTo(startUpstream(InetAddress.getLoopbackAddress()));
        List<Future<List<String>>> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            clients.add(threads.submit(() -> {
                List<String> wrong = new ArrayList<>();
                for (int n = 0; n < CONNECTIONS_EACH; n++) {
                    byte[] got = oneConnection(finFirst);
                    if (!Arrays.equals(got, answer())) {
                        wrong.add(got.length + " bytes");
                    }
                }
                return wrong;
            }));
        }
        List<String> wrong = new ArrayList<>();
        for (Future<List<String>> client : clients) {
            wrong.addAll(client.get(120, TimeUnit.SECONDS));
        }
        assertThat(wrong).as("answers that came back short or wrong").isEmpty();
        for (int i = 0; i < CLIENTS * CONNECTIONS_EACH; i++) {
            JsonNode log = proxy.nextLog();
            assertThat(log.get("outcome").asText()).as(log.toString()).isEqualTo("forwarded");
            assertThat(log.get("reason").isNull()).as(log.toString()).isTrue();
            assertThat(log.get("bytes_from_client").asLong()).as(log.toString()).isEqualTo(HELLO.length);
            assertThat(log.get("bytes_to_client").asLong()).as(log.toString()).isEqualTo(ANSWER_BYTES);
        }
    }

    private static long openFileDescriptors() {
        String[] fds = new File("/proc/self/fd").list();
        return fds == null ? -1 : fds.length;
    }

    @Test
    void aProxyStoppedWithTunnelsOpenClosesEverySocketItHad() throws Exception {
        int tunnels = 2_000; // 8,000 descriptors in this process; 200 did not show a socket left open
        List<Socket> held = Collections.synchronizedList(new ArrayList<>());
        upstream = new ServerSocket(0, 256, InetAddress.getLoopbackAddress());
        threads.submit(() -> {
            while (!upstream.isClosed()) {
                try {
                    held.add(upstream.accept()); // silent: every tunnel stays open
                } catch (IOException closed) {
                    return;
                }
            }
        });
        long before = openFileDescriptors();
        proxy = ProxyHarness.corpusTo(upstream.getLocalPort());
        List<Socket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < tunnels; i++) {
                Socket client = proxy.connect();
                client.getOutputStream().write(HELLO);
                clients.add(client);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> held.size() == tunnels);
            proxy.close();
            proxy = null;
            // What this test holds itself: its clients and the upstream's ends. The proxy's two
            // sockets per tunnel, its listeners and its event loops must all be gone.
            long ours = 2L * tunnels + 1;
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(openFileDescriptors() - before).as("descriptors left over").isLessThanOrEqualTo(ours + 8));
        } finally {
            for (Socket socket : clients) {
                socket.close();
            }
            for (Socket socket : held) {
                socket.close();
            }
        }
    }

    @Test
    void relaysToAnIpv6Upstream() throws Exception {
        int port = startUpstream(InetAddress.getByName("::1"));
        proxy = ProxyHarness.start("""
                routes:
                  - match: "*.corpus.test"
                    upstream: "[::1]:%d"
                """.formatted(port));
        assertThat(oneConnection(true)).isEqualTo(answer());
        JsonNode log = proxy.nextLog();
        assertThat(log.get("outcome").asText()).as(log.toString()).isEqualTo("forwarded");
        assertThat(log.get("upstream").asText()).isEqualTo("[::1]:" + port);
        assertThat(log.get("bytes_to_client").asLong()).isEqualTo(ANSWER_BYTES);
    }
}
