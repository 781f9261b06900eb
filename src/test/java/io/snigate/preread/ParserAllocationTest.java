package io.snigate.preread;

import static io.snigate.preread.ParserHarness.DEFAULT_MAX_HELLO;
import static io.snigate.preread.TestHellos.hello;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.snigate.core.ClientHelloSink;
import io.snigate.testing.Corpus;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The allocation target as a test: a forwarded parse allocates no more than the SNI string,
 * the ALPN list and the JA4 fingerprint string it reports, counted by the JVM's per-thread
 * allocation counter. The floor is measured the same way, by making the same strings and the
 * smallest immutable list anew, except the ALPN names and lists the parser shares between parses.
 *
 * <p>Heap buffers, not direct ones: the paranoid leak detector wraps a direct buffer, and the
 * wrapper allocates on every read. The benchmark (src/jmh) measures the direct path.
 */
class ParserAllocationTest {

    /** Parses measured per hello; the least counts. */
    private static final int PARSES = 5;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Remembers the last facts without allocating. */
    private static final class LastFacts implements ClientHelloSink {
        String sni;
        List<String> alpn;
        String ja4;

        @Override
        public void clientHello(
                String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion, String ja4) {
            this.sni = sni;
            this.alpn = alpn;
            this.ja4 = ja4;
        }
    }

    @TestFactory
    Stream<DynamicTest> forwardedCorpusHellosAllocateOnlySniAlpnAndJa4() {
        return Corpus.entries().stream()
                .filter(Corpus.Entry::forward)
                .map(entry -> dynamicTest(entry.file(), () ->
                        assertAllocatesOnlyWhatItReports(Corpus.resource("corpus/" + entry.file()))));
    }

    @TestFactory
    Stream<DynamicTest> builtHellosAllocateOnlySniAlpnAndJa4() {
        return Stream.of(
                dynamicTest("three protocols", () -> assertAllocatesOnlyWhatItReports(
                        hello().sni("three.example").alpn("h2", "http/1.1", "spdy/3.1").record())),
                dynamicTest("upper case and trailing dot in five records", () -> assertAllocatesOnlyWhatItReports(
                        hello().sni("WWW.Example.COM.").alpn("h2").records(5))));
    }

    private static void assertAllocatesOnlyWhatItReports(byte[] wire) {
        ByteBuf buf = Unpooled.wrappedBuffer(wire);
        LastFacts facts = new LastFacts();
        // Warm up: class loading and this thread's scratch buffers are allocated once, not per parse.
        for (int i = 0; i < 3; i++) {
            assertThat(ClientHelloParser.parse(buf, DEFAULT_MAX_HELLO, false, facts).isComplete()).isTrue();
        }
        List<String> previousAlpn = facts.alpn;
        long counterCost = counterCost();

        // The least of several parses: what a parse allocates, it allocates every time, while a
        // one-off allocation on this thread (seen now and then, hundreds of bytes) lands in one.
        long parse = Long.MAX_VALUE;
        for (int i = 0; i < PARSES; i++) {
            long before = THREADS.getCurrentThreadAllocatedBytes();
            ClientHelloParser.parse(buf, DEFAULT_MAX_HELLO, false, facts);
            parse = Math.min(parse, THREADS.getCurrentThreadAllocatedBytes() - before - counterCost);
        }

        // Shared ALPN names and lists come back as the same instances parse after parse, and cost a
        // parse nothing; everything else the parse reports, it made.
        byte[] sniBytes = facts.sni.getBytes(StandardCharsets.ISO_8859_1);
        byte[] ja4Bytes = facts.ja4.getBytes(StandardCharsets.ISO_8859_1);
        boolean alpnShared = facts.alpn == previousAlpn;
        String[] protocols = facts.alpn == null ? null : facts.alpn.toArray(new String[0]);
        byte[][] made = new byte[protocols == null ? 0 : protocols.length][];
        for (int i = 0; i < made.length; i++) {
            made[i] = protocols[i] == previousAlpn.get(i) ? null : protocols[i].getBytes(StandardCharsets.ISO_8859_1);
        }
        long before = THREADS.getCurrentThreadAllocatedBytes();
        Object sni = new String(sniBytes, StandardCharsets.ISO_8859_1);
        Object ja4 = new String(ja4Bytes, StandardCharsets.ISO_8859_1);
        for (int i = 0; i < made.length; i++) {
            if (made[i] != null) {
                protocols[i] = new String(made[i], StandardCharsets.ISO_8859_1);
            }
        }
        Object alpn = protocols == null || alpnShared ? facts.alpn : smallestImmutableList(protocols);
        long floor = THREADS.getCurrentThreadAllocatedBytes() - before - counterCost;

        assertThat(sni).isEqualTo(facts.sni);
        assertThat(alpn).isEqualTo(facts.alpn);
        assertThat(ja4).isEqualTo(facts.ja4);
        assertThat(parse).as("bytes allocated by one parse, against its SNI, ALPN and JA4 (%d B)", floor)
                .isLessThanOrEqualTo(floor);
    }

    /** What reading the counter twice allocates by itself (nothing, on HotSpot). */
    private static long counterCost() {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    private static List<String> smallestImmutableList(String[] protocols) {
        return switch (protocols.length) {
            case 1 -> List.of(protocols[0]);
            case 2 -> List.of(protocols[0], protocols[1]);
            case 3 -> List.of(protocols[0], protocols[1], protocols[2]);
            default -> throw new IllegalArgumentException(protocols.length + " protocols");
        };
    }
}
