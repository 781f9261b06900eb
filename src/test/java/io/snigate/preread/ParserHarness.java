package io.snigate.preread;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * Runs the parser the way the proxy does, on a buffer whose readable bytes sit between foreign
 * bytes on both sides, and checks that the parser left the buffer exactly as it found it.
 */
final class ParserHarness {

    static final int DEFAULT_MAX_HELLO = 16 * 1024;

    /** Surrounds the readable bytes so that a read outside them would see something other than zeros. */
    private static final byte[] FENCE = {0x16, 0x03, 0x01, 0x7f, (byte) 0xff, 0x01};

    private ParserHarness() {}

    static PrereadVerdict parse(byte[] bytes, boolean endOfStream) {
        return parse(bytes, DEFAULT_MAX_HELLO, endOfStream);
    }

    static PrereadVerdict parse(byte[] bytes, int maxClientHelloBytes, boolean endOfStream) {
        return parse(bytes, 0, bytes.length, maxClientHelloBytes, endOfStream);
    }

    static PrereadVerdict parse(byte[] bytes, int from, int to, int maxClientHelloBytes, boolean endOfStream) {
        // Heap, not direct: under the paranoid leak detector every read of a tracked direct buffer
        // records a stack trace, which makes the many-input tests slow without testing more.
        ByteBuf buf = Unpooled.buffer(FENCE.length + (to - from) + FENCE.length);
        try {
            buf.writeBytes(FENCE).writeBytes(bytes, from, to - from).writeBytes(FENCE);
            buf.readerIndex(FENCE.length).writerIndex(FENCE.length + (to - from));
            int readerIndex = buf.readerIndex();
            int writerIndex = buf.writerIndex();
            PrereadVerdict verdict = ClientHelloParser.parse(buf, maxClientHelloBytes, endOfStream);
            assertThat(verdict).isNotNull();
            assertThat(buf.readerIndex()).as("readerIndex").isEqualTo(readerIndex);
            assertThat(buf.writerIndex()).as("writerIndex").isEqualTo(writerIndex);
            assertThat(buf.refCnt()).as("refCnt").isEqualTo(1);
            return verdict;
        } finally {
            buf.release();
        }
    }
}
