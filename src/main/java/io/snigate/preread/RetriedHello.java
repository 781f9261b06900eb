package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.snigate.core.ClientHelloSink;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import io.snigate.core.TlsRecord;
import io.snigate.core.TlsVersions;
import java.util.List;
import java.util.Objects;

/**
 * {@link HelloRetryCheck} by the pre-read's own parser. The server's first record is a ServerHello
 * whose random is RFC 8446's fixed value for a HelloRetryRequest, or the check is over at once:
 * most connections cost it one look at their first server bytes. Until then the client's records
 * after its first hello are walked by their headers (passed on as they come, never held): a
 * ChangeCipherSpec, an alert and early data may come, a handshake record may not. After a retry,
 * the walk goes on, and reads go on as they come until one holds the start of a handshake record:
 * from that read on, the client's bytes are held, in one buffer, until the second hello is whole.
 */
public final class RetriedHello implements HelloRetryCheck, ClientHelloSink {
    /** SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3), a ServerHello's random that asks for a retry. */
    private static final byte[] RETRY_RANDOM = {
        (byte) 0xCF, 0x21, (byte) 0xAD, 0x74, (byte) 0xE5, (byte) 0x9A, 0x61, 0x11,
        (byte) 0xBE, 0x1D, (byte) 0x8C, 0x02, 0x1E, 0x65, (byte) 0xB8, (byte) 0x91,
        (byte) 0xC2, (byte) 0xA2, 0x11, 0x16, 0x7A, (byte) 0xBB, (byte) 0x8C, 0x5E,
        0x07, (byte) 0x9E, 0x09, (byte) 0xE2, (byte) 0xC8, (byte) 0xA8, 0x33, (byte) 0x9C
    };
    /** Record header (5), handshake header (4), legacy_version (2): where a ServerHello's random starts. */
    private static final int RANDOM_AT = 11;
    private static final int HEAD_BYTES = RANDOM_AT + RETRY_RANDOM.length;
    /**
     * Room past the largest hello for its records' headers (64 at most, as the pre-read allows).
     * Small: each read parses what is held again, as the pre-read does.
     */
    private static final int RECORD_HEADERS_ROOM = 4 * 1024;
    /** {@link #nextHandshakeRecord}'s answers other than a place. */
    private static final int NONE_YET = -1;
    private static final int NOT_TLS = -2;

    private final ConnectionRecord first;
    private final int maxClientHelloBytes;
    private final long secondHelloWithinMillis;
    private final ByteBufAllocator alloc;
    /** The server's first bytes, when they came in pieces shorter than {@link #HEAD_BYTES}. */
    private byte[] head;
    private int headLength;
    private boolean over;
    /** The server asked for a retry. */
    private boolean retried;
    /** The client's bytes from the read that holds the second hello's start, or null. */
    private ByteBuf held;
    /** Where the second hello's first record starts in {@link #held}. */
    private int secondHelloAt;
    private Reason refused;
    /** The client's stream: bytes of its first hello still to come, then of the current record. */
    private int firstHelloLeft;
    private int recordLeft;
    /** How much of the next record header has been seen (0 to 4), and its length so far. */
    private int headerSeen;
    private int headerLength;
    private String sni;
    private List<String> alpn;
    private int tlsVersion;
    private boolean ech;

    private RetriedHello(ConnectionRecord first, int maxClientHelloBytes, long secondHelloWithinMillis,
            ByteBufAllocator alloc) {
        this.first = first;
        this.maxClientHelloBytes = maxClientHelloBytes;
        this.secondHelloWithinMillis = secondHelloWithinMillis;
        this.alloc = alloc;
        this.firstHelloLeft = first.helloRecordBytes();
    }

    /**
     * The check for a connection whose first hello is {@code first}'s, or null when no retry can
     * come. The client's bytes it is shown start with that hello. {@code secondHelloWithinMillis}:
     * the pre-read's timeout, which the second hello has from the retry request, as the first had.
     */
    public static HelloRetryCheck of(ConnectionRecord first, int maxClientHelloBytes, long secondHelloWithinMillis,
            ByteBufAllocator alloc) {
        return first.tlsVersionCode() >= TlsVersions.TLS_1_3 && first.helloRecordBytes() > 0
                ? new RetriedHello(first, maxClientHelloBytes, secondHelloWithinMillis, alloc)
                : null;
    }

    @Override
    public void serverSent(ByteBuf bytes) {
        if (over || retried || !bytes.isReadable()) {
            return;
        }
        ByteBuf from = bytes;
        if (headLength > 0 || bytes.readableBytes() < HEAD_BYTES) {
            if (head == null) {
                head = new byte[HEAD_BYTES];
            }
            int n = Math.min(HEAD_BYTES - headLength, bytes.readableBytes());
            bytes.getBytes(bytes.readerIndex(), head, headLength, n);
            headLength += n;
            if (headLength < HEAD_BYTES && !notAServerHello(head, headLength)) {
                return;
            }
            from = Unpooled.wrappedBuffer(head, 0, headLength);
        }
        head = null;
        if (from.readableBytes() >= HEAD_BYTES && asksForRetry(from, from.readerIndex())) {
            retried = true;
        } else {
            over = true;
        }
    }

    /** Whether the first bytes so far already show something other than a ServerHello. */
    private static boolean notAServerHello(byte[] bytes, int length) {
        return bytes[0] != TlsRecord.CONTENT_TYPE_HANDSHAKE || (length > 5 && bytes[5] != TlsWire.HANDSHAKE_TYPE_SERVER_HELLO);
    }

    private static boolean asksForRetry(ByteBuf b, int at) {
        if (b.getUnsignedByte(at) != TlsRecord.CONTENT_TYPE_HANDSHAKE || b.getUnsignedByte(at + 5) != TlsWire.HANDSHAKE_TYPE_SERVER_HELLO) {
            return false;
        }
        for (int i = 0; i < RETRY_RANDOM.length; i++) {
            if (b.getByte(at + RANDOM_AT + i) != RETRY_RANDOM[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean awaitingSecondHello() {
        return retried && !over && refused == null;
    }

    @Override
    public long secondHelloWithinMillis() {
        return secondHelloWithinMillis;
    }

    @Override
    public boolean holdingClient() {
        return held != null;
    }

    @Override
    public boolean over() {
        return over;
    }

    @Override
    public ByteBuf clientSent(ByteBuf bytes, boolean endOfStream) {
        if (over || refused != null) {
            return bytes;
        }
        if (!retried) {
            return beforeTheServer(bytes);
        }
        if (held == null) {
            int at = nextHandshakeRecord(bytes, bytes.readerIndex(), bytes.writerIndex());
            if (at == NOT_TLS) {
                over = true; // unchecked: the server refuses what is no TLS record
                return bytes;
            }
            if (at == NONE_YET) {
                return bytes; // a ChangeCipherSpec, an alert, early data the server skips: on at once
            }
            secondHelloAt = at - bytes.readerIndex();
        }
        try {
            if (held == null) {
                held = alloc.directBuffer(bytes.readableBytes());
            }
            held.writeBytes(bytes);
        } finally {
            bytes.release();
        }
        PrereadVerdict verdict = ClientHelloParser.parse(
                held.slice(secondHelloAt, held.writerIndex() - secondHelloAt), maxClientHelloBytes, endOfStream, this);
        switch (verdict.status()) {
            case NEED_MORE -> {
                // Bounded as the pre-read is; bytes after a whole hello are the client's next flight.
                return held.writerIndex() - secondHelloAt > maxClientHelloBytes + RECORD_HEADERS_ROOM
                        ? refuse(Reason.CLIENT_HELLO_TOO_LARGE)
                        : null;
            }
            case COMPLETE -> {
                return asksForTheSame() ? handOver() : refuse(Reason.MALFORMED);
            }
            default -> {
                return refuse(verdict.reason());
            }
        }
    }

    /**
     * The client's bytes before the server has answered: passed on, unless a handshake record
     * follows the first hello (a second hello sent ahead of a retry request it expects).
     */
    private ByteBuf beforeTheServer(ByteBuf bytes) {
        int at = nextHandshakeRecord(bytes, bytes.readerIndex(), bytes.writerIndex());
        if (at == NOT_TLS) {
            over = true;
        } else if (at >= 0) {
            bytes.release();
            return refuse(Reason.MALFORMED);
        }
        return bytes;
    }

    /**
     * Walks the client's records over {@code [at, end)} of {@code b}, which go on from where the
     * last call ended: the first hello's records, then each record by its header. Returns where a
     * handshake record starts (its first byte, the walk stopping there), {@link #NONE_YET}, or
     * {@link #NOT_TLS} for a content type no TLS client sends.
     */
    private int nextHandshakeRecord(ByteBuf b, int at, int end) {
        while (at < end) {
            if (firstHelloLeft > 0 || recordLeft > 0) {
                int n = Math.min(firstHelloLeft > 0 ? firstHelloLeft : recordLeft, end - at);
                if (firstHelloLeft > 0) {
                    firstHelloLeft -= n;
                } else {
                    recordLeft -= n;
                }
                at += n;
                continue;
            }
            int value = b.getUnsignedByte(at);
            if (headerSeen == 0) {
                if (value == TlsRecord.CONTENT_TYPE_HANDSHAKE) {
                    return at;
                }
                if (value != TlsRecord.CONTENT_TYPE_CHANGE_CIPHER_SPEC && value != TlsRecord.CONTENT_TYPE_ALERT
                        && value != TlsRecord.CONTENT_TYPE_APPLICATION_DATA) {
                    return NOT_TLS;
                }
            } else if (headerSeen >= 3) {
                headerLength = headerLength << 8 | value;
            }
            at++;
            if (++headerSeen == TlsWire.RECORD_HEADER_LENGTH) {
                recordLeft = headerLength;
                headerSeen = 0;
                headerLength = 0;
            }
        }
        return NONE_YET;
    }

    private boolean asksForTheSame() {
        return Objects.equals(sni, first.sni()) && Objects.equals(alpn, first.alpn())
                && tlsVersion == first.tlsVersionCode() && Boolean.valueOf(ech).equals(first.ech());
    }

    /** Everything held, the second hello last: the relay's sockets write from memory addresses, as a direct buffer has. */
    private ByteBuf handOver() {
        over = true;
        ByteBuf passed = held;
        held = null;
        return passed;
    }

    private ByteBuf refuse(Reason reason) {
        refused = reason;
        release();
        return null;
    }

    @Override
    public Reason refused() {
        return refused;
    }

    @Override
    public void release() {
        if (held != null) {
            held.release();
            held = null;
        }
    }

    @Override
    public void clientHello(String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion, String ja4) {
        this.sni = sni;
        this.alpn = alpn;
        this.tlsVersion = tlsVersion;
        this.ech = ech;
    }
}
