package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * How a forwarded tunnel behaves once the relay runs: half-close passed on each way, an idle
 * tunnel closed, a reset upstream ending the tunnel, and a slow reader that never makes the proxy
 * buffer without bound.
 */
@ExtendWith(NettyLeaks.class)
class RelayBehaviourTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");

    private ServerSocket upstream;
    private ProxyHarness proxy;

    /** A one-connection upstream on loopback whose behaviour the test gives. */
    private void startUpstream(String timeouts, Consumer<Socket> behaviour) throws Exception {
        upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        CompletableFuture.runAsync(() -> {
            try (Socket socket = upstream.accept()) {
                socket.setSoTimeout(60_000);
                behaviour.accept(socket);
            } catch (IOException e) {
                // The test's own assertions say what went wrong.
            }
        });
        proxy = ProxyHarness.corpusTo(upstream.getLocalPort(), "timeouts: " + timeouts + "\n");
    }

    @AfterEach
    void stop() throws IOException {
        if (proxy != null) {
            proxy.close();
        }
        upstream.close();
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
            try {
                InputStream in = socket.getInputStream();
                byte[] got = in.readAllBytes(); // until the client's FIN arrives through the proxy
                socket.getOutputStream().write(got.length == HELLO.length + 5 ? reply : new byte[0]);
                socket.shutdownOutput();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
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

    @Test
    void closesAnIdleTunnelOnBothSides() throws Exception {
        CompletableFuture<Integer> upstreamSaw = new CompletableFuture<>();
        startUpstream("{ idle: 300ms }", socket -> {
            try {
                readExactly(socket.getInputStream(), HELLO.length);
                upstreamSaw.complete(socket.getInputStream().read()); // -1 once the proxy closes
            } catch (IOException e) {
                upstreamSaw.completeExceptionally(e);
            }
        });
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
        }
        assertThat(upstreamSaw.get(10, TimeUnit.SECONDS)).isEqualTo(-1);
        assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("idle_timeout");
    }

    @Test
    void endsTheTunnelWhenTheUpstreamResetsMidStream() throws Exception {
        startUpstream("{ idle: 1m }", socket -> {
            try {
                readExactly(socket.getInputStream(), HELLO.length);
                socket.getOutputStream().write(new byte[1000]);
                socket.setSoLinger(true, 0); // close with RST
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            client.setSoTimeout(5_000);
            InputStream in = client.getInputStream();
            int received = 0;
            try {
                for (int n; (n = in.read(new byte[4096])) > 0; ) {
                    received += n;
                }
            } catch (java.net.SocketTimeoutException stillOpen) {
                throw new AssertionError("the proxy left the client open after the upstream reset", stillOpen);
            } catch (IOException reset) {
                // A reset passed on is as good as a close here.
            }
            assertThat(received).isLessThanOrEqualTo(1000);
        }
        JsonNode log = proxy.nextLog();
        assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(log.get("reason").asText()).isEqualTo("connection_reset");
    }

    @Test
    void slowReaderKeepsTheProxysBuffersBounded() throws Exception {
        long total = 1L << 30;
        startUpstream("{ idle: 1m }", socket -> {
            try {
                readExactly(socket.getInputStream(), HELLO.length);
                OutputStream out = socket.getOutputStream();
                byte[] chunk = new byte[256 * 1024];
                for (long sent = 0; sent < total; sent += chunk.length) {
                    out.write(chunk);
                }
                socket.shutdownOutput();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        ByteBufAllocatorMetricProvider allocator = (ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT;
        AtomicLong peakDirect = new AtomicLong();
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
        // Bounded by the socket buffers and one write high-water mark per tunnel, not by 1 GiB.
        assertThat(peakDirect.get()).as("peak direct memory in use, bytes").isLessThan(32L << 20);
        assertThat(proxy.nextLog().get("bytes_to_client").asLong()).isEqualTo(total);
    }
}
