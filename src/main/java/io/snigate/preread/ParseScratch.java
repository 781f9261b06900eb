package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.FastThreadLocal;

/**
 * What every parse on a thread reuses, so that a parse allocates only the strings it reports. A
 * parse runs synchronously on the connection's event loop and is done with all of it before it
 * calls its sink, so no two parses share it.
 */
final class ParseScratch {
    /** An ALPN protocol name is at most 255 bytes; a valid host name 253, or 254 with its trailing dot. */
    static final int MAX_DECODED_LENGTH = 255;

    private static final FastThreadLocal<ParseScratch> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected ParseScratch initialValue() {
            return new ParseScratch();
        }
    };

    /** One string's bytes while it is decoded: a host name or an ALPN protocol. */
    final byte[] text = new byte[MAX_DECODED_LENGTH];

    final HelloLayout layout = new HelloLayout();

    final Ja4 ja4 = new Ja4();

    /**
     * A hello that spans records, reassembled. It grows to the largest such hello seen on the
     * thread, which the size limit bounds, and is never released: it holds no pooled memory.
     */
    private ByteBuf message = Unpooled.EMPTY_BUFFER;

    private ParseScratch() {}

    static ParseScratch get() {
        return SCRATCH.get();
    }

    /** A buffer of at least {@code length} bytes, written and read with absolute indexes. */
    ByteBuf messageBuffer(int length) {
        if (message.capacity() < length) {
            message = Unpooled.wrappedBuffer(new byte[length]);
        }
        return message;
    }
}
