package io.snigate.preread;

import static io.snigate.preread.TestHellos.concat;
import static io.snigate.preread.TestHellos.hello;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.core.TlsVersions;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pre-read's decisions as a client meets them, through the real proxy on loopback with a
 * route for every {@code *.corpus.test} name: the whole-record rule, ECH on the wire, and the
 * {@code ja4} field of the access log.
 */
@ExtendWith(NettyLeaks.class)
class PrereadThroughProxyTest {
    private static final byte[] DECODE_ERROR_ALERT = {21, 3, 1, 0, 2, 2, 50};

    private static RecordingServer upstream;
    private static ProxyHarness proxy;

    @BeforeAll
    static void start() throws Exception {
        upstream = new RecordingServer();
        proxy = ProxyHarness.corpusTo(upstream.port(), """
                timeouts: { preread: 10s, connect: 5s, idle: 1m }
                """);
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        upstream.close();
    }

    @BeforeEach
    void forgetEarlierLines() {
        proxy.drainLog();
    }

    @Test
    void helloWhoseLastRecordComesInPiecesIsForwardedByteExact() throws Exception {
        byte[] wire = hello().sni("pieces.corpus.test").alpn("h2").records(3);
        upstream.expectBytes(wire.length);

        try (Socket client = proxy.connect()) {
            client.setTcpNoDelay(true);
            OutputStream out = client.getOutputStream();
            out.write(Arrays.copyOfRange(wire, 0, wire.length - 20));
            out.flush();
            out.write(Arrays.copyOfRange(wire, wire.length - 20, wire.length - 1));
            out.flush();
            out.write(wire, wire.length - 1, 1);
            out.flush();

            assertThat(upstream.nextReceived(10_000)).as("bytes at the upstream").isEqualTo(wire);
        }
        JsonNode log = proxy.nextLog();
        assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
        String ja4 = NaiveJa4.of(wire);
        assertThat(log.get("ja4").asText()).isEqualTo(ja4);
        List<String> fields = new ArrayList<>();
        log.fieldNames().forEachRemaining(fields::add);
        assertThat(fields.get(fields.indexOf("ech") + 1)).as("the field after ech").isEqualTo("ja4");
        String scrape = proxy.admin("/metrics", null).body();
        assertThat(scrape).as("metrics").doesNotContain(ja4).doesNotContain("ja4");
    }

    @Test
    void clientClosingInsideTheLastRecordIsMalformed() throws Exception {
        byte[] wire = hello().sni("short.corpus.test").records(2);

        assertRefusedAsMalformed(Arrays.copyOfRange(wire, 0, wire.length - 3), true);
    }

    @Test
    void recordGoingOnPastTheHelloIsMalformed() throws Exception {
        byte[] handshake = hello().sni("past.corpus.test").handshake();
        byte[] wire = TestHellos.frame(concat(handshake, new byte[] {11, 0, 0, 2, 0, 0}), TlsVersions.TLS_1_0);

        assertRefusedAsMalformed(wire, false);
    }

    @Test
    void innerEchIsMalformedThoughTheNameHasARoute() throws Exception {
        assertRefusedAsMalformed(hello().sni("routed.corpus.test").echInner().record(), false);
    }

    @Test
    void echOuterExtensionsIsMalformedThoughTheNameHasARoute() throws Exception {
        assertRefusedAsMalformed(hello().sni("routed.corpus.test").ech().echOuterExtensions(0x000a).record(), false);
    }

    /**
     * A real browser through the proxy to a real TLS server: Chromium (152 or later) puts a fresh
     * GREASE value in its signature_algorithms on every connection, and every line it leaves has
     * the one fingerprint FoxIO published for it.
     */
    @Test
    void realChromiumGetsItsPublishedJa4OnEveryConnection(@TempDir Path dir) throws Exception {
        boolean installed = Files.isExecutable(Path.of("/usr/bin/chromium"));
        Assumptions.assumeTrue(installed || System.getenv("CI") != null, "chromium is not installed here");
        String name = "browser.corpus.test";
        try (TlsServer server = new TlsServer(TestCerts.forNames(name), List.of("h2", "http/1.1"));
                ProxyHarness browserProxy = ProxyHarness.start("""
                        routes:
                          - match: "*.corpus.test"
                            upstream: "127.0.0.1:%d"
                        """.formatted(server.port()))) {
            for (int run = 0; run < 2; run++) {
                // The server speaks TLS, not HTTP: the handshakes are what this is about.
                ProcessRunner.run(60, "timeout", "40", "chromium", "--headless=new", "--no-sandbox",
                        "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--user-data-dir=" + dir.resolve("run" + run),
                        "--ignore-certificate-errors", "--host-resolver-rules=MAP " + name + " 127.0.0.1:"
                                + browserProxy.port() + ", MAP * ~NOTFOUND", "--timeout=10000", "--dump-dom", "https://" + name + "/");
                JsonNode line = browserProxy.nextLog();
                assertThat(line.get("sni").asText()).isEqualTo(name);
                assertThat(line.get("ja4").asText()).as(line.toString()).isEqualTo(Ja4Test.CHROMIUM_152_JA4);
            }
        }
    }

    /** Each corpus file once: its line has the JA4 of its hello when one parses, else null. */
    @TestFactory
    Stream<DynamicTest> accessLogCarriesTheJa4OfEveryHelloThatParses() {
        return Corpus.entries().stream().map(entry -> dynamicTest(entry.file(), () -> {
            byte[] bytes = Corpus.bytes(entry);
            proxy.drainLog();
            upstream.expectBytes(bytes.length);
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(bytes);
                if (entry.forward()) {
                    assertThat(upstream.nextReceived(10_000)).isEqualTo(bytes);
                } else {
                    client.shutdownOutput();
                    ProxyHarness.readUntilClosed(client);
                }
            }
            JsonNode ja4 = proxy.nextLog().get("ja4");
            if (entry.reframable(bytes)) {
                assertThat(ja4.asText()).isEqualTo(NaiveJa4.of(bytes));
            } else {
                assertThat(ja4.isNull()).as("ja4 of %s", entry.file()).isTrue();
            }
        }));
    }

    /**
     * The client gets a decode_error alert, the log says malformed, and no upstream is dialed.
     * Unless {@code halfClose}, the client keeps its side open: the proxy must decide on the bytes
     * alone.
     */
    private static void assertRefusedAsMalformed(byte[] bytes, boolean halfClose) throws Exception {
        int acceptedBefore = upstream.accepted();
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(bytes);
            if (halfClose) {
                client.shutdownOutput();
            }
            assertThat(ProxyHarness.readUntilClosed(client)).isEqualTo(DECODE_ERROR_ALERT);
        }
        JsonNode log = proxy.nextLog();
        assertThat(log.get("reason").asText()).isEqualTo("malformed");
        assertThat(log.get("ja4").isNull()).isTrue();
        assertThat(upstream.accepted()).as("upstream connections").isEqualTo(acceptedBefore);
    }
}
