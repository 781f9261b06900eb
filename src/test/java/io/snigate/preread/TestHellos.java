package io.snigate.preread;

import io.snigate.core.TlsVersions;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds ClientHellos byte by byte for the edge cases real clients never send, and frames them
 * (or real captures) into any number of TLS records.
 */
final class TestHellos {

    static final int HANDSHAKE = 22;

    private TestHellos() {}

    static Builder hello() {
        return new Builder();
    }

    static final class Builder {
        private int recordVersion = TlsVersions.TLS_1_0;
        private int handshakeType = 1;
        private int legacyVersion = TlsVersions.TLS_1_2;
        private byte[] sessionId = new byte[32];
        private byte[] cipherSuites = {0x13, 0x01, 0x13, 0x02, (byte) 0xc0, 0x2f};
        private byte[] compressionMethods = {0};
        private boolean extensionsBlock = true;
        private final List<byte[]> extensions = new ArrayList<>();

        Builder recordVersion(int version) {
            this.recordVersion = version;
            return this;
        }

        Builder handshakeType(int type) {
            this.handshakeType = type;
            return this;
        }

        Builder legacyVersion(int version) {
            this.legacyVersion = version;
            return this;
        }

        Builder sessionId(int length) {
            this.sessionId = new byte[length];
            return this;
        }

        Builder cipherSuites(byte... suites) {
            this.cipherSuites = suites;
            return this;
        }

        Builder cipherSuites(int... suites) {
            return cipherSuites(u16s(suites));
        }

        Builder compressionMethods(byte... methods) {
            this.compressionMethods = methods;
            return this;
        }

        /** Ends the body after compression_methods, as pre-TLS 1.2 clients may. */
        Builder withoutExtensionsBlock() {
            this.extensionsBlock = false;
            return this;
        }

        Builder sni(String name) {
            return sni(name.getBytes(StandardCharsets.ISO_8859_1));
        }

        Builder sni(byte[] name) {
            return serverNameEntries(serverNameEntry(0, name));
        }

        /** A server_name extension with exactly the given entries (type, length, name each). */
        Builder serverNameEntries(byte[]... entries) {
            byte[] list = concat(entries);
            return extension(TlsWire.EXT_SERVER_NAME, concat(u16(list.length), list));
        }

        Builder alpn(String... protocols) {
            ByteArrayOutputStream list = new ByteArrayOutputStream();
            for (String protocol : protocols) {
                byte[] bytes = protocol.getBytes(StandardCharsets.ISO_8859_1);
                list.write(bytes.length);
                list.writeBytes(bytes);
            }
            byte[] listBytes = list.toByteArray();
            return extension(TlsWire.EXT_ALPN, concat(u16(listBytes.length), listBytes));
        }

        Builder supportedVersions(int... versions) {
            byte[] data = new byte[1 + 2 * versions.length];
            data[0] = (byte) (2 * versions.length);
            for (int i = 0; i < versions.length; i++) {
                data[1 + 2 * i] = (byte) (versions[i] >>> 8);
                data[2 + 2 * i] = (byte) versions[i];
            }
            return extension(TlsWire.EXT_SUPPORTED_VERSIONS, data);
        }

        /**
         * An encrypted_client_hello of type outer, as a client sends it (RFC 9849 §5): HKDF-SHA256
         * with AES-128-GCM, config id 7, a 32-byte enc and a 144-byte payload.
         */
        Builder ech() {
            return extension(TlsWire.EXT_ENCRYPTED_CLIENT_HELLO, echOuter(new byte[32], new byte[144]));
        }

        /** An encrypted_client_hello of type inner, which only the encrypted payload may hold. */
        Builder echInner() {
            return extension(TlsWire.EXT_ENCRYPTED_CLIENT_HELLO, new byte[] {1});
        }

        /** ech_outer_extensions naming {@code types}, which only the encrypted inner hello may hold. */
        Builder echOuterExtensions(int... types) {
            byte[] list = u16s(types);
            return extension(TlsWire.EXT_ECH_OUTER_EXTENSIONS, concat(new byte[] {(byte) list.length}, list));
        }

        Builder signatureAlgorithms(int... schemes) {
            byte[] list = u16s(schemes);
            return extension(TlsWire.EXT_SIGNATURE_ALGORITHMS, concat(u16(list.length), list));
        }

        Builder supportedGroups(int... groups) {
            byte[] list = u16s(groups);
            return extension(0x000a, concat(u16(list.length), list));
        }

        /** An extension this pre-read does not read, with some content. */
        Builder otherExtension(int type) {
            return extension(type, new byte[] {0, 1, 2});
        }

        Builder extension(int type, byte[] data) {
            extensions.add(concat(u16(type), u16(data.length), data));
            return this;
        }

        byte[] body() {
            byte[] random = new byte[32];
            Arrays.fill(random, (byte) 0x5a);
            byte[] fixed = concat(
                    u16(legacyVersion),
                    random,
                    new byte[] {(byte) sessionId.length},
                    sessionId,
                    u16(cipherSuites.length),
                    cipherSuites,
                    new byte[] {(byte) compressionMethods.length},
                    compressionMethods);
            if (!extensionsBlock) {
                return fixed;
            }
            byte[] allExtensions = concat(extensions.toArray(new byte[0][]));
            return concat(fixed, u16(allExtensions.length), allExtensions);
        }

        /** The handshake message: type, 3-byte length, body. */
        byte[] handshake() {
            byte[] body = body();
            return concat(new byte[] {(byte) handshakeType}, u24(body.length), body);
        }

        /** The hello in one record, as almost every client sends it. */
        byte[] record() {
            return records(1);
        }

        byte[] records(int count) {
            return splitIntoRecords(handshake(), recordVersion, count);
        }
    }

    /** The body of an outer ECHClientHello: type, cipher suite, config id, enc, payload. */
    static byte[] echOuter(byte[] enc, byte[] payload) {
        return concat(new byte[] {0, 0, 1, 0, 1, 7}, u16(enc.length), enc, u16(payload.length), payload);
    }

    static byte[] serverNameEntry(int type, byte[] name) {
        return concat(new byte[] {(byte) type}, u16(name.length), name);
    }

    /** Frames {@code payload} into records carrying the given fragment lengths, then the rest. */
    static byte[] frame(byte[] payload, int recordVersion, int... fragmentLengths) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int pos = 0;
        for (int length : fragmentLengths) {
            writeRecord(out, recordVersion, payload, pos, length);
            pos += length;
        }
        if (pos < payload.length) {
            writeRecord(out, recordVersion, payload, pos, payload.length - pos);
        }
        return out.toByteArray();
    }

    /** Frames {@code payload} into {@code count} records of nearly equal size. */
    static byte[] splitIntoRecords(byte[] payload, int recordVersion, int count) {
        int[] lengths = new int[count - 1];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = payload.length / count;
        }
        return frame(payload, recordVersion, lengths);
    }


    /** Where {@code needle} first occurs in {@code haystack}; fails when it does not. */
    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("pattern not found");
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    static byte[] u16(int value) {
        return new byte[] {(byte) (value >>> 8), (byte) value};
    }

    static byte[] u16s(int... values) {
        byte[] bytes = new byte[2 * values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[2 * i] = (byte) (values[i] >>> 8);
            bytes[2 * i + 1] = (byte) values[i];
        }
        return bytes;
    }

    static byte[] u24(int value) {
        return new byte[] {(byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
    }

    private static void writeRecord(ByteArrayOutputStream out, int recordVersion, byte[] payload, int from, int length) {
        out.write(HANDSHAKE);
        out.writeBytes(u16(recordVersion));
        out.writeBytes(u16(length));
        out.write(payload, from, length);
    }
}
