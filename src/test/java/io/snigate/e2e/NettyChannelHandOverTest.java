package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snigate.testing.ChildProxy;
import io.snigate.testing.Corpus;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On io_uring with {@code -Dsnigate.accept=channel} (Netty's own server and child channels, kept for
 * measurements), the client's socket reaches the relay by the other hand-over: the channel is
 * deregistered from the ring and the relay's socket registers anew. A proxy in a child JVM, since
 * the choice is made once per process: every byte goes both ways, half-close included.
 */
class NettyChannelHandOverTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");
    private static final byte[] ANSWER = "from upstream".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] MORE = "after the answer".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] LAST = "bye".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void aTunnelThroughNettysOwnChannelCarriesEveryByteAndTheHalfClose() throws Exception {
        assumeFalse("epoll".equals(System.getProperty("snigate.transport")), "a hand-over from an io_uring channel; this pass runs the child on epoll");

        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<String> upstreamSaw = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = upstream.accept()) {
                    InputStream in = socket.getInputStream();
                    byte[] hello = in.readNBytes(HELLO.length);
                    socket.getOutputStream().write(ANSWER);
                    byte[] rest = in.readAllBytes(); // until the client's FIN, passed on
                    socket.getOutputStream().write(LAST);
                    return (Arrays.equals(hello, HELLO) ? "hello" : "another hello") + " then "
                            + new String(rest, StandardCharsets.US_ASCII);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (ChildProxy proxy = ChildProxy.start(dir, 1, (admin, listen) -> """
                    listen: ["127.0.0.1:%d"]
                    admin: "127.0.0.1:%d"
                    routes:
                      - match: "*.corpus.test"
                        upstream: "127.0.0.1:%d"
                    """.formatted(listen[0], admin, upstream.getLocalPort()),
                    List.of("env", "JAVA_TOOL_OPTIONS=-Dsnigate.accept=channel"))) {
                assumeTrue(proxy.stderr().contains("transport: io_uring"), "io_uring does not run here");
                assertThat(proxy.stderr()).contains("clients accepted by Netty's server channel");
                try (Socket client = new Socket(InetAddress.getLoopbackAddress(), proxy.listenPort())) {
                    client.setSoTimeout(10_000);
                    client.getOutputStream().write(HELLO);
                    assertThat(client.getInputStream().readNBytes(ANSWER.length)).isEqualTo(ANSWER);
                    client.getOutputStream().write(MORE);
                    client.shutdownOutput();
                    assertThat(client.getInputStream().readAllBytes()).as("after the half-close").isEqualTo(LAST);
                }
                assertThat(upstreamSaw.get(10, TimeUnit.SECONDS))
                        .isEqualTo("hello then " + new String(MORE, StandardCharsets.US_ASCII));
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(proxy.stdout())
                        .contains("\"outcome\":\"forwarded\"")
                        .contains("\"bytes_from_client\":" + (HELLO.length + MORE.length))
                        .contains("\"bytes_to_client\":" + (ANSWER.length + LAST.length)));
            }
        }
    }
}
