package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.snigate.core.ClientHelloSink;
import io.snigate.core.Reason;
import io.snigate.core.TlsRecord;

/**
 * Decides from a connection's first bytes whether it opens with a TLS ClientHello, and if so
 * extracts what routing and the log need (SNI, ALPN, versions, ECH, the JA4 fingerprint) without
 * decrypting anything.
 *
 * <p>The parser is stateless: it is handed the whole cumulation every time more bytes arrive and
 * answers {@link PrereadVerdict#NEED_MORE} until it can decide. It reads with absolute getters,
 * so the caller's buffer indexes and reference count are never touched, and it never trusts a
 * length field before checking it against the bytes that are really there: any input, however
 * hostile, ends in a verdict rather than an exception.
 *
 * <p>A parse allocates nothing but the strings it reports: the facts of a parsed hello go to the
 * caller's {@link ClientHelloSink}, every verdict is a shared constant, and names are decoded,
 * hellos reassembled and fingerprints hashed in buffers reused per thread ({@link ParseScratch}).
 *
 * <p>The work is split as a connection meets it: {@link NonTlsOpeners} names what is not TLS,
 * {@link HelloRecords} frames the records that carry the hello, {@link HelloLayout} finds its
 * fields and extensions in one pass, and {@link ClientHelloFields} reads them, with
 * {@link ServerNames}, {@link AlpnNames} and {@link Ja4}.
 */
public final class ClientHelloParser {

    private ClientHelloParser() {}

    /**
     * Classifies the readable bytes of {@code buf}. When they hold a whole ClientHello that parses,
     * its facts go to {@code sink} before the verdict is returned: once, whether the hello is
     * forwarded or rejected for its name ({@link Reason#NO_SNI}, {@link Reason#INVALID_SNI}).
     *
     * @param buf everything the client has sent so far; only read, never modified or released
     * @param maxClientHelloBytes the largest ClientHello handshake body accepted
     * @param endOfStream whether the client has stopped sending, so no more bytes will come
     * @param sink told what a parsed ClientHello holds
     * @return one of the shared verdicts
     */
    public static PrereadVerdict parse(
            ByteBuf buf, int maxClientHelloBytes, boolean endOfStream, ClientHelloSink sink) {
        int start = buf.readerIndex();
        int end = buf.writerIndex();
        if (start >= end) {
            return endOfStream ? PrereadVerdict.reject(Reason.CLIENT_CLOSED) : PrereadVerdict.NEED_MORE;
        }
        if (buf.getUnsignedByte(start) == TlsRecord.CONTENT_TYPE_HANDSHAKE) {
            return HelloRecords.parse(buf, start, end, maxClientHelloBytes, endOfStream, sink);
        }
        return NonTlsOpeners.classify(buf, start, end, endOfStream);
    }
}
