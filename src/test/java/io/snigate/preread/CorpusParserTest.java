package io.snigate.preread;

import static io.snigate.preread.ParserHarness.DEFAULT_MAX_HELLO;
import static io.snigate.preread.ParserHarness.parse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import io.snigate.preread.ParserHarness.Hello;
import io.snigate.preread.ParserHarness.Parsed;
import io.snigate.testing.Corpus;
import io.snigate.preread.PrereadVerdict.Status;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Replays every file of the ClientHello corpus (src/test/resources/corpus, see its README) into
 * the parser: in one piece, growing byte by byte as a slow network would deliver it, and for
 * TLS files also re-framed into more records, and checks the manifest's expectations each way.
 */
class CorpusParserTest {

    /** Printed in every re-framing test's name so that a failure can be repeated. */
    private static final long REFRAME_SEED = 20240611L;

    private static List<Corpus.Entry> manifest() {
        return Corpus.entries();
    }

    private static List<Reason> acceptableReasons(Corpus.Entry entry) {
        return entry.acceptableReasonLabels().stream()
                .map(label -> Reason.valueOf(label.toUpperCase(Locale.ROOT)))
                .toList();
    }

    @Test
    void manifestDescribesEveryFileByteExactly() throws IOException {
        List<Corpus.Entry> entries = manifest();

        assertThat(entries).hasSize(30);
        for (Corpus.Entry entry : entries) {
            assertThat(Corpus.resource("corpus/" + entry.file())).as(entry.file()).hasSize(entry.length());
        }
    }

    @TestFactory
    Stream<DynamicNode> everyCorpusFile() throws IOException {
        return manifest().stream().map(entry -> {
            byte[] bytes = Corpus.resource("corpus/" + entry.file());
            List<DynamicTest> tests = new ArrayList<>();
            tests.add(dynamicTest("whole", () -> assertExpected(entry, parseWhole(bytes, entry))));
            tests.add(dynamicTest("growing prefix", () -> assertExpected(entry, parseGrowing(bytes, entry))));
            if (entry.reframable(bytes)) {
                for (int pieces = 2; pieces <= 8; pieces += 3) {
                    long seed = REFRAME_SEED + entry.file().hashCode() + pieces;
                    int count = pieces;
                    tests.add(dynamicTest("re-framed into " + pieces + " records, seed " + seed, () -> {
                        byte[] reframed = Corpus.reframe(bytes, count, new Random(seed));
                        assertExpected(entry, parseWhole(reframed, entry));
                        assertExpected(entry, parseGrowing(reframed, entry));
                    }));
                }
            }
            return DynamicContainer.dynamicContainer(entry.file(), tests);
        });
    }

    /**
     * The whole file at once; a reject case may then need the end of stream to be decided, since
     * some are cut short on purpose.
     */
    private static Parsed parseWhole(byte[] bytes, Corpus.Entry entry) {
        Parsed verdict = parse(bytes, false);
        if (verdict.needsMore() && !entry.forward()) {
            verdict = parse(bytes, true);
        }
        return verdict;
    }

    /** One more byte at a time, stopping at the first decision, as the proxy would. */
    private static Parsed parseGrowing(byte[] bytes, Corpus.Entry entry) {
        for (int length = 0; length < bytes.length; length++) {
            Parsed verdict = parse(bytes, 0, length, DEFAULT_MAX_HELLO, false);
            if (!verdict.needsMore()) {
                assertThat(entry.forward()).as("%s decided early, at %d bytes: %s", entry.file(), length, verdict)
                        .isFalse();
                return verdict;
            }
        }
        return parseWhole(bytes, entry);
    }

    private static void assertExpected(Corpus.Entry entry, Parsed verdict) {
        if (entry.forward()) {
            assertThat(verdict.status()).as("%s: %s", entry.file(), verdict).isEqualTo(Status.COMPLETE);
            assertThat(verdict.hello().sni()).isEqualTo(entry.sni());
            assertHelloFacts(entry, verdict.hello());
            return;
        }
        assertThat(verdict.status()).as("%s: %s", entry.file(), verdict).isEqualTo(Status.REJECT);
        assertThat(verdict.reason()).as(entry.file()).isIn(acceptableReasons(entry));
        if (verdict.reason() == Reason.NO_SNI) {
            assertThat(verdict.hello().sni()).isNull();
            assertHelloFacts(entry, verdict.hello());
        }
        if (verdict.reason() == Reason.INVALID_SNI) {
            assertThat(verdict.rawSni()).isEqualTo(entry.sni());
            assertHelloFacts(entry, verdict.hello());
        }
    }

    private static void assertHelloFacts(Corpus.Entry entry, Hello hello) {
        assertThat(hello.alpn()).as("%s alpn", entry.file()).isEqualTo(entry.alpn());
        assertThat(TlsVersions.name(hello.tlsVersion())).as("%s tls_version", entry.file())
                .isEqualTo(entry.tlsVersion());
        assertThat(hello.ech()).as("%s ech", entry.file()).isEqualTo(entry.ech());
    }
}
