package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.snigate.testing.Corpus;
import io.snigate.testing.FakeUpstream;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * How a forwarded tunnel behaves once the relay runs: half-close passed on each way, an idle
 * tunnel closed, a reset upstream ending the tunnel (mid-stream, right after a burst, and while
 * the proxy is not reading it), and a slow reader that never makes the proxy buffer without bound.
 */
@ExtendWith(NettyLeaks.class)
class RelayBehaviourTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");

    private FakeUpstream upstream;
    private ProxyHarness proxy;

    /** A one-connection upstream on loopback whose behaviour the test gives. */
    private void startUpstream(String timeouts, FakeUpstream.Behaviour behaviour) throws Exception {
        startUpstream(timeouts, 1, behaviour);
    }

    /**
     * An upstream on loopback that serves {@code connections} connections, one after the other;
     * what its behaviour throws fails the test (in {@link #stop} at the latest).
     */
    private void startUpstream(String timeouts, int connections, FakeUpstream.Behaviour behaviour) throws Exception {
        upstream = new FakeUpstream(connections, behaviour);
        proxy = ProxyHarness.corpusTo(upstream.port(), "timeouts: " + timeouts + "\n");
    }

    /**
     * Reads what the proxy passes on until it closes or resets the connection, and fails if it
     * still holds the connection open after five seconds.
     */
    private static long readUntilTheProxyEndsIt(Socket client) throws IOException {
        client.setSoTimeout(5_000);
        InputStream in = client.getInputStream();
        byte[] buffer = new byte[64 * 1024];
        long received = 0;
        try {
            for (int n; (n = in.read(buffer)) > 0; ) {
                received += n;
            }
        } catch (java.net.SocketTimeoutException stillOpen) {
            throw new AssertionError("the proxy left the client open after the upstream reset (" + received
                    + " bytes passed on)", stillOpen);
        } catch (IOException reset) {
            // A reset passed on is as good as a close here.
        }
        return received;
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close(); // throws what the fake upstream's checks threw
        }
    }

    private static byte[] readExactly(InputStream in, int n) throws IOException {
        byte[] bytes = in.readNBytes(n);
        assertThat(bytes).hasSize(n);
        return bytes;
    }

    @Test
    void passesHalfCloseOnAndKeepsTheOtherDirectionFlowing() throws Exception {
        byte[] reply = "the upstream answers after the client's FIN".getBytes(StandardCharsets.US_ASCII);
        startUpstream("{ idle: 1m }", socket -> {
            byte[] got = socket.getInputStream().readAllBytes(); // until the client's FIN arrives through the proxy
            assertThat(got).as("the hello and the client's last bytes").hasSize(HELLO.length + 5);
            socket.getOutputStream().write(reply);
            socket.shutdownOutput();
        });
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            client.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            client.shutdownOutput();
            assertThat(ProxyHarness.readUntilClosed(client)).isEqualTo(reply);
        }
        JsonNode log = proxy.nextLog();
        assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(log.get("reason").isNull()).as(log.toString()).isTrue();
        assertThat(log.get("bytes_from_client").asLong()).isEqualTo(HELLO.length + 5);
        assertThat(log.get("bytes_to_client").asLong()).isEqualTo(reply.length);
    }

    /**
     * A client that half-closes after its hello and then reads a large answer slowly gets every
     * byte and the end of the stream after them (failed on epoll: Netty took the half-closed
     * socket out of the epoll set, the wait for writability failed with ENOENT, and the client
     * read about 3 MB of 8 and a FIN).
     */
    @Test
    void aHalfClosedClientThatReadsALargeAnswerSlowlyGetsAllOfIt() throws Exception {
        byte[] answer = new byte[8 << 20];
        new java.util.Random(7).nextBytes(answer);
        startUpstream("{ idle: 1m }", socket -> {
            assertThat(socket.getInputStream().readAllBytes()).as("the hello, then the client's FIN").hasSize(HELLO.length);
            socket.getOutputStream().write(answer);
            socket.shutdownOutput();
        });
        try (Socket client = new Socket()) {
            client.setReceiveBufferSize(4096);
            client.connect(proxy.address());
            client.getOutputStream().write(HELLO);
            client.shutdownOutput();
            Thread.sleep(500); // the answer meets a full client: the proxy waits to write
            client.setSoTimeout(30_000);
            assertThat(client.getInputStream().readAllBytes()).as("every byte, then the end").isEqualTo(answer);
        }
        JsonNode log = proxy.nextLog();
        assertThat(log.get("reason").isNull()).as(log.toString()).isTrue();
        assertThat(log.get("bytes_to_client").asLong()).isEqualTo(answer.length);
    }

    @Test
    void closesAnIdleTunnelOnBothSides() throws Exception {
        startUpstream("{ idle: 300ms }", socket -> {
            readExactly(socket.getInputStream(), HELLO.length);
            assertThat(socket.getInputStream().read()).as("the proxy closed the upstream too").isEqualTo(-1);
        });
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
        }
        upstream.verify(Duration.ofSeconds(10));
        assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("idle_timeout");
    }

    /**
     * An upstream that resets mid-stream reaches the client as a reset, as it would without the
     * proxy: a FIN would tell the client the answer was complete. (Failed before: a clean end.)
     */
    @Test
    void endsTheTunnelWhenTheUpstreamResetsMidStream() throws Exception {
        startUpstream("{ idle: 1m }", socket -> {
            readExactly(socket.getInputStream(), HELLO.length);
            socket.getOutputStream().write(new byte[1000]);
            socket.setSoLinger(true, 0); // close with RST
        });
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            assertEndsWithAReset(client);
        }
        JsonNode log = proxy.nextLog();
        assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(log.get("reason").asText()).isEqualTo("connection_reset");
    }

    /**
     * The same through a tunnel of two Netty channels, which a route sending a PROXY header gets on
     * every transport (on io_uring the client's channel is snigate's own, whose config had no
     * SO_LINGER: failed before with a clean end there).
     */
    @Test
    void anUpstreamResetReachesTheClientAsAResetThroughAChannelTunnel() throws Exception {
        upstream = new FakeUpstream(socket -> {
            InputStream in = socket.getInputStream();
            for (int b; (b = in.read()) != '\n'; ) { // the PROXY v1 line
                if (b < 0) {
                    throw new java.io.EOFException("closed before the PROXY line ended");
                }
            }
            readExactly(in, HELLO.length);
            socket.getOutputStream().write(new byte[1000]);
            socket.setSoLinger(true, 0); // close with RST
        });
        proxy = ProxyHarness.start("""
                timeouts: { idle: 1m }
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:%d"
                    send_proxy_protocol: v1
                """.formatted(upstream.port()));
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            assertEndsWithAReset(client);
        }
        assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("connection_reset");
    }

    /** Reads until the connection ends, which must be by a reset, after at most 1000 bytes. */
    private static void assertEndsWithAReset(Socket client) throws IOException {
        client.setSoTimeout(5_000);
        InputStream in = client.getInputStream();
        byte[] buffer = new byte[4096];
        long received = 0;
        try {
            for (int n; (n = in.read(buffer)) > 0; ) {
                received += n;
            }
            throw new AssertionError("the client saw a clean end after " + received + " bytes, not the upstream's reset");
        } catch (java.net.SocketException reset) {
            assertThat(reset.getMessage()).contains("reset");
        }
        assertThat(received).isLessThanOrEqualTo(1000);
    }

    /** A client that resets reaches the upstream as a reset, not as a FIN. (Failed before: the upstream read an end.) */
    @Test
    void aClientThatResetsReachesTheUpstreamAsAReset() throws Exception {
        CompletableFuture<String> upstreamSaw = new CompletableFuture<>();
        CountDownLatch reading = new CountDownLatch(1);
        startUpstream("{ idle: 1m }", socket -> {
            readExactly(socket.getInputStream(), HELLO.length);
            reading.countDown();
            try {
                upstreamSaw.complete(socket.getInputStream().read() < 0 ? "end of stream" : "a byte");
            } catch (java.net.SocketException reset) {
                upstreamSaw.complete(reset.getMessage());
            }
        });
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            assertThat(reading.await(10, TimeUnit.SECONDS)).as("the hello reached the upstream").isTrue();
            client.setSoLinger(true, 0); // close with RST
        }
        assertThat(upstreamSaw.get(10, TimeUnit.SECONDS)).contains("reset");
        assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("connection_reset");
    }

    /**
     * A client that resets in the middle of a download cut it short: the line says
     * {@code connection_reset}, not a clean close. On a channel tunnel Netty completes the
     * client's close future before it fails the writes still queued, so the record must not be
     * finished by the close future alone; on io_uring's socket tunnel the failed send tells it.
     */
    @Test
    void aClientThatResetsInTheMiddleOfADownloadIsAReset() throws Exception {
        assertADownloadTheClientEndsEndsAs("connection_reset", client -> {
            readExactly(client.getInputStream(), 256 * 1024);
            client.setSoLinger(true, 0); // close with RST, the download unfinished
        });
    }

    /**
     * A client that sent FIN first and then closed its socket while the upstream still sends
     * (as a TLS client does after its close_notify) ended the conversation itself: what the
     * upstream sends after that meets a reset, and the line stays a clean close.
     */
    @Test
    void aClientThatClosedFirstIsNotAResetWhenTheUpstreamStillSends() throws Exception {
        assertADownloadTheClientEndsEndsAs(null, client -> {
            client.shutdownOutput();
            readExactly(client.getInputStream(), 256 * 1024);
            client.setSoLinger(true, 0);
        });
    }

    /**
     * The same client, its FIN sent right before its reset, while the proxy is busy sending to it:
     * the failed send's EPIPE says the FIN came first, whether or not the proxy has read it yet.
     * (Failed before: connection_reset in most rounds, as the send failed before the FIN was read.)
     */
    @Test
    void aClientThatSentFinJustBeforeItsResetIsNotAReset() throws Exception {
        assertADownloadTheClientEndsEndsAs(null, client -> {
            readExactly(client.getInputStream(), 256 * 1024);
            Thread.sleep(100); // not reading: the proxy's sends to it queue up, the stimulus
            client.shutdownOutput();
            client.setSoLinger(true, 0);
        });
    }

    private interface ClientEnding {
        void end(Socket client) throws Exception;
    }

    /**
     * An upstream that streams without end and a client that sends its hello and then ends as
     * {@code ending} says: the line of each of three rounds says forwarded, with {@code reason}
     * (null: a clean close). Three rounds, since which of a failed send and a read the proxy meets
     * first varies.
     */
    private void assertADownloadTheClientEndsEndsAs(String reason, ClientEnding ending) throws Exception {
        int rounds = 3;
        startUpstream("{ idle: 1m }", rounds, socket -> {
            readExactly(socket.getInputStream(), HELLO.length);
            streamUntilRefused(socket);
        });
        for (int round = 0; round < rounds; round++) {
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(HELLO);
                ending.end(client);
            }
            JsonNode log = proxy.nextLog();
            assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
            JsonNode ended = log.get("reason");
            assertThat(ended.isNull() ? null : ended.asText()).as("round %d: %s", round, log).isEqualTo(reason);
        }
    }

    /** Writes to {@code socket} until the proxy refuses more (it closed its side), 256 MiB at most. */
    private static void streamUntilRefused(Socket socket) {
        byte[] chunk = new byte[64 * 1024];
        try {
            for (int i = 0; i < 4096; i++) {
                socket.getOutputStream().write(chunk);
            }
        } catch (IOException closedByTheProxy) {
            return;
        }
        throw new AssertionError("the proxy took 256 MiB for a client that had gone");
    }

    /**
     * The upstream's last bytes and its reset arrive while the proxy is still reading. With Netty's
     * io_uring in its default mode (multishot poll) this went unnoticed every time: the reset was
     * reported while a read was in flight and then dropped, and the poll left armed never fired
     * again on the dead socket (see {@code Transport.MULTISHOT_POLL_PROPERTY}). Three rounds, so a
     * lucky interleaving cannot hide it.
     */
    @Test
    void endsTheTunnelWhenTheUpstreamResetsRightAfterABurst() throws Exception {
        int burst = 64 * 1024;
        int rounds = 3;
        startUpstream("{ idle: 1m }", rounds, socket -> {
            readExactly(socket.getInputStream(), HELLO.length);
            socket.getOutputStream().write(new byte[burst]);
            socket.setSoLinger(true, 0); // close with RST
        });
        for (int round = 0; round < rounds; round++) {
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(HELLO);
                assertThat(readUntilTheProxyEndsIt(client)).as("round %d", round).isLessThanOrEqualTo(burst);
            }
            JsonNode log = proxy.nextLog();
            assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
            assertThat(log.get("reason").asText()).as("round %d: %s", round, log).isEqualTo("connection_reset");
        }
    }

    /**
     * The upstream resets while the proxy has stopped reading it, because the client reads
     * nothing: the upstream writes until its socket stays full (the proxy's buffers and the
     * client's are then full too), then resets. Once the client reads, it gets no more than the
     * upstream sent and then the end of the tunnel, which is logged as a reset. (epoll ends the
     * tunnel as soon as the reset arrives and drops what the proxy had queued for the client;
     * io_uring notices the reset when it reads again, after passing on what arrived before it.)
     */
    @Test
    void endsTheTunnelWhenTheUpstreamResetsWhileTheClientIsNotReading() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            CompletableFuture<Long> sentBeforeReset = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel socket = server.accept(); Selector selector = Selector.open()) {
                    readExactly(socket.socket().getInputStream(), HELLO.length);
                    socket.configureBlocking(false);
                    socket.register(selector, SelectionKey.OP_WRITE);
                    ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
                    long sent = 0;
                    for (int stalls = 0; stalls < 2; ) {
                        chunk.clear();
                        int n = socket.write(chunk);
                        sent += n;
                        if (n == 0) {
                            // Full: counts as stalled only if no room appears for 200 ms. A proxy that was
                            // merely slow just makes this the plain reset case, which must pass as well.
                            selector.selectedKeys().clear();
                            stalls = selector.select(200) == 0 ? stalls + 1 : 0;
                        }
                    }
                    socket.setOption(StandardSocketOptions.SO_LINGER, 0); // close with RST
                    return sent;
                } catch (IOException e) {
                    // Fails the future, which the test thread joins below.
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            proxy = ProxyHarness.corpusTo(((InetSocketAddress) server.getLocalAddress()).getPort(),
                    "timeouts: { idle: 1m }\n");
            try (Socket client = proxy.connect()) {
                client.setReceiveBufferSize(64 * 1024);
                client.getOutputStream().write(HELLO);
                long sent = sentBeforeReset.get(60, TimeUnit.SECONDS);
                assertThat(sent).as("bytes the upstream wrote before the proxy stopped reading").isGreaterThan(1L << 20);
                assertThat(readUntilTheProxyEndsIt(client)).isLessThanOrEqualTo(sent);
            }
            JsonNode log = proxy.nextLog();
            assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
            assertThat(log.get("reason").asText()).as(log.toString()).isEqualTo("connection_reset");
        }
    }

    @Test
    void slowReaderKeepsTheProxysBuffersBounded() throws Exception {
        long total = 1L << 30;
        startUpstream("{ idle: 1m }", socket -> {
            readExactly(socket.getInputStream(), HELLO.length);
            OutputStream out = socket.getOutputStream();
            byte[] chunk = new byte[256 * 1024];
            for (long sent = 0; sent < total; sent += chunk.length) {
                out.write(chunk);
            }
            socket.shutdownOutput();
        });
        ByteBufAllocatorMetricProvider allocator = (ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT;
        // What the allocator already holds from earlier tests in this JVM (free chunks it keeps) is
        // not this tunnel's doing: the bound is on the growth while the tunnel runs.
        long before = allocator.metric().usedDirectMemory();
        AtomicLong peakDirect = new AtomicLong(before);
        long received = 0;
        try (Socket client = proxy.connect()) {
            client.setReceiveBufferSize(64 * 1024);
            client.getOutputStream().write(HELLO);
            InputStream in = client.getInputStream();
            byte[] buffer = new byte[256 * 1024];
            long reads = 0;
            for (int n; (n = in.read(buffer)) > 0; ) {
                received += n;
                if (++reads % 16 == 0) {
                    Thread.sleep(1); // slower than loopback can deliver
                    peakDirect.accumulateAndGet(allocator.metric().usedDirectMemory(), Math::max);
                }
            }
        }
        assertThat(received).isEqualTo(total);
        upstream.verify(Duration.ofSeconds(10));
        // Bounded by the socket buffers and one write high-water mark per tunnel, not by 1 GiB.
        assertThat(peakDirect.get() - before).as("growth of the direct memory in use, bytes").isLessThan(32L << 20);
        assertThat(proxy.nextLog().get("bytes_to_client").asLong()).isEqualTo(total);
    }
}
