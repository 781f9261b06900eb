package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.testing.ChildProxy;
import io.snigate.testing.Corpus;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A proxy out of direct memory ends the connections it cannot buffer for, and only those: its
 * event loops live on, new connections are relayed once memory is free again, and nothing escapes
 * to Netty's executor. The proxy runs in a child JVM with 24 MiB of direct memory; clients that
 * never read, behind an upstream that streams, use it up (a stalled download holds a read of up
 * to 1 MiB).
 */
class OutOfDirectMemoryTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test
    private static final int STALLED_CLIENTS = 60;

    @TempDir
    Path dir;

    private final ExecutorService upstreamThreads = Executors.newCachedThreadPool();
    private final List<Socket> clients = new ArrayList<>();

    @AfterEach
    void closeEverything() throws IOException {
        for (Socket client : clients) {
            client.close();
        }
        upstreamThreads.shutdownNow();
    }

    @Test
    void connectionsThatFindNoDirectMemoryEndAndTheEventLoopsGoOn() throws Exception {
        try (ServerSocket streaming = new ServerSocket(0, 200, InetAddress.getLoopbackAddress())) {
            upstreamThreads.submit(() -> streamToEveryConnection(streaming));
            try (ChildProxy proxy = ChildProxy.start(dir, 1, (admin, listen) -> """
                    listen: ["127.0.0.1:%d"]
                    admin: "127.0.0.1:%d"
                    routes:
                      - match: "curl.corpus.test"
                        upstream: "127.0.0.1:%d"
                    """.formatted(listen[0], admin, streaming.getLocalPort()),
                    List.of("env", "JAVA_TOOL_OPTIONS=-XX:MaxDirectMemorySize=24m"))) {
                for (int i = 0; i < STALLED_CLIENTS; i++) {
                    Socket stalled = new Socket();
                    stalled.setReceiveBufferSize(4096);
                    stalled.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), proxy.listenPort()), 5_000);
                    stalled.getOutputStream().write(HELLO);
                    clients.add(stalled); // never read
                }
                // Netty's own count refused it at once: not the JDK's allocation, which runs a GC and
                // sleeps up to 0.5 s on the event loop before it gives up.
                await().atMost(Duration.ofSeconds(30)).until(() -> proxy.stderr().contains("OutOfDirectMemoryError"));
                assertThat(proxy.stderr()).doesNotContain("direct buffer memory");
                // The tunnels that found no memory ended while their clients were still there.
                // Tunnels that had relayed, ended as over a budget, not as by a peer's reset: this
                // process ran short.
                await().atMost(Duration.ofSeconds(10)).until(() -> proxy.stdout().lines().anyMatch(line ->
                        line.contains("\"reason\":\"connection_limit\"") && !line.contains("\"bytes_to_client\":0,")));
                for (Socket client : clients) {
                    client.close();
                }
                clients.clear();

                // Every event loop still relays: each new connection lands on one of the listen
                // sockets, one per loop, and gets the upstream's bytes.
                for (int i = 0; i < 8; i++) {
                    assertThat(firstBytesThrough(proxy)).as("connection %d after the shortage; the proxy said:\n%s", i,
                            proxy.stderr()).isEqualTo(1024);
                }
                assertThat(proxy.status("/healthz")).isEqualTo(200);
                assertThat(proxy.stderr()).as("an error left to Netty's executor").doesNotContain("Unexpected exception")
                        .doesNotContain("Exception in thread");
            }
        }
    }

    /** Reads the first KiB the upstream streams through a new connection, within 10 s. */
    private static int firstBytesThrough(ChildProxy proxy) throws IOException {
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), proxy.listenPort())) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write(HELLO);
            return client.getInputStream().readNBytes(1024).length;
        }
    }

    /** Reads each connection's ClientHello, then writes to it until it goes away. */
    private void streamToEveryConnection(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                Socket connection = server.accept();
                upstreamThreads.submit(() -> {
                    try (connection) {
                        InputStream in = connection.getInputStream();
                        in.readNBytes(HELLO.length);
                        OutputStream out = connection.getOutputStream();
                        byte[] chunk = new byte[64 * 1024];
                        for (int i = 0; i < 4096; i++) { // at most 256 MiB a connection
                            out.write(chunk);
                        }
                    } catch (IOException gone) {
                        // The proxy closed it: the end of this connection's stream.
                    }
                    return null;
                });
            } catch (IOException closed) {
                return;
            }
        }
    }
}
