package io.snigate.preread;

import static io.snigate.preread.HelloLayout.ABSENT;
import static io.snigate.preread.TlsWire.ECH_TYPE_OUTER;

import io.netty.buffer.ByteBuf;
import io.snigate.core.ClientHelloSink;
import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import java.util.List;

/**
 * What a complete ClientHello says: checks every extension the pre-read reads, then reports the
 * hello's facts (SNI, ALPN, version, ECH, JA4 fingerprint) to the sink and answers with a verdict.
 * Any length that does not add up, and any extension a client must not send on the wire, is
 * {@link Reason#MALFORMED}, whatever the name.
 */
final class ClientHelloFields {
    /** No version offered in supported_versions: the hello has none, or one of GREASE alone. */
    private static final int NO_VERSION = -1;
    /** {@link #highestSupportedVersion} when supported_versions does not add up. */
    private static final int INVALID = -2;

    private ClientHelloFields() {}

    /**
     * Parses the ClientHello body {@code [bodyStart, bodyEnd)}, every byte of which has arrived.
     *
     * @param recordVersion the version of the hello's first record header
     */
    static PrereadVerdict parse(ByteBuf b, int bodyStart, int bodyEnd, int recordVersion, ClientHelloSink sink) {
        ParseScratch scratch = ParseScratch.get();
        HelloLayout hello = scratch.layout;
        if (!hello.read(b, bodyStart, bodyEnd)
                || hello.echOuterExtensions() != ABSENT
                || hello.encryptedClientHello() != ABSENT && !isOuterEch(b, hello.encryptedClientHello())
                || hello.alpn() != ABSENT && !AlpnNames.wellFormed(b, hello.alpn())
                || hello.signatureAlgorithms() != ABSENT && !signatureAlgorithmsWellFormed(b, hello.signatureAlgorithms())) {
            return PrereadVerdict.reject(Reason.MALFORMED);
        }
        int highestSupported = NO_VERSION;
        if (hello.supportedVersions() != ABSENT) {
            highestSupported = highestSupportedVersion(b, hello.supportedVersions());
            if (highestSupported == INVALID) {
                return PrereadVerdict.reject(Reason.MALFORMED);
            }
        }
        int hostName = ServerNames.NO_HOST_NAME;
        if (hello.serverName() != ABSENT) {
            hostName = ServerNames.findHostNameEntry(b, hello.serverName());
            if (hostName == ServerNames.INVALID) {
                return PrereadVerdict.reject(Reason.MALFORMED);
            }
        }

        // The hello parses: from here on its facts are reported, whatever the verdict.
        // The highest value is a TLS version in every real hello: a second walk only for the others.
        int highestTls = highestSupported >= TlsVersions.SSL_3_0 && highestSupported <= TlsVersions.TLS_1_3
                ? highestSupported
                : hello.supportedVersions() != ABSENT ? highestTlsVersion(b, hello.supportedVersions()) : NO_VERSION;
        // Without a TLS version in supported_versions a server negotiates TLS 1.2 at most, whatever
        // legacy_version says (RFC 8446 §4.2.1): 0x0304 there offers no TLS 1.3.
        int tlsVersion = highestTls != NO_VERSION ? highestTls : Math.min(hello.legacyVersion(), TlsVersions.TLS_1_2);
        // JA4 takes the version from supported_versions whenever the hello has one, even one of
        // GREASE alone (see Ja4).
        int ja4Version = hello.supportedVersions() != ABSENT ? highestSupported : hello.legacyVersion();
        String ja4 = scratch.ja4.fingerprint(b, hello, ja4Version);
        boolean ech = hello.encryptedClientHello() != ABSENT;
        List<String> protocols = hello.alpn() == ABSENT ? null : AlpnNames.decode(b, hello.alpn(), scratch.text);
        if (hostName == ServerNames.NO_HOST_NAME) {
            sink.clientHello(null, protocols, tlsVersion, ech, recordVersion, ja4);
            return PrereadVerdict.reject(Reason.NO_SNI);
        }
        String sni = ServerNames.routableHostName(b, hostName, scratch.text);
        if (sni == null) {
            sink.clientHello(ServerNames.rawNameForLog(b, hostName), protocols, tlsVersion, ech, recordVersion, ja4);
            return PrereadVerdict.reject(Reason.INVALID_SNI);
        }
        sink.helloRandom(randomDigest(b, bodyStart + 2)); // after legacy_version
        sink.clientHello(sni, protocols, tlsVersion, ech, recordVersion, ja4);
        return PrereadVerdict.COMPLETE;
    }

    /**
     * The 32-byte random at {@code at} folded to 64 bits; the bytes are random, so any fold will
     * do. Never 0, which stands for no hello: a client cannot write a random that is not counted.
     */
    static long randomDigest(ByteBuf b, int at) {
        long digest = b.getLong(at) ^ Long.rotateLeft(b.getLong(at + 8), 16) ^ Long.rotateLeft(b.getLong(at + 16), 32)
                ^ Long.rotateLeft(b.getLong(at + 24), 48);
        return digest == 0 ? 1 : digest;
    }

    /**
     * The highest TLS version (SSL 3.0 to TLS 1.3) in a well-formed supported_versions extension,
     * or {@link #NO_VERSION}. Other values are ignored as a server ignores them: a client offering
     * an unknown {@code 0x0a0b} and TLS 1.0 gets TLS 1.0, and must meet {@code min_tls_version} as such.
     */
    private static int highestTlsVersion(ByteBuf b, int extension) {
        int data = extension + 4;
        int listLength = b.getUnsignedByte(data);
        int highest = NO_VERSION;
        for (int p = data + 1; p < data + 1 + listLength; p += 2) {
            int version = b.getUnsignedShort(p);
            if (version >= TlsVersions.SSL_3_0 && version <= TlsVersions.TLS_1_3 && version > highest) {
                highest = version;
            }
        }
        return highest;
    }

    /**
     * The highest version in a supported_versions extension (RFC 8446 §4.2.1), ignoring GREASE,
     * {@link #NO_VERSION} if it holds nothing else, or {@link #INVALID}.
     */
    static int highestSupportedVersion(ByteBuf b, int extension) {
        int length = HelloLayout.extensionLength(b, extension);
        int data = extension + 4;
        if (length < 1) {
            return INVALID;
        }
        int listLength = b.getUnsignedByte(data);
        if (listLength != length - 1 || listLength < 2 || (listLength & 1) != 0) {
            return INVALID;
        }
        int highest = NO_VERSION;
        for (int p = data + 1; p < data + 1 + listLength; p += 2) {
            int version = b.getUnsignedShort(p);
            if (!TlsWire.isGrease(version) && version > highest) {
                highest = version;
            }
        }
        return highest;
    }

    /**
     * Whether a signature_algorithms extension holds a non-empty list of 2-byte schemes that fills
     * it exactly (RFC 8446 §4.2.3). JA4 hashes the list, so it must be unambiguous.
     */
    private static boolean signatureAlgorithmsWellFormed(ByteBuf b, int extension) {
        int length = HelloLayout.extensionLength(b, extension);
        if (length < 4) {
            return false;
        }
        int listLength = b.getUnsignedShort(extension + 4);
        return listLength == length - 2 && (listLength & 1) == 0;
    }

    /**
     * Whether an encrypted_client_hello extension is a well-formed ECHClientHello of type outer
     * (RFC 9849 §5): cipher suite, config id, enc and a non-empty payload filling it exactly. The
     * type inner belongs inside the encrypted payload and never on the wire, and no other type
     * exists, so either of those is malformed, whatever the outer name.
     */
    private static boolean isOuterEch(ByteBuf b, int extension) {
        int length = HelloLayout.extensionLength(b, extension);
        int p = extension + 4;
        int end = p + length;
        // type (1), cipher_suite (2 + 2), config_id (1), enc length (2)
        if (length < 8 || b.getUnsignedByte(p) != ECH_TYPE_OUTER) {
            return false;
        }
        p += 6;
        p += 2 + b.getUnsignedShort(p);
        if (end - p < 2) {
            return false;
        }
        int payloadLength = b.getUnsignedShort(p);
        return payloadLength >= 1 && end - p - 2 == payloadLength;
    }
}
