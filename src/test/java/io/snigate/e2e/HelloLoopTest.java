package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestDnsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A name that leads back to the proxy through a balancer in front of it (here a TCP forwarder on
 * 127.0.0.2, an address that is neither a listener's nor refused by {@code allow_destinations}):
 * the copy of the ClientHello that comes back is refused as {@code loop_detected} at its first
 * hop, instead of the proxy dialing itself until {@code max_connections} refuses everyone.
 */
@ExtendWith(NettyLeaks.class)
class HelloLoopTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test

    @Test
    void aHelloThatComesBackThroughABalancerIsALoop() throws Exception {
        assertLoopStopsAtTheFirstHop(HELLO);
    }

    /** A client who starts the loop chooses the random too: all zeros is counted like any other. */
    @Test
    void aHelloWithARandomOfZerosIsALoopToo() throws Exception {
        byte[] zeros = HELLO.clone();
        java.util.Arrays.fill(zeros, 11, 43, (byte) 0); // after the record header, the handshake header and the version
        assertLoopStopsAtTheFirstHop(zeros);
    }

    private void assertLoopStopsAtTheFirstHop(byte[] hello) throws Exception {
        ExecutorService pipes = Executors.newCachedThreadPool();
        AtomicInteger forwarded = new AtomicInteger();
        try (ServerSocket balancer = new ServerSocket(0, 64, InetAddress.getByName("127.0.0.2"));
                TestDnsServer dns = new TestDnsServer().answer("curl.corpus.test", InetAddress.getByName("127.0.0.2"), 60);
                ProxyHarness proxy = ProxyHarness.start("""
                        resolvers: ["%s"]
                        limits: { max_connections: 50 }
                        routes:
                          - match: "curl.corpus.test"
                            upstream: "$sni:%d"
                            allow_destinations: ["127.0.0.0/8"]
                        """.formatted(dns.hostPort(), balancer.getLocalPort()))) {
            pipes.submit(() -> forward(balancer, proxy.address(), pipes, forwarded));
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(hello);
                JsonNode hop = proxy.nextLog();
                assertThat(hop.get("reason").asText()).isEqualTo("loop_detected");
                assertThat(hop.get("sni").asText()).isEqualTo("curl.corpus.test");
                assertThat(hop.get("client").asText()).startsWith("127.0.0.1:"); // the balancer's dial back
            }
            JsonNode first = proxy.nextLog();
            assertThat(first.get("client").asText()).isNotEqualTo(first.get("upstream").asText());
            assertThat(forwarded.get()).as("connections through the balancer").isEqualTo(1);
            assertThat(proxy.drainLog()).isEmpty();
        } finally {
            pipes.shutdownNow();
        }
    }

    /** Accepts connections and pipes each, both ways, to {@code target}. */
    private static void forward(ServerSocket balancer, InetSocketAddress target, ExecutorService pipes, AtomicInteger count) {
        List<Socket> open = new ArrayList<>();
        try {
            while (true) {
                Socket in = balancer.accept();
                count.incrementAndGet();
                Socket out = new Socket(target.getAddress(), target.getPort());
                open.add(in);
                open.add(out);
                pipes.submit(() -> pipe(in, out));
                pipes.submit(() -> pipe(out, in));
            }
        } catch (IOException closed) {
            for (Socket socket : open) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }
    }

    private static void pipe(Socket from, Socket to) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            in.transferTo(out);
        } catch (IOException ended) {
            // one side closed: the other follows
        } finally {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
