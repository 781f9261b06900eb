package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import java.io.OutputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every file of the ClientHello corpus replayed through the real proxy: in one write, split at
 * random points across several writes, and (for whole ClientHellos) re-framed into more TLS
 * records. Forwarded cases must reach the upstream byte for byte; rejected ones must never reach
 * it, must be closed well before the pre-read timeout, and must be logged with the manifest's
 * reason.
 */
@ExtendWith(NettyLeaks.class)
class CorpusThroughProxyTest {
    private static final long SEED = 7_2026_11_23L;
    private static RecordingServer upstream;
    private static ProxyHarness proxy;

    @BeforeAll
    static void start() throws Exception {
        upstream = new RecordingServer();
        proxy = ProxyHarness.corpusTo(upstream.port(), """
                timeouts: { preread: 10s, connect: 5s, idle: 1m }
                """);
        System.out.println("CorpusThroughProxyTest seed " + SEED);
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        upstream.close();
    }

    @TestFactory
    Stream<DynamicNode> everyCorpusFileThroughTheProxy() throws Exception {
        Random random = new Random(SEED);
        return Corpus.entries().stream().map(entry -> {
            byte[] bytes = Corpus.bytes(entry);
            List<DynamicTest> tests = new ArrayList<>();
            tests.add(dynamicTest("one write", () -> replay(entry, bytes, List.of(bytes))));
            long splitSeed = random.nextLong();
            tests.add(dynamicTest("split, seed " + splitSeed,
                    () -> replay(entry, bytes, Corpus.split(bytes, 2 + new Random(splitSeed).nextInt(7), new Random(splitSeed)))));
            if (entry.reframable(bytes)) {
                long frameSeed = random.nextLong();
                byte[] reframed = Corpus.reframe(bytes, 3, new Random(frameSeed));
                tests.add(dynamicTest("re-framed into more records, seed " + frameSeed,
                        () -> replay(entry, reframed, Corpus.split(reframed, 3, new Random(frameSeed)))));
            }
            return DynamicContainer.dynamicContainer(entry.file(), tests);
        });
    }

    private void replay(Corpus.Entry entry, byte[] whole, List<byte[]> pieces) throws Exception {
        proxy.drainLog();
        int acceptedBefore = upstream.accepted();
        upstream.expectBytes(whole.length);
        try (Socket client = proxy.connect()) {
            OutputStream out = client.getOutputStream();
            for (byte[] piece : pieces) {
                out.write(piece);
                out.flush();
                Thread.sleep(2);
            }
            if (entry.forward()) {
                byte[] received = upstream.nextReceived(10_000);
                assertThat(received).as("bytes at the upstream").isEqualTo(whole);
            } else {
                client.shutdownOutput();
                long started = System.nanoTime();
                ProxyHarness.readUntilClosed(client);
                assertThat((System.nanoTime() - started) / 1_000_000).as("ms until the proxy closed").isLessThan(5_000);
            }
        }
        JsonNode log = proxy.nextLog();
        if (entry.forward()) {
            assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
            assertThat(log.get("sni").asText()).isEqualTo(entry.sni());
            assertThat(log.get("alpn").isNull() ? null : Corpus.strings(log.get("alpn"))).isEqualTo(entry.alpn());
            assertThat(log.get("tls_version").asText()).isEqualTo(entry.tlsVersion());
            assertThat(log.get("ech").asBoolean()).isEqualTo(entry.ech());
        } else {
            assertThat(log.get("outcome").asText()).isEqualTo("rejected");
            assertThat(log.get("reason").asText()).isIn(entry.acceptableReasonLabels());
            assertThat(upstream.accepted()).as("upstream connections").isEqualTo(acceptedBefore);
        }
    }
}
