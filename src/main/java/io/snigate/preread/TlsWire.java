package io.snigate.preread;

/**
 * The numbers of the TLS wire format that the pre-read reads, with where each is defined; those of
 * the record header that a rejection writes too are {@link io.snigate.core.TlsRecord}'s.
 */
final class TlsWire {
    /** RFC 8446 §4, HandshakeType. */
    static final int HANDSHAKE_TYPE_CLIENT_HELLO = 1;
    static final int HANDSHAKE_TYPE_SERVER_HELLO = 2;
    static final int RECORD_HEADER_LENGTH = 5;
    static final int HANDSHAKE_HEADER_LENGTH = 4;
    /** RFC 8446 §5.1: a plaintext record fragment is at most 2^14 bytes. */
    static final int MAX_RECORD_PAYLOAD = 16384;

    /** RFC 6066 §3. */
    static final int EXT_SERVER_NAME = 0x0000;
    /** RFC 8446 §4.2.3. */
    static final int EXT_SIGNATURE_ALGORITHMS = 0x000d;
    /** RFC 7301 §3.1. */
    static final int EXT_ALPN = 0x0010;
    /** RFC 8446 §4.2.1. */
    static final int EXT_SUPPORTED_VERSIONS = 0x002b;
    /** RFC 9849 §5.1: only ever inside the encrypted inner hello, never on the wire. */
    static final int EXT_ECH_OUTER_EXTENSIONS = 0xfd00;
    /** RFC 9849 §5. */
    static final int EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;

    /** RFC 6066 §3, NameType. */
    static final int SNI_TYPE_HOST_NAME = 0;
    /** RFC 9849 §5, ECHClientHelloType: the only type a client sends on the wire. */
    static final int ECH_TYPE_OUTER = 0;

    private TlsWire() {}

    /**
     * Whether a cipher suite, extension type, version, group or signature algorithm is one of the
     * sixteen GREASE values of RFC 8701 §2 ({@code 0x0a0a}, {@code 0x1a1a}, … {@code 0xfafa}):
     * both bytes equal, each ending in {@code a}.
     */
    static boolean isGrease(int value) {
        return (value & 0x0f0f) == 0x0a0a && value >>> 8 == (value & 0xff);
    }
}
