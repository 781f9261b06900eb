package io.snigate.preread;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.snigate.core.HostNames;
import java.io.ByteArrayOutputStream;

/**
 * Any bytes a client sends end in a verdict: never an exception, never a change to the caller's
 * buffer; a hello that parses has the JA4 that {@link NaiveJa4} computes apart. Without {@code JAZZER_FUZZ=1} this runs only on the seed inputs under
 * src/test/resources/io/snigate/preread/ClientHelloParserFuzzTestInputs/parseNeverThrows (the
 * corpus files); with it, Jazzer explores from there.
 */
class ClientHelloParserFuzzTest {

    private static final int SMALL_LIMIT = 512;

    // Only fuzzing mode (JAZZER_FUZZ=1) runs this long; mvn verify replays the seed inputs once.
    @FuzzTest(maxDuration = "1h")
    void parseNeverThrows(byte[] input) {
        checkEveryWay(input);
        if (startsWithHandshakeRecord(input)) {
            checkEveryWay(reframeRecordPayload(input));
        }
    }

    private static void checkEveryWay(byte[] input) {
        for (boolean endOfStream : new boolean[] {false, true}) {
            assertConsistent(input, ParserHarness.parse(input, endOfStream), endOfStream);
            assertConsistent(input, ParserHarness.parse(input, SMALL_LIMIT, endOfStream), endOfStream);
        }
    }

    private static void assertConsistent(byte[] input, ParserHarness.Parsed verdict, boolean endOfStream) {
        if (verdict.hello() != null) {
            // Whatever the fuzzer makes that parses, the second JA4 computation agrees.
            assertThat(verdict.hello().ja4()).isEqualTo(NaiveJa4.of(input));
        }
        switch (verdict.status()) {
            case NEED_MORE -> assertThat(endOfStream).as("undecided at end of stream").isFalse();
            case COMPLETE -> {
                String sni = verdict.hello().sni();
                assertThat(HostNames.isValidServerName(sni)).as("valid SNI %s", sni).isTrue();
                assertThat(HostNames.normalize(sni)).isEqualTo(sni);
            }
            case REJECT -> assertThat(verdict.reason()).isNotNull();
        }
    }

    private static boolean startsWithHandshakeRecord(byte[] input) {
        return input.length > 5 && input[0] == TestHellos.HANDSHAKE;
    }

    /**
     * Treats everything after the first record header as handshake bytes and frames them into
     * records of a size the input itself chooses, so the fuzzer also drives the reassembly path.
     */
    private static byte[] reframeRecordPayload(byte[] input) {
        int pieceSize = 1 + (input[input.length - 1] & 0x3f);
        ByteArrayOutputStream out = new ByteArrayOutputStream(input.length * 2);
        for (int from = 5; from < input.length; from += pieceSize) {
            int length = Math.min(pieceSize, input.length - from);
            out.write(TestHellos.HANDSHAKE);
            out.write(input[1]);
            out.write(input[2]);
            out.writeBytes(TestHellos.u16(length));
            out.write(input, from, length);
        }
        return out.toByteArray();
    }
}
