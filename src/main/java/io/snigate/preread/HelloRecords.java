package io.snigate.preread;

import static io.snigate.core.TlsRecord.CONTENT_TYPE_HANDSHAKE;
import static io.snigate.preread.TlsWire.HANDSHAKE_HEADER_LENGTH;
import static io.snigate.preread.TlsWire.HANDSHAKE_TYPE_CLIENT_HELLO;
import static io.snigate.preread.TlsWire.MAX_RECORD_PAYLOAD;
import static io.snigate.preread.TlsWire.RECORD_HEADER_LENGTH;

import io.netty.buffer.ByteBuf;
import io.snigate.core.ClientHelloSink;
import io.snigate.core.Reason;
import io.snigate.core.TlsRecord;

/**
 * The record layer under a ClientHello (RFC 8446 §5.1): walks the handshake records that carry
 * it, checking each header as soon as it is visible, and hands the message to
 * {@link ClientHelloFields} once every record that carries part of it has arrived whole.
 *
 * <p>Only whole records are inspected and forwarded: the upstream never receives a record of
 * which the pre-read saw only a part. The ClientHello must also end exactly where its last record
 * ends. A record that goes on past the hello can only carry more handshake bytes, which no
 * client's first flight holds in any TLS version, and which TLS 1.3 forbids outright (§5.1: a
 * ClientHello must be aligned with a record boundary); such a record is {@link Reason#MALFORMED}
 * as soon as its header shows it. Records after the hello's last one are the client's next flight
 * (a ChangeCipherSpec, early data) and are forwarded without being read, however many there are.
 */
final class HelloRecords {
    /**
     * How many records a ClientHello may be cut into. Real clients use one or two; a hello not
     * complete after this many is {@link Reason#CLIENT_HELLO_TOO_LARGE}. Each read parses the
     * records from the first, so the count bounds that work as the byte limit bounds the buffer.
     */
    static final int MAX_FRAMING_RECORDS = 64;

    private HelloRecords() {}

    /**
     * The verdict on {@code [start, end)}, which opens with a handshake record's content type.
     *
     * @param maxClientHelloBytes the largest ClientHello handshake body accepted
     */
    static PrereadVerdict parse(
            ByteBuf buf, int start, int end, int maxClientHelloBytes, boolean endOfStream, ClientHelloSink sink) {
        long maxFramedBytes = (long) maxClientHelloBytes
                + HANDSHAKE_HEADER_LENGTH
                + (long) MAX_FRAMING_RECORDS * RECORD_HEADER_LENGTH;
        int recordVersion = -1;
        int handshakeHeader = 0;
        int handshakeHeaderSeen = 0;
        long messageLength = -1; // handshake header + body, once the header is visible
        long handshakeBytesBefore = 0; // fragment bytes of the whole records before this one
        int records = 0;
        int pos = start;
        while (true) {
            if (pos - start > maxFramedBytes) {
                return PrereadVerdict.reject(Reason.CLIENT_HELLO_TOO_LARGE);
            }
            boolean firstRecord = records == 0;
            int available = end - pos;
            if (available < RECORD_HEADER_LENGTH) {
                PrereadVerdict early = checkPartialRecordHeader(buf, pos, available, firstRecord);
                return early != null ? early : incompleteHello(start, end, maxFramedBytes, endOfStream);
            }
            int contentType = buf.getUnsignedByte(pos);
            int version = buf.getUnsignedShort(pos + 1);
            int fragmentLength = buf.getUnsignedShort(pos + 3);
            if (firstRecord) {
                if (version >>> 8 != TlsRecord.VERSION_MAJOR) {
                    return PrereadVerdict.reject(Reason.NOT_TLS);
                }
                recordVersion = version;
            } else if (contentType != CONTENT_TYPE_HANDSHAKE || version >>> 8 != TlsRecord.VERSION_MAJOR) {
                return PrereadVerdict.reject(Reason.MALFORMED);
            }
            if (fragmentLength == 0 || fragmentLength > MAX_RECORD_PAYLOAD) {
                return PrereadVerdict.reject(Reason.MALFORMED);
            }
            int fragmentStart = pos + RECORD_HEADER_LENGTH;
            int fragmentReceived = Math.min(fragmentLength, end - fragmentStart);
            for (int i = 0; handshakeHeaderSeen < HANDSHAKE_HEADER_LENGTH && i < fragmentReceived; i++) {
                handshakeHeader = handshakeHeader << 8 | buf.getUnsignedByte(fragmentStart + i);
                if (++handshakeHeaderSeen == HANDSHAKE_HEADER_LENGTH) {
                    if (handshakeHeader >>> 24 != HANDSHAKE_TYPE_CLIENT_HELLO) {
                        return PrereadVerdict.reject(Reason.MALFORMED);
                    }
                    int bodyLength = handshakeHeader & 0xffffff;
                    if (bodyLength > maxClientHelloBytes) {
                        return PrereadVerdict.reject(Reason.CLIENT_HELLO_TOO_LARGE);
                    }
                    messageLength = HANDSHAKE_HEADER_LENGTH + bodyLength;
                }
            }
            long handshakeBytesAfter = handshakeBytesBefore + fragmentLength;
            if (messageLength >= 0 && handshakeBytesAfter > messageLength) {
                return PrereadVerdict.reject(Reason.MALFORMED); // the record goes on past the hello
            }
            if (fragmentReceived < fragmentLength) {
                return incompleteHello(start, end, maxFramedBytes, endOfStream);
            }
            records++;
            if (handshakeBytesAfter == messageLength) {
                sink.helloRecordBytes(fragmentStart + fragmentLength - start);
                return parseHandshakeMessage(buf, start, records, (int) messageLength, recordVersion, sink);
            }
            if (records == MAX_FRAMING_RECORDS) {
                return PrereadVerdict.reject(Reason.CLIENT_HELLO_TOO_LARGE);
            }
            handshakeBytesBefore = handshakeBytesAfter;
            pos = fragmentStart + fragmentLength;
        }
    }

    /** Rejects early on what a record header's first bytes already show, or returns null. */
    private static PrereadVerdict checkPartialRecordHeader(
            ByteBuf buf, int pos, int available, boolean firstRecord) {
        if (firstRecord) {
            if (available >= 2 && buf.getUnsignedByte(pos + 1) != 3) {
                return PrereadVerdict.reject(Reason.NOT_TLS);
            }
            return null;
        }
        if (available >= 1 && buf.getUnsignedByte(pos) != CONTENT_TYPE_HANDSHAKE) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        if (available >= 2 && buf.getUnsignedByte(pos + 1) != 3) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        return null;
    }

    /**
     * The answer while the hello's records are not all whole, so every received byte belongs to
     * them. Only bytes of such records count towards the size limit: bytes after a complete hello
     * are the client's next flight and are forwarded, however many there are.
     */
    private static PrereadVerdict incompleteHello(int start, int end, long maxFramedBytes, boolean endOfStream) {
        if (end - start > maxFramedBytes) {
            return PrereadVerdict.reject(Reason.CLIENT_HELLO_TOO_LARGE);
        }
        return endOfStream ? PrereadVerdict.reject(Reason.MALFORMED) : PrereadVerdict.NEED_MORE;
    }

    /**
     * Parses the complete handshake message: in place when one record carries it (the common
     * case), else from a copy of its fragments, which are exactly its bytes, in this thread's
     * reassembly buffer.
     */
    private static PrereadVerdict parseHandshakeMessage(
            ByteBuf buf, int start, int records, int messageLength, int recordVersion, ClientHelloSink sink) {
        if (records == 1) {
            int bodyStart = start + RECORD_HEADER_LENGTH + HANDSHAKE_HEADER_LENGTH;
            return ClientHelloFields.parse(buf, bodyStart, start + RECORD_HEADER_LENGTH + messageLength,
                    recordVersion, sink);
        }
        ByteBuf message = ParseScratch.get().messageBuffer(messageLength);
        int pos = start;
        int copied = 0;
        for (int r = 0; r < records; r++) {
            int fragmentLength = buf.getUnsignedShort(pos + 3);
            message.setBytes(copied, buf, pos + RECORD_HEADER_LENGTH, fragmentLength);
            copied += fragmentLength;
            pos += RECORD_HEADER_LENGTH + fragmentLength;
        }
        return ClientHelloFields.parse(message, HANDSHAKE_HEADER_LENGTH, messageLength, recordVersion, sink);
    }
}
