package io.snigate.proxyprotocol;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The framing of a PROXY protocol header (haproxy.org/download/2.9/doc/proxy-protocol.txt), checked
 * on the bytes received so far: whether they start a header at all, whether the header is whole,
 * and, for version 2, whether it is within {@link #MAX_V2_HEADER_BYTES} and its CRC32C (when it
 * carries one) is right. The fields themselves are Netty's {@code HAProxyMessageDecoder}'s job.
 */
final class ProxyHeaders {
    /** A version 1 line is at most 107 bytes with its CRLF (section 2.1). */
    static final int MAX_V1_LINE_BYTES = 107;
    /**
     * The shortest version 1 line, {@code "PROXY UNKNOWN\r\n"}; Netty's decoder waits for more
     * than a shorter line without refusing it.
     */
    static final int MIN_V1_LINE_BYTES = 15;
    /** Far above what balancers send (addresses and a few TLVs); the protocol would allow 64 KiB. */
    static final int MAX_V2_HEADER_BYTES = 4096;

    private static final byte[] V1_PREFIX = {'P', 'R', 'O', 'X', 'Y', ' '};
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final int V2_FIXED_BYTES = 16;
    private static final int TLV_CRC32C = 0x03;

    enum Check { NEED_MORE, VALID, NOT_A_HEADER, TOO_LONG, BAD_CHECKSUM }

    private ProxyHeaders() {}

    static Check check(ByteBuf bytes) {
        int start = bytes.readerIndex();
        int readable = bytes.readableBytes();
        if (startsWith(bytes, V2_SIGNATURE)) {
            return checkV2(bytes, start, readable);
        }
        if (startsWith(bytes, V1_PREFIX)) {
            for (int i = 1; i < Math.min(readable, MAX_V1_LINE_BYTES); i++) {
                if (bytes.getByte(start + i - 1) == '\r' && bytes.getByte(start + i) == '\n') {
                    return i + 1 < MIN_V1_LINE_BYTES || !portsAreDecimal(bytes, start, start + i - 1)
                            ? Check.NOT_A_HEADER : Check.VALID;
                }
            }
            return readable >= MAX_V1_LINE_BYTES ? Check.TOO_LONG : Check.NEED_MORE;
        }
        // A prefix of either could still become one.
        boolean maybe = prefixOf(bytes, V2_SIGNATURE) || prefixOf(bytes, V1_PREFIX);
        return maybe ? Check.NEED_MORE : Check.NOT_A_HEADER;
    }

    /**
     * Whether a whole TCP4 or TCP6 line's two ports, its last two fields, are decimal numbers up
     * to 65535 with no sign and no leading zero, as HAProxy and nginx require (Netty's decoder
     * takes {@code +443} and {@code 0443}). Another line ({@code UNKNOWN}) has nothing to check.
     */
    private static boolean portsAreDecimal(ByteBuf bytes, int start, int end) {
        String line = bytes.toString(start, end - start, StandardCharsets.US_ASCII);
        String[] fields = line.split(" ", -1);
        if (fields.length != 6 || !(fields[1].equals("TCP4") || fields[1].equals("TCP6"))) {
            return true; // Netty's decoder judges the rest
        }
        for (int i = 4; i < 6; i++) {
            String port = fields[i];
            if (port.isEmpty() || port.length() > 5 || (port.length() > 1 && port.charAt(0) == '0')) {
                return false;
            }
            for (int k = 0; k < port.length(); k++) {
                if (port.charAt(k) < '0' || port.charAt(k) > '9') {
                    return false;
                }
            }
            if (Integer.parseInt(port) > 65535) {
                return false;
            }
        }
        return true;
    }

    private static Check checkV2(ByteBuf bytes, int start, int readable) {
        if (readable < V2_FIXED_BYTES) {
            return Check.NEED_MORE;
        }
        int length = V2_FIXED_BYTES + bytes.getUnsignedShort(start + 14);
        if (length > MAX_V2_HEADER_BYTES) {
            return Check.TOO_LONG;
        }
        if (readable < length) {
            return Check.NEED_MORE;
        }
        int crcAt = crcValueOffset(bytes, start, length);
        if (crcAt < 0) {
            return crcAt == -1 ? Check.VALID : Check.NOT_A_HEADER;
        }
        CRC32C crc = new CRC32C();
        for (int i = 0; i < length; i++) {
            boolean inValue = i >= crcAt && i < crcAt + 4;
            crc.update(inValue ? 0 : bytes.getByte(start + i));
        }
        return (int) crc.getValue() == bytes.getInt(start + crcAt) ? Check.VALID : Check.BAD_CHECKSUM;
    }

    /**
     * Where, from the header's start, the value of its CRC32C TLV is; -1 when it has none, -2 when
     * the TLVs do not add up to the header's length.
     */
    private static int crcValueOffset(ByteBuf bytes, int start, int length) {
        int at = V2_FIXED_BYTES + switch (bytes.getUnsignedByte(start + 13) >> 4) {
            case 1 -> 12; // AF_INET: two addresses and two ports
            case 2 -> 36; // AF_INET6
            case 3 -> 216; // AF_UNIX
            default -> 0; // AF_UNSPEC: no address block
        };
        if (at > length) {
            return -2;
        }
        while (at < length) {
            if (at + 3 > length) {
                return -2;
            }
            int type = bytes.getUnsignedByte(start + at);
            int valueLength = bytes.getUnsignedShort(start + at + 1);
            if (at + 3 + valueLength > length) {
                return -2;
            }
            if (type == TLV_CRC32C) {
                return valueLength == 4 ? at + 3 : -2;
            }
            at += 3 + valueLength;
        }
        return -1;
    }

    private static boolean startsWith(ByteBuf bytes, byte[] prefix) {
        if (bytes.readableBytes() < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (bytes.getByte(bytes.readerIndex() + i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    /** Whether everything received so far is the beginning of {@code prefix}. */
    private static boolean prefixOf(ByteBuf bytes, byte[] prefix) {
        int n = Math.min(bytes.readableBytes(), prefix.length);
        for (int i = 0; i < n; i++) {
            if (bytes.getByte(bytes.readerIndex() + i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }
}
