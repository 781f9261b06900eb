package io.snigate.preread;

import static io.snigate.preread.TlsWire.SNI_TYPE_HOST_NAME;

import io.netty.buffer.ByteBuf;
import io.snigate.core.HostNames;
import java.nio.charset.StandardCharsets;

/**
 * The server_name extension (RFC 6066 §3): finds its one host_name entry, and turns that into the
 * name to route on, or into the name as sent, escaped for the log, when it is not a valid host name.
 */
final class ServerNames {
    /** A server_name list that names no host. */
    static final int NO_HOST_NAME = -1;
    /** More than the longest valid host name (253): enough to see what was sent. */
    static final int MAX_LOGGED_NAME_BYTES = 300;
    /** A server_name extension whose lengths do not add up, or that names two hosts. */
    static final int INVALID = -2;

    private ServerNames() {}

    /**
     * The offset of the single host_name entry's 2-byte length in the server_name extension whose
     * header is at {@code extension}, or {@link #INVALID}. An entry of another type is invalid, as
     * OpenSSL and BoringSSL hold: no other type exists, and SNI routers behind snigate that read
     * only the first entry (HAProxy's {@code req.ssl_sni}, nginx's {@code ssl_preread}) would see
     * no name in a list that opens with one, and route by their default instead of the name
     * snigate allowed.
     */
    static int findHostNameEntry(ByteBuf b, int extension) {
        int length = HelloLayout.extensionLength(b, extension);
        int data = extension + 4;
        if (length < 2 || b.getUnsignedShort(data) != length - 2 || length == 2) {
            return INVALID;
        }
        int end = data + length;
        int hostName = NO_HOST_NAME;
        for (int p = data + 2; p != end; ) {
            if (end - p < 3) {
                return INVALID;
            }
            int nameType = b.getUnsignedByte(p);
            int nameLength = b.getUnsignedShort(p + 1);
            if (end - p - 3 < nameLength) {
                return INVALID;
            }
            if (nameType != SNI_TYPE_HOST_NAME || hostName != NO_HOST_NAME) {
                return INVALID;
            }
            hostName = p + 1;
            p += 3 + nameLength;
        }
        return hostName;
    }

    /**
     * The normalized name of a host_name entry, or null when it is not a valid host name. Bytes
     * outside printable ASCII are refused before decoding, so no charset guesswork is involved,
     * and the name is normalized while still in bytes, so that it costs one string.
     *
     * @param text scratch space for the name's bytes
     */
    static String routableHostName(ByteBuf b, int hostNameEntry, byte[] text) {
        int length = b.getUnsignedShort(hostNameEntry);
        if (length > HostNames.MAX_NAME_LENGTH + 1) {
            return null; // too long even with a trailing dot
        }
        b.getBytes(hostNameEntry + 2, text, 0, length);
        for (int i = 0; i < length; i++) {
            if (!isPrintableAscii(text[i] & 0xff)) {
                return null;
            }
        }
        int normalizedLength = HostNames.normalizeInPlace(text, length);
        String name = new String(text, 0, normalizedLength, StandardCharsets.ISO_8859_1);
        return HostNames.isValidServerName(name) ? name : null;
    }

    /**
     * The name of a host_name entry as sent, lower-cased, with every byte that could confuse a log
     * reader (controls, space, non-ASCII and the backslash itself) written as {@code \xNN}; past
     * {@link #MAX_LOGGED_NAME_BYTES}, only how many bytes more there were.
     */
    static String rawNameForLog(ByteBuf b, int hostNameEntry) {
        int start = hostNameEntry + 2;
        int length = b.getUnsignedShort(hostNameEntry);
        int logged = Math.min(length, MAX_LOGGED_NAME_BYTES);
        StringBuilder out = new StringBuilder(logged + 24);
        for (int i = start; i < start + logged; i++) {
            int c = b.getUnsignedByte(i);
            if (isPrintableAscii(c) && c != '\\') {
                out.append((char) (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
            } else {
                out.append("\\x").append(Character.forDigit(c >>> 4, 16)).append(Character.forDigit(c & 0xf, 16));
            }
        }
        if (logged < length) {
            out.append("...(+").append(length - logged).append(" bytes)");
        }
        return out.toString();
    }

    private static boolean isPrintableAscii(int c) {
        return c >= 0x21 && c <= 0x7e;
    }
}
