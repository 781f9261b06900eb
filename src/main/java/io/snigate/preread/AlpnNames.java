package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.RandomAccess;

/**
 * The application_layer_protocol_negotiation extension (RFC 7301 §3.1): checks its framing and
 * decodes its protocol names, sharing the names and lists that clients send most.
 */
final class AlpnNames {

    /**
     * Protocol names that browsers and libraries send, from the IANA ALPN registry. A connection
     * keeps its ALPN list for the access log until it closes, so these are shared rather than
     * decoded again for every hello: about 120 bytes less per held tunnel for {@code h2, http/1.1}.
     */
    private static final String[] KNOWN_PROTOCOLS = {"h2", "http/1.1", "h3", "http/1.0", "acme-tls/1"};

    private static final List<String> H2_HTTP11 = List.of("h2", "http/1.1");
    /** Each known protocol offered alone, as a list, by its index in {@link #KNOWN_PROTOCOLS}. */
    private static final List<List<String>> KNOWN_ALONE = Arrays.stream(KNOWN_PROTOCOLS).map(List::of).toList();

    /**
     * How many protocols, and how many of their bytes, a hello may offer. Real clients offer one
     * to four; sixty names of 255 bytes would hold 15 KiB for the tunnel's life and write a log
     * line of 90 KB. More is refused rather than cut: routes choose by the whole list, which the
     * upstream receives too.
     */
    static final int MAX_PROTOCOLS = 16;
    static final int MAX_PROTOCOL_BYTES = 512;

    private AlpnNames() {}

    /**
     * Whether the extension whose header is at {@code extension} holds a non-empty list of
     * non-empty names that fills it exactly, within {@link #MAX_PROTOCOLS} and
     * {@link #MAX_PROTOCOL_BYTES}.
     */
    static boolean wellFormed(ByteBuf b, int extension) {
        int length = HelloLayout.extensionLength(b, extension);
        int data = extension + 4;
        if (length < 2 || b.getUnsignedShort(data) != length - 2 || length == 2) {
            return false;
        }
        int end = data + length;
        int count = 0;
        for (int p = data + 2; p != end; count++) {
            int protocolLength = b.getUnsignedByte(p++);
            if (protocolLength == 0 || end - p < protocolLength) {
                return false;
            }
            p += protocolLength;
        }
        return count <= MAX_PROTOCOLS && length - 2 - count <= MAX_PROTOCOL_BYTES;
    }

    /** Where the first protocol name's length byte is, in a well-formed extension. */
    static int firstProtocol(int extension) {
        return extension + 6;
    }

    /**
     * Decodes a well-formed extension into an immutable list, one char per byte (ISO-8859-1), so
     * that every byte survives into the log.
     *
     * @param text scratch space for one name's bytes
     */
    static List<String> decode(ByteBuf b, int extension, byte[] text) {
        int end = extension + 4 + HelloLayout.extensionLength(b, extension);
        int first = firstProtocol(extension);
        int count = 0;
        for (int p = first; p < end; p += 1 + b.getUnsignedByte(p)) {
            count++;
        }
        // One or two protocols, as real clients send, fit in List.of's fields without an array.
        if (count == 1) {
            int known = knownProtocol(b, first);
            return known >= 0 ? KNOWN_ALONE.get(known) : List.of(protocol(b, first, text));
        }
        if (count == 2) {
            int second = first + 1 + b.getUnsignedByte(first);
            String one = protocol(b, first, text);
            String two = protocol(b, second, text);
            // Known names come back as the shared instances, so identity is the comparison.
            return one == KNOWN_PROTOCOLS[0] && two == KNOWN_PROTOCOLS[1] ? H2_HTTP11 : List.of(one, two);
        }
        String[] protocols = new String[count];
        int i = 0;
        for (int p = first; p < end; p += 1 + b.getUnsignedByte(p)) {
            protocols[i++] = protocol(b, p, text);
        }
        return new ProtocolList(protocols);
    }

    /** The protocol name whose length byte is at {@code at}. */
    private static String protocol(ByteBuf b, int at, byte[] text) {
        int known = knownProtocol(b, at);
        if (known >= 0) {
            return KNOWN_PROTOCOLS[known];
        }
        // Through the scratch array: ByteBuf.toString would copy a direct buffer's bytes into a
        // temporary array of their own first.
        int length = b.getUnsignedByte(at);
        b.getBytes(at + 1, text, 0, length);
        return new String(text, 0, length, StandardCharsets.ISO_8859_1);
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
}
