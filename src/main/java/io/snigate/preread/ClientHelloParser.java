package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.FastThreadLocal;
import io.snigate.core.ClientHelloSink;
import io.snigate.core.HostNames;
import io.snigate.core.Reason;
import java.nio.charset.StandardCharsets;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.RandomAccess;

/**
 * Decides from a connection's first bytes whether it opens with a TLS ClientHello, and if so
 * extracts what routing needs (SNI, ALPN, versions) without decrypting anything.
 *
 * <p>The parser is stateless: it is handed the whole cumulation every time more bytes arrive and
 * answers {@link PrereadVerdict#NEED_MORE} until it can decide. It reads with absolute getters,
 * so the caller's buffer indexes and reference count are never touched, and it never trusts a
 * length field before checking it against the bytes that are really there: any input, however
 * hostile, ends in a verdict rather than an exception.
 *
 * <p>A parse allocates nothing but the strings it reports: the facts of a parsed hello go to the
 * caller's {@link ClientHelloSink}, every verdict is a shared constant, and names are decoded and
 * hellos reassembled in buffers reused per thread.
 *
 * <p>Non-TLS openers are told apart so the log can say why: {@code CONNECT} (matched
 * case-insensitively, since a proxy client misconfigured this way is worth recognising), other
 * HTTP/1 request lines (methods matched case-sensitively, as HTTP defines them) and the HTTP/2
 * preface. Everything else that is not a TLS handshake record, including SSLv2-style hellos, is
 * {@link Reason#NOT_TLS}.
 */
public final class ClientHelloParser {

    static final int CONTENT_TYPE_HANDSHAKE = 22;
    static final int HANDSHAKE_TYPE_CLIENT_HELLO = 1;
    static final int RECORD_HEADER_LENGTH = 5;
    static final int HANDSHAKE_HEADER_LENGTH = 4;
    /** RFC 8446 §5.1: a plaintext record fragment is at most 2^14 bytes. */
    static final int MAX_RECORD_PAYLOAD = 16384;
    /**
     * How many record headers a ClientHello may spend on top of its own size. Real clients use one
     * or two records; a hello cut into more pieces than this is buffered no further.
     */
    static final int MAX_FRAMING_RECORDS = 64;

    static final int EXT_SERVER_NAME = 0;
    static final int EXT_ALPN = 16;
    static final int EXT_SUPPORTED_VERSIONS = 43;
    static final int EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
    static final int SNI_TYPE_HOST_NAME = 0;

    private static final int RANDOM_LENGTH = 32;
    private static final int MAX_SESSION_ID_LENGTH = 32;
    /** An ALPN protocol name is at most 255 bytes; a valid host name 253, or 254 with its trailing dot. */
    private static final int MAX_DECODED_LENGTH = 255;

    // Results of the extension helpers: offsets are never negative, so these cannot collide.
    private static final int NOT_FOUND = -1;
    private static final int INVALID = -2;

    private static final HttpOpener[] HTTP_OPENERS = {
        HttpOpener.method("CONNECT", true, Reason.CONNECT_REQUEST),
        HttpOpener.method("GET", false, Reason.PLAIN_HTTP),
        HttpOpener.method("HEAD", false, Reason.PLAIN_HTTP),
        HttpOpener.method("POST", false, Reason.PLAIN_HTTP),
        HttpOpener.method("PUT", false, Reason.PLAIN_HTTP),
        HttpOpener.method("DELETE", false, Reason.PLAIN_HTTP),
        HttpOpener.method("OPTIONS", false, Reason.PLAIN_HTTP),
        HttpOpener.method("TRACE", false, Reason.PLAIN_HTTP),
        HttpOpener.method("PATCH", false, Reason.PLAIN_HTTP),
        HttpOpener.preface("PRI * HTTP/2.0", Reason.PLAIN_HTTP),
    };

    /**
     * Buffers that every parse on a thread reuses. A parse runs synchronously on the connection's
     * event loop, and is done with them before it calls its sink, so no two parses share them.
     */
    private static final FastThreadLocal<Scratch> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected Scratch initialValue() {
            return new Scratch();
        }
    };

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
        if (buf.getUnsignedByte(start) == CONTENT_TYPE_HANDSHAKE) {
            return parseTlsRecords(buf, start, end, maxClientHelloBytes, endOfStream, sink);
        }
        return classifyNonTls(buf, start, end, endOfStream);
    }

    // ---------------------------------------------------------------- non-TLS openers

    private static PrereadVerdict classifyNonTls(ByteBuf buf, int start, int end, boolean endOfStream) {
        int received = end - start;
        boolean couldStillMatch = false;
        for (HttpOpener opener : HTTP_OPENERS) {
            int compared = Math.min(received, opener.text.length);
            if (!opener.matches(buf, start, compared)) {
                continue;
            }
            if (compared == opener.text.length) {
                return PrereadVerdict.reject(opener.reason);
            }
            // A client that sent a whole method token and then closed said enough.
            if (endOfStream && received >= opener.tokenLength) {
                return PrereadVerdict.reject(opener.reason);
            }
            couldStillMatch = true;
        }
        return couldStillMatch && !endOfStream
                ? PrereadVerdict.NEED_MORE
                : PrereadVerdict.reject(Reason.NOT_TLS);
    }

    private static final class HttpOpener {
        final byte[] text;
        /** How much of {@link #text} identifies the request when the client closes early. */
        final int tokenLength;
        final boolean ignoreCase;
        final Reason reason;

        private HttpOpener(String text, int tokenLength, boolean ignoreCase, Reason reason) {
            this.text = text.getBytes(StandardCharsets.US_ASCII);
            this.tokenLength = tokenLength;
            this.ignoreCase = ignoreCase;
            this.reason = reason;
        }

        static HttpOpener method(String method, boolean ignoreCase, Reason reason) {
            return new HttpOpener(method + " ", method.length(), ignoreCase, reason);
        }

        static HttpOpener preface(String preface, Reason reason) {
            return new HttpOpener(preface, preface.length(), false, reason);
        }

        boolean matches(ByteBuf buf, int start, int count) {
            for (int i = 0; i < count; i++) {
                int actual = buf.getUnsignedByte(start + i);
                int expected = text[i];
                if (actual != expected && !(ignoreCase && toUpperAscii(actual) == expected)) {
                    return false;
                }
            }
            return true;
        }

        private static int toUpperAscii(int c) {
            return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
        }
    }

    // ---------------------------------------------------------------- TLS records

    /**
     * Walks the records that carry the ClientHello handshake message, checking each header as soon
     * as it is visible, and parses the message once all of its bytes have arrived.
     */
    private static PrereadVerdict parseTlsRecords(
            ByteBuf buf, int start, int end, int maxClientHelloBytes, boolean endOfStream, ClientHelloSink sink) {
        long maxFramedBytes = (long) maxClientHelloBytes
                + HANDSHAKE_HEADER_LENGTH
                + (long) MAX_FRAMING_RECORDS * RECORD_HEADER_LENGTH;
        int recordVersion = -1;
        int handshakeHeader = 0;
        int handshakeHeaderSeen = 0;
        long messageLength = -1; // handshake header + body, once the header is visible
        long handshakeBytesSeen = 0;
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
                if (version >>> 8 != 3) {
                    return PrereadVerdict.reject(Reason.NOT_TLS);
                }
                recordVersion = version;
            } else if (contentType != CONTENT_TYPE_HANDSHAKE || version >>> 8 != 3) {
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
            handshakeBytesSeen += fragmentReceived;
            records++;
            if (messageLength >= 0 && handshakeBytesSeen >= messageLength) {
                return parseHandshakeMessage(buf, start, records, (int) messageLength, recordVersion, sink);
            }
            if (fragmentReceived < fragmentLength) {
                return incompleteHello(start, end, maxFramedBytes, endOfStream);
            }
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
     * The answer while the hello is not complete, so every received byte belongs to its records.
     * Only bytes of such records count towards the size limit: bytes after a complete hello are the
     * client's next flight and are forwarded, however many there are.
     */
    private static PrereadVerdict incompleteHello(int start, int end, long maxFramedBytes, boolean endOfStream) {
        if (end - start > maxFramedBytes) {
            return PrereadVerdict.reject(Reason.CLIENT_HELLO_TOO_LARGE);
        }
        return endOfStream ? PrereadVerdict.reject(Reason.MALFORMED) : PrereadVerdict.NEED_MORE;
    }

    /**
     * Parses the complete handshake message: in place when one record carries it (the common
     * case), else from a copy of exactly its bytes, all of which have been received, in this
     * thread's reassembly buffer.
     */
    private static PrereadVerdict parseHandshakeMessage(
            ByteBuf buf, int start, int records, int messageLength, int recordVersion, ClientHelloSink sink) {
        int bodyLength = messageLength - HANDSHAKE_HEADER_LENGTH;
        if (records == 1) {
            int bodyStart = start + RECORD_HEADER_LENGTH + HANDSHAKE_HEADER_LENGTH;
            return parseClientHelloBody(buf, bodyStart, bodyStart + bodyLength, recordVersion, sink);
        }
        ByteBuf message = SCRATCH.get().messageBuffer(messageLength);
        copyHandshakeBytes(buf, start, records, message, messageLength);
        return parseClientHelloBody(message, HANDSHAKE_HEADER_LENGTH, messageLength, recordVersion, sink);
    }

    /**
     * Concatenates the fragments of the first {@code records} records into {@code message}, up to
     * the message's end.
     */
    private static void copyHandshakeBytes(
            ByteBuf buf, int start, int records, ByteBuf message, int messageLength) {
        int pos = start;
        int copied = 0;
        for (int r = 0; r < records && copied < messageLength; r++) {
            int fragmentLength = buf.getUnsignedShort(pos + 3);
            int fragmentStart = pos + RECORD_HEADER_LENGTH;
            int count = Math.min(fragmentLength, messageLength - copied);
            message.setBytes(copied, buf, fragmentStart, count);
            copied += count;
            pos = fragmentStart + fragmentLength;
        }
    }

    // ---------------------------------------------------------------- ClientHello body

    /** RFC 8446 §4.1.2; every length must fit inside {@code [bodyStart, bodyEnd)}. */
    private static PrereadVerdict parseClientHelloBody(
            ByteBuf b, int bodyStart, int bodyEnd, int recordVersion, ClientHelloSink sink) {
        int p = bodyStart;
        if (bodyEnd - p < 2 + RANDOM_LENGTH + 1) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        int legacyVersion = b.getUnsignedShort(p);
        p += 2 + RANDOM_LENGTH;
        int sessionIdLength = b.getUnsignedByte(p++);
        if (sessionIdLength > MAX_SESSION_ID_LENGTH || bodyEnd - p < sessionIdLength) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        p += sessionIdLength;
        if (bodyEnd - p < 2) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        int cipherSuitesLength = b.getUnsignedShort(p);
        p += 2;
        if (cipherSuitesLength < 2 || (cipherSuitesLength & 1) != 0 || bodyEnd - p < cipherSuitesLength) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        p += cipherSuitesLength;
        if (bodyEnd - p < 1) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        int compressionMethodsLength = b.getUnsignedByte(p++);
        if (compressionMethodsLength < 1 || bodyEnd - p < compressionMethodsLength) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        p += compressionMethodsLength;
        // Extensions may be left out entirely, but only by ending the body right here.
        int extensionsStart = p;
        if (p != bodyEnd) {
            if (bodyEnd - p < 2 || b.getUnsignedShort(p) != bodyEnd - p - 2) {
                return PrereadVerdict.reject(Reason.MALFORMED);
            }
            extensionsStart = p + 2;
        }
        return parseExtensions(b, extensionsStart, bodyEnd, legacyVersion, recordVersion, sink);
    }

    private static PrereadVerdict parseExtensions(
            ByteBuf b, int start, int end, int legacyVersion, int recordVersion, ClientHelloSink sink) {
        if (!extensionsFrameWell(b, start, end)) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        int tlsVersion = legacyVersion;
        int supportedVersions = findExtension(b, start, end, EXT_SUPPORTED_VERSIONS);
        if (supportedVersions != NOT_FOUND) {
            int highest = highestSupportedVersion(b, supportedVersions);
            if (highest == INVALID) {
                return PrereadVerdict.reject(Reason.MALFORMED);
            }
            if (highest != NOT_FOUND) {
                tlsVersion = highest;
            }
        }
        int alpn = findExtension(b, start, end, EXT_ALPN);
        if (alpn != NOT_FOUND && !alpnWellFormed(b, alpn)) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        int hostName = NOT_FOUND;
        int serverName = findExtension(b, start, end, EXT_SERVER_NAME);
        if (serverName != NOT_FOUND) {
            hostName = findHostNameEntry(b, serverName);
            if (hostName == INVALID) {
                return PrereadVerdict.reject(Reason.MALFORMED);
            }
        }
        boolean ech = findExtension(b, start, end, EXT_ENCRYPTED_CLIENT_HELLO) != NOT_FOUND;
        List<String> protocols = alpn == NOT_FOUND ? null : decodeAlpn(b, alpn);
        if (hostName == NOT_FOUND) {
            sink.clientHello(null, protocols, tlsVersion, ech, recordVersion);
            return PrereadVerdict.reject(Reason.NO_SNI);
        }
        String sni = routableHostName(b, hostName);
        if (sni == null) {
            String rawName = rawNameForLog(b, hostName + 2, b.getUnsignedShort(hostName));
            sink.clientHello(rawName, protocols, tlsVersion, ech, recordVersion);
            return PrereadVerdict.reject(Reason.INVALID_SNI);
        }
        sink.clientHello(sni, protocols, tlsVersion, ech, recordVersion);
        return PrereadVerdict.COMPLETE;
    }

    /**
     * Checks that the extension headers tile {@code [start, end)} exactly and that none of the
     * extensions this parser reads is repeated (RFC 8446 §4.2 forbids duplicates; honouring the
     * first one would route on a different name than a server honouring the last).
     */
    private static boolean extensionsFrameWell(ByteBuf b, int start, int end) {
        int seen = 0;
        int p = start;
        while (p != end) {
            if (end - p < 4) {
                return false;
            }
            int type = b.getUnsignedShort(p);
            int length = b.getUnsignedShort(p + 2);
            p += 4;
            if (end - p < length) {
                return false;
            }
            p += length;
            int bit = watchedExtensionBit(type);
            if ((seen & bit) != 0) {
                return false;
            }
            seen |= bit;
        }
        return true;
    }

    private static int watchedExtensionBit(int type) {
        return switch (type) {
            case EXT_SERVER_NAME -> 1;
            case EXT_ALPN -> 2;
            case EXT_SUPPORTED_VERSIONS -> 4;
            case EXT_ENCRYPTED_CLIENT_HELLO -> 8;
            default -> 0;
        };
    }

    /** The offset of the extension's header, or NOT_FOUND; the extensions must frame well. */
    private static int findExtension(ByteBuf b, int start, int end, int wanted) {
        int p = start;
        while (p < end) {
            if (b.getUnsignedShort(p) == wanted) {
                return p;
            }
            p += 4 + b.getUnsignedShort(p + 2);
        }
        return NOT_FOUND;
    }

    private static int extensionLength(ByteBuf b, int extension) {
        return b.getUnsignedShort(extension + 2);
    }

    /**
     * The highest version in a supported_versions extension, ignoring GREASE values (RFC 8701),
     * NOT_FOUND if it only holds GREASE, or INVALID.
     */
    private static int highestSupportedVersion(ByteBuf b, int extension) {
        int length = extensionLength(b, extension);
        int data = extension + 4;
        if (length < 1) {
            return INVALID;
        }
        int listLength = b.getUnsignedByte(data);
        if (listLength != length - 1 || listLength < 2 || (listLength & 1) != 0) {
            return INVALID;
        }
        int highest = NOT_FOUND;
        for (int p = data + 1; p < data + 1 + listLength; p += 2) {
            int version = b.getUnsignedShort(p);
            if (!isGrease(version) && version > highest) {
                highest = version;
            }
        }
        return highest;
    }

    private static boolean isGrease(int value) {
        return (value & 0x0f0f) == 0x0a0a;
    }

    private static boolean alpnWellFormed(ByteBuf b, int extension) {
        int length = extensionLength(b, extension);
        int data = extension + 4;
        if (length < 2 || b.getUnsignedShort(data) != length - 2 || length == 2) {
            return false;
        }
        int end = data + length;
        for (int p = data + 2; p != end; ) {
            int protocolLength = b.getUnsignedByte(p++);
            if (protocolLength == 0 || end - p < protocolLength) {
                return false;
            }
            p += protocolLength;
        }
        return true;
    }

    /**
     * Protocol names that browsers and libraries send, from the IANA ALPN registry. A connection
     * keeps its ALPN list for the access log until it closes, so these are shared rather than
     * decoded again for every hello: about 120 bytes less per held tunnel for {@code h2, http/1.1}.
     */
    private static final String[] KNOWN_PROTOCOLS = {"h2", "http/1.1", "h3", "http/1.0", "acme-tls/1"};

    private static final List<String> H2_HTTP11 = List.of("h2", "http/1.1");
    /** Each known protocol offered alone, as a list, by its index in {@link #KNOWN_PROTOCOLS}. */
    private static final List<List<String>> KNOWN_ALONE = Arrays.stream(KNOWN_PROTOCOLS).map(List::of).toList();

    /** Decodes a well-formed ALPN extension into an immutable list. */
    private static List<String> decodeAlpn(ByteBuf b, int extension) {
        int data = extension + 4;
        int end = data + extensionLength(b, extension);
        int first = data + 2;
        int count = 0;
        for (int p = first; p < end; p += 1 + b.getUnsignedByte(p)) {
            count++;
        }
        // One or two protocols, as real clients send, fit in List.of's fields without an array.
        if (count == 1) {
            int known = knownProtocol(b, first);
            return known >= 0 ? KNOWN_ALONE.get(known) : List.of(alpnProtocol(b, first));
        }
        if (count == 2) {
            int second = first + 1 + b.getUnsignedByte(first);
            String one = alpnProtocol(b, first);
            String two = alpnProtocol(b, second);
            // Known names come back as the shared instances, so identity is the comparison.
            return one == KNOWN_PROTOCOLS[0] && two == KNOWN_PROTOCOLS[1] ? H2_HTTP11 : List.of(one, two);
        }
        String[] protocols = new String[count];
        int i = 0;
        for (int p = first; p < end; p += 1 + b.getUnsignedByte(p)) {
            protocols[i++] = alpnProtocol(b, p);
        }
        return new ProtocolList(protocols);
    }

    /** The protocol name whose length byte is at {@code at}, one char per byte (ISO-8859-1). */
    private static String alpnProtocol(ByteBuf b, int at) {
        int known = knownProtocol(b, at);
        return known >= 0 ? KNOWN_PROTOCOLS[known] : latin1(b, at + 1, b.getUnsignedByte(at));
    }

    /** The index in {@link #KNOWN_PROTOCOLS} of the protocol whose length byte is at {@code at}, or -1. */
    private static int knownProtocol(ByteBuf b, int at) {
        int length = b.getUnsignedByte(at);
        candidates:
        for (int k = 0; k < KNOWN_PROTOCOLS.length; k++) {
            String known = KNOWN_PROTOCOLS[k];
            if (known.length() != length) {
                continue;
            }
            for (int i = 0; i < length; i++) {
                if (b.getByte(at + 1 + i) != known.charAt(i)) {
                    continue candidates;
                }
            }
            return k;
        }
        return -1;
    }

    /**
     * Decodes bytes through this thread's scratch array: {@code ByteBuf.toString} would copy a
     * direct buffer's bytes into a temporary array of their own first.
     */
    private static String latin1(ByteBuf b, int start, int length) {
        byte[] text = SCRATCH.get().text;
        b.getBytes(start, text, 0, length);
        return new String(text, 0, length, StandardCharsets.ISO_8859_1);
    }

    /**
     * An immutable list over an array it owns. {@code List.of(array)} would copy the array, and
     * the copy is an allocation per hello that offers three protocols or more.
     */
    private static final class ProtocolList extends AbstractList<String> implements RandomAccess {
        private final String[] protocols;

        ProtocolList(String[] protocols) {
            this.protocols = protocols;
        }

        @Override
        public String get(int index) {
            return protocols[index];
        }

        @Override
        public int size() {
            return protocols.length;
        }
    }

    /**
     * The offset of the single host_name entry's 2-byte length in a server_name extension
     * (RFC 6066 §3), NOT_FOUND if the list names no host, or INVALID.
     */
    private static int findHostNameEntry(ByteBuf b, int extension) {
        int length = extensionLength(b, extension);
        int data = extension + 4;
        if (length < 2 || b.getUnsignedShort(data) != length - 2 || length == 2) {
            return INVALID;
        }
        int end = data + length;
        int hostName = NOT_FOUND;
        for (int p = data + 2; p != end; ) {
            if (end - p < 3) {
                return INVALID;
            }
            int nameType = b.getUnsignedByte(p);
            int nameLength = b.getUnsignedShort(p + 1);
            if (end - p - 3 < nameLength) {
                return INVALID;
            }
            if (nameType == SNI_TYPE_HOST_NAME) {
                if (hostName != NOT_FOUND) {
                    return INVALID;
                }
                hostName = p + 1;
            }
            p += 3 + nameLength;
        }
        return hostName;
    }

    // ---------------------------------------------------------------- the host name

    /**
     * The normalized name of a host_name entry, or null when it is not a valid host name. Bytes
     * outside printable ASCII are refused before decoding, so no charset guesswork is involved,
     * and the name is normalized while still in bytes, so that it costs one string.
     */
    private static String routableHostName(ByteBuf b, int hostNameEntry) {
        int length = b.getUnsignedShort(hostNameEntry);
        if (length > HostNames.MAX_NAME_LENGTH + 1) {
            return null; // too long even with a trailing dot
        }
        byte[] text = SCRATCH.get().text;
        b.getBytes(hostNameEntry + 2, text, 0, length);
        for (int i = 0; i < length; i++) {
            if (!isPrintableAscii(text[i] & 0xff)) {
                return null;
            }
        }
        int normalizedLength = HostNames.normalizeInPlace(text, length);
        String name = new String(text, 0, normalizedLength, StandardCharsets.ISO_8859_1);
        return HostNames.isValid(name) ? name : null;
    }

    private static boolean isPrintableAscii(int c) {
        return c >= 0x21 && c <= 0x7e;
    }

    /**
     * The name as sent, lower-cased, with every byte that could confuse a log reader (controls,
     * space, non-ASCII and the backslash itself) written as {@code \xNN}.
     */
    static String rawNameForLog(ByteBuf b, int start, int length) {
        StringBuilder out = new StringBuilder(length + 8);
        for (int i = start; i < start + length; i++) {
            int c = b.getUnsignedByte(i);
            if (isPrintableAscii(c) && c != '\\') {
                out.append((char) (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
            } else {
                out.append("\\x").append(Character.forDigit(c >>> 4, 16)).append(Character.forDigit(c & 0xf, 16));
            }
        }
        return out.toString();
    }

    // ---------------------------------------------------------------- per-thread buffers

    private static final class Scratch {
        /** One string's bytes while it is decoded: a host name or an ALPN protocol. */
        final byte[] text = new byte[MAX_DECODED_LENGTH];

        /**
         * A hello that spans records, reassembled. It grows to the largest such hello seen on the
         * thread, which the size limit bounds, and is never released: it holds no pooled memory.
         */
        private ByteBuf message = Unpooled.EMPTY_BUFFER;

        /** A buffer of at least {@code length} bytes, written and read with absolute indexes. */
        ByteBuf messageBuffer(int length) {
            if (message.capacity() < length) {
                message = Unpooled.wrappedBuffer(new byte[length]);
            }
            return message;
        }
    }
}
