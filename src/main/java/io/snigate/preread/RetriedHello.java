package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.snigate.core.ClientHelloSink;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import java.util.List;
import java.util.Objects;

/**
 * {@link HelloRetryCheck} by the pre-read's own parser. The server's first record is a ServerHello
 * whose random is RFC 8446's fixed value for a HelloRetryRequest, or the check is over at once:
 * most connections cost it one look at their first server bytes. After a retry, what the client
 * sends before its second hello (a compatibility ChangeCipherSpec, 0-RTT data that was already on
 * its way) is held with it and sent on together.
 */
public final class RetriedHello implements HelloRetryCheck, ClientHelloSink {
    /** SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3), a ServerHello's random that asks for a retry. */
    private static final byte[] RETRY_RANDOM = {
        (byte) 0xCF, 0x21, (byte) 0xAD, 0x74, (byte) 0xE5, (byte) 0x9A, 0x61, 0x11,
        (byte) 0xBE, 0x1D, (byte) 0x8C, 0x02, 0x1E, 0x65, (byte) 0xB8, (byte) 0x91,
        (byte) 0xC2, (byte) 0xA2, 0x11, 0x16, 0x7A, (byte) 0xBB, (byte) 0x8C, 0x5E,
        0x07, (byte) 0x9E, 0x09, (byte) 0xE2, (byte) 0xC8, (byte) 0xA8, 0x33, (byte) 0x9C
    };
    private static final int CONTENT_TYPE_CHANGE_CIPHER_SPEC = 20;
    private static final int CONTENT_TYPE_ALERT = 21;
    private static final int CONTENT_TYPE_APPLICATION_DATA = 23;
    private static final int HANDSHAKE_SERVER_HELLO = 2;
    /** Record header (5), handshake header (4), legacy_version (2): where a ServerHello's random starts. */
    private static final int RANDOM_AT = 11;
    private static final int HEAD_BYTES = RANDOM_AT + RETRY_RANDOM.length;
    /**
     * What may come before the second hello besides it: a ChangeCipherSpec, an alert, 0-RTT data
     * already sent. Small: each read parses what is held again, as the pre-read does.
     */
    private static final int MORE_BEFORE_THE_HELLO = 4 * 1024;
    /** {@link #secondHelloAt}'s answers other than a place. */
    private static final int NEED_MORE = -1;
    private static final int NO_HELLO = -2;

    private final ConnectionRecord first;
    private final int maxClientHelloBytes;
    private final ByteBufAllocator alloc;
    /** The server's first bytes, when they came in pieces shorter than {@link #HEAD_BYTES}. */
    private byte[] head;
    private int headLength;
    private boolean serverSeen;
    private CompositeByteBuf held;
    private Reason refused;
    private String sni;
    private List<String> alpn;
    private int tlsVersion;
    private boolean ech;

    private RetriedHello(ConnectionRecord first, int maxClientHelloBytes, ByteBufAllocator alloc) {
        this.first = first;
        this.maxClientHelloBytes = maxClientHelloBytes;
        this.alloc = alloc;
    }

    /** The check for a connection whose first hello is {@code first}'s, or null when no retry can come. */
    public static HelloRetryCheck of(ConnectionRecord first, int maxClientHelloBytes, ByteBufAllocator alloc) {
        return first.tlsVersionCode() >= TlsVersions.TLS_1_3 ? new RetriedHello(first, maxClientHelloBytes, alloc) : null;
    }

    @Override
    public boolean serverSent(ByteBuf bytes) {
        if (serverSeen) {
            return true;
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
                return false;
            }
            from = Unpooled.wrappedBuffer(head, 0, headLength);
        }
        serverSeen = true;
        if (from.readableBytes() >= HEAD_BYTES && asksForRetry(from, from.readerIndex())) {
            held = alloc.compositeBuffer(Integer.MAX_VALUE);
        }
        head = null;
        return true;
    }

    /** Whether the first bytes so far already show something other than a ServerHello. */
    private static boolean notAServerHello(byte[] bytes, int length) {
        return bytes[0] != TlsWire.CONTENT_TYPE_HANDSHAKE || (length > 5 && bytes[5] != HANDSHAKE_SERVER_HELLO);
    }

    private static boolean asksForRetry(ByteBuf b, int at) {
        if (b.getUnsignedByte(at) != TlsWire.CONTENT_TYPE_HANDSHAKE || b.getUnsignedByte(at + 5) != HANDSHAKE_SERVER_HELLO) {
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
    public boolean holdingClient() {
        return held != null;
    }

    @Override
    public ByteBuf clientSent(ByteBuf bytes, boolean endOfStream) {
        held.addComponent(true, bytes);
        if (held.readableBytes() > maxClientHelloBytes + MORE_BEFORE_THE_HELLO) {
            return refuse(Reason.CLIENT_HELLO_TOO_LARGE);
        }
        int hello = secondHelloAt(held, endOfStream);
        if (hello < 0) {
            return hello == NEED_MORE ? null : handOver();
        }
        PrereadVerdict verdict = ClientHelloParser.parse(
                held.slice(hello, held.writerIndex() - hello), maxClientHelloBytes, endOfStream, this);
        switch (verdict.status()) {
            case NEED_MORE -> {
                return null;
            }
            case COMPLETE -> {
                if (asksForTheSame()) {
                    return handOver();
                }
                return refuse(Reason.MALFORMED);
            }
            default -> {
                return refuse(verdict.reason());
            }
        }
    }

    /**
     * Where the second hello's first record starts, past the records that may come before it;
     * {@link #NEED_MORE}, or {@link #NO_HELLO} when the client sends something no TLS client
     * sends there, which then goes on unchecked (the server refuses it).
     */
    private static int secondHelloAt(ByteBuf b, boolean endOfStream) {
        int at = b.readerIndex();
        while (b.writerIndex() - at >= 5) {
            int type = b.getUnsignedByte(at);
            if (type == TlsWire.CONTENT_TYPE_HANDSHAKE) {
                return at;
            }
            if (type != CONTENT_TYPE_CHANGE_CIPHER_SPEC && type != CONTENT_TYPE_APPLICATION_DATA && type != CONTENT_TYPE_ALERT) {
                return NO_HELLO;
            }
            at += 5 + b.getUnsignedShort(at + 3);
        }
        return endOfStream ? NO_HELLO : NEED_MORE;
    }

    private boolean asksForTheSame() {
        return Objects.equals(sni, first.sni()) && Objects.equals(alpn, first.alpn())
                && tlsVersion == first.tlsVersionCode() && Boolean.valueOf(ech).equals(first.ech());
    }

    /** Everything held, in one direct buffer: the relay's sockets write from memory addresses. */
    private ByteBuf handOver() {
        try {
            return alloc.directBuffer(held.readableBytes()).writeBytes(held);
        } finally {
            release();
        }
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
