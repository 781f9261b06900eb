package io.snigate.preread;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.snigate.core.ClientHelloSink;
import io.snigate.core.Reason;
import io.snigate.preread.PrereadVerdict.Status;
import java.util.List;

/**
 * Runs the parser the way the proxy does, on a buffer whose readable bytes sit between foreign
 * bytes on both sides, and checks that the parser left the buffer exactly as it found it, answered
 * with a shared verdict, and reported a ClientHello's facts exactly when it parsed one.
 */
final class ParserHarness {

    static final int DEFAULT_MAX_HELLO = 16 * 1024;

    /** Surrounds the readable bytes so that a read outside them would see something other than zeros. */
    private static final byte[] FENCE = {0x16, 0x03, 0x01, 0x7f, (byte) 0xff, 0x01};

    private ParserHarness() {}

    /** The facts of one ClientHello as the parser reported them to its sink. */
    record Hello(String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion, String ja4) {}

    /**
     * One parse: its verdict, and what it reported, or null when it reported nothing.
     *
     * @param hello for {@link Reason#INVALID_SNI} its sni is the escaped name as sent
     */
    record Parsed(PrereadVerdict verdict, Hello hello) {
        Status status() {
            return verdict.status();
        }

        Reason reason() {
            return verdict.reason();
        }

        boolean needsMore() {
            return verdict.needsMore();
        }

        /** The name an {@link Reason#INVALID_SNI} verdict logs, else null. */
        String rawSni() {
            return reason() == Reason.INVALID_SNI ? hello.sni() : null;
        }
    }

    /** Keeps what the parser reports, and fails if it reports twice. */
    static final class CollectingSink implements ClientHelloSink {
        private Hello hello;

        @Override
        public void clientHello(
                String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion, String ja4) {
            assertThat(hello).as("facts already reported: %s", hello).isNull();
            hello = new Hello(sni, alpn, tlsVersion, ech, recordVersion, ja4);
        }

        Hello hello() {
            return hello;
        }
    }

    static Parsed parse(byte[] bytes, boolean endOfStream) {
        return parse(bytes, DEFAULT_MAX_HELLO, endOfStream);
    }

    static Parsed parse(byte[] bytes, int maxClientHelloBytes, boolean endOfStream) {
        return parse(bytes, 0, bytes.length, maxClientHelloBytes, endOfStream);
    }

    static Parsed parse(byte[] bytes, int from, int to, int maxClientHelloBytes, boolean endOfStream) {
        // Heap, not direct: under the paranoid leak detector every read of a tracked direct buffer
        // records a stack trace, which makes the many-input tests slow without testing more.
        ByteBuf buf = Unpooled.buffer(FENCE.length + (to - from) + FENCE.length);
        try {
            buf.writeBytes(FENCE).writeBytes(bytes, from, to - from).writeBytes(FENCE);
            buf.readerIndex(FENCE.length).writerIndex(FENCE.length + (to - from));
            int readerIndex = buf.readerIndex();
            int writerIndex = buf.writerIndex();
            CollectingSink sink = new CollectingSink();
            PrereadVerdict verdict = ClientHelloParser.parse(buf, maxClientHelloBytes, endOfStream, sink);
            assertThat(buf.readerIndex()).as("readerIndex").isEqualTo(readerIndex);
            assertThat(buf.writerIndex()).as("writerIndex").isEqualTo(writerIndex);
            assertThat(buf.refCnt()).as("refCnt").isEqualTo(1);
            Parsed parsed = new Parsed(verdict, sink.hello());
            assertShared(verdict);
            assertReportedExactlyForAParsedHello(parsed);
            return parsed;
        } finally {
            buf.release();
        }
    }

    private static void assertShared(PrereadVerdict verdict) {
        PrereadVerdict shared = switch (verdict.status()) {
            case NEED_MORE -> PrereadVerdict.NEED_MORE;
            case COMPLETE -> PrereadVerdict.COMPLETE;
            case REJECT -> PrereadVerdict.reject(verdict.reason());
        };
        assertThat(verdict).as("a shared verdict").isSameAs(shared);
    }

    private static void assertReportedExactlyForAParsedHello(Parsed parsed) {
        boolean helloParsed = parsed.verdict().isComplete()
                || parsed.reason() == Reason.NO_SNI
                || parsed.reason() == Reason.INVALID_SNI;
        if (!helloParsed) {
            assertThat(parsed.hello()).as("facts reported for %s", parsed.verdict()).isNull();
            return;
        }
        assertThat(parsed.hello()).as("facts of a parsed hello (%s)", parsed.verdict()).isNotNull();
        assertThat(parsed.hello().ja4()).as("JA4 of a parsed hello").hasSize(Ja4.LENGTH);
        if (parsed.reason() == Reason.NO_SNI) {
            assertThat(parsed.hello().sni()).isNull();
        } else {
            assertThat(parsed.hello().sni()).isNotNull();
        }
    }
}
