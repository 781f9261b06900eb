package io.snigate.preread;

import static io.snigate.preread.TlsWire.EXT_ALPN;
import static io.snigate.preread.TlsWire.EXT_ECH_OUTER_EXTENSIONS;
import static io.snigate.preread.TlsWire.EXT_ENCRYPTED_CLIENT_HELLO;
import static io.snigate.preread.TlsWire.EXT_SERVER_NAME;
import static io.snigate.preread.TlsWire.EXT_SIGNATURE_ALGORITHMS;
import static io.snigate.preread.TlsWire.EXT_SUPPORTED_VERSIONS;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;

/**
 * Where the parts of one ClientHello body are (RFC 8446 §4.1.2), found by one pass over its fixed
 * fields and one over its extension block, with every length checked against the body's bounds.
 * What the extensions say is read afterwards, from these offsets, by {@link ClientHelloFields}
 * and {@link Ja4}.
 *
 * <p>One instance per thread is reused (see {@link ParseScratch}): {@link #read} overwrites all of
 * it.
 */
final class HelloLayout {
    /** The offset of an extension that the hello does not carry. */
    static final int ABSENT = -1;

    private static final int RANDOM_LENGTH = 32;
    private static final int MAX_SESSION_ID_LENGTH = 32;

    // The extensions this pre-read reads, by their index in offsets.
    private static final int SERVER_NAME = 0;
    private static final int ALPN = 1;
    private static final int SUPPORTED_VERSIONS = 2;
    private static final int SIGNATURE_ALGORITHMS = 3;
    private static final int ENCRYPTED_CLIENT_HELLO = 4;
    private static final int ECH_OUTER_EXTENSIONS = 5;

    private int legacyVersion;
    private int cipherSuitesStart;
    private int cipherSuitesEnd;

    /** The offset of each read extension's 4-byte header, or ABSENT. */
    private final int[] offsets = new int[6];

    /** Every extension type but GREASE, server_name and ALPN, in the client's order. */
    private int[] otherTypes = new int[32];
    private int otherTypeCount;

    /**
     * Finds the parts of the body {@code [bodyStart, bodyEnd)}. False when its lengths do not add
     * up, or when an extension this pre-read reads appears twice (RFC 8446 §4.2 forbids it, and
     * honouring the first one would route on another name than a server honouring the last).
     */
    boolean read(ByteBuf b, int bodyStart, int bodyEnd) {
        int p = bodyStart;
        if (bodyEnd - p < 2 + RANDOM_LENGTH + 1) {
            return false;
        }
        legacyVersion = b.getUnsignedShort(p);
        p += 2 + RANDOM_LENGTH;
        int sessionIdLength = b.getUnsignedByte(p++);
        if (sessionIdLength > MAX_SESSION_ID_LENGTH || bodyEnd - p < sessionIdLength) {
            return false;
        }
        p += sessionIdLength;
        if (bodyEnd - p < 2) {
            return false;
        }
        int cipherSuitesLength = b.getUnsignedShort(p);
        p += 2;
        if (cipherSuitesLength < 2 || (cipherSuitesLength & 1) != 0 || bodyEnd - p < cipherSuitesLength) {
            return false;
        }
        cipherSuitesStart = p;
        cipherSuitesEnd = p + cipherSuitesLength;
        p = cipherSuitesEnd;
        if (bodyEnd - p < 1) {
            return false;
        }
        int compressionMethodsLength = b.getUnsignedByte(p++);
        if (compressionMethodsLength < 1 || bodyEnd - p < compressionMethodsLength) {
            return false;
        }
        p += compressionMethodsLength;
        // Extensions may be left out entirely, but only by ending the body right here.
        if (p == bodyEnd) {
            return readExtensions(b, p, p);
        }
        if (bodyEnd - p < 2 || b.getUnsignedShort(p) != bodyEnd - p - 2) {
            return false;
        }
        return readExtensions(b, p + 2, bodyEnd);
    }

    /** Checks that the extension headers tile {@code [start, end)} exactly, noting where each is. */
    private boolean readExtensions(ByteBuf b, int start, int end) {
        Arrays.fill(offsets, ABSENT);
        otherTypeCount = 0;
        int p = start;
        while (p != end) {
            if (end - p < 4) {
                return false;
            }
            int header = p;
            int type = b.getUnsignedShort(p);
            int length = b.getUnsignedShort(p + 2);
            p += 4;
            if (end - p < length) {
                return false;
            }
            p += length;
            int read = indexOfRead(type);
            if (read >= 0) {
                if (offsets[read] != ABSENT) {
                    return false;
                }
                offsets[read] = header;
            }
            if (type != EXT_SERVER_NAME && type != EXT_ALPN && !TlsWire.isGrease(type)) {
                addOtherType(type);
            }
        }
        return true;
    }

    private static int indexOfRead(int type) {
        return switch (type) {
            case EXT_SERVER_NAME -> SERVER_NAME;
            case EXT_ALPN -> ALPN;
            case EXT_SUPPORTED_VERSIONS -> SUPPORTED_VERSIONS;
            case EXT_SIGNATURE_ALGORITHMS -> SIGNATURE_ALGORITHMS;
            case EXT_ENCRYPTED_CLIENT_HELLO -> ENCRYPTED_CLIENT_HELLO;
            case EXT_ECH_OUTER_EXTENSIONS -> ECH_OUTER_EXTENSIONS;
            default -> -1;
        };
    }

    private void addOtherType(int type) {
        if (otherTypeCount == otherTypes.length) {
            // Grows with the number of extensions, which the size limit on the hello bounds.
            otherTypes = Arrays.copyOf(otherTypes, otherTypes.length * 2);
        }
        otherTypes[otherTypeCount++] = type;
    }

    /** The length of the extension whose header is at {@code extension}. */
    static int extensionLength(ByteBuf b, int extension) {
        return b.getUnsignedShort(extension + 2);
    }

    int legacyVersion() {
        return legacyVersion;
    }

    /** Where the cipher_suites list starts, after its length. */
    int cipherSuitesStart() {
        return cipherSuitesStart;
    }

    int cipherSuitesEnd() {
        return cipherSuitesEnd;
    }

    // Where each extension this pre-read reads has its 4-byte header, or ABSENT.

    int serverName() {
        return offsets[SERVER_NAME];
    }

    int alpn() {
        return offsets[ALPN];
    }

    int supportedVersions() {
        return offsets[SUPPORTED_VERSIONS];
    }

    int signatureAlgorithms() {
        return offsets[SIGNATURE_ALGORITHMS];
    }

    int encryptedClientHello() {
        return offsets[ENCRYPTED_CLIENT_HELLO];
    }

    int echOuterExtensions() {
        return offsets[ECH_OUTER_EXTENSIONS];
    }

    /** How many extensions the hello carries, GREASE left out, server_name and ALPN counted. */
    int extensionCount() {
        return otherTypeCount + (serverName() != ABSENT ? 1 : 0) + (alpn() != ABSENT ? 1 : 0);
    }

    /** How many entries {@link #otherTypes} has. */
    int otherTypeCount() {
        return otherTypeCount;
    }

    /**
     * Every extension type but GREASE, server_name and ALPN, in the client's order, in the first
     * {@link #otherTypeCount()} entries; owned by this layout and valid until the next read.
     */
    int[] otherTypes() {
        return otherTypes;
    }
}
