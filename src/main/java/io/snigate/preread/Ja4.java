package io.snigate.preread;

import static io.snigate.preread.HelloLayout.ABSENT;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * The JA4 TLS client fingerprint of a ClientHello, as FoxIO's specification defines it:
 * {@code technical_details/JA4.md} and the README of https://github.com/FoxIO-LLC/ja4 (JA4 is
 * FoxIO's, under the BSD 3-Clause licence of that repository's {@code LICENSE-JA4}; the other
 * JA4+ methods are under another licence and are not implemented here). Written from the
 * specification's text, not from any implementation of it.
 *
 * <p>{@code t13d1516h2_8daaf6152771_e5627efa2ab1} reads:
 * <ul>
 *   <li>{@code t}: TLS over TCP, the only transport the pre-read sees.
 *   <li>{@code 13}: the version: the highest value in supported_versions when the hello has that
 *       extension, else the ClientHello's legacy_version; never the record version. {@code 13},
 *       {@code 12}, {@code 11}, {@code 10}, {@code s3}, {@code s2}, {@code d1}, {@code d2},
 *       {@code d3}, and {@code 00} for anything else, including a supported_versions that holds
 *       nothing but GREASE (it exists, so legacy_version does not count, and it names no version).
 *   <li>{@code d}: a server_name extension is present ({@code i}: it is not), whatever it holds.
 *   <li>{@code 15}, {@code 16}: how many cipher suites and how many extensions, GREASE left out,
 *       server_name and ALPN counted, at most 99.
 *   <li>{@code h2}: the first and last character of the first ALPN protocol name, when both are
 *       ASCII letters or digits; otherwise the first and last character of that whole name in
 *       lower-case hex (so {@code 0x30 0xAB} gives {@code 3b}); {@code 00} without ALPN.
 *   <li>{@code 8daaf6152771}: the first 12 hex digits of the SHA-256 of the cipher suites as
 *       4-digit lower-case hex, sorted, comma-separated, GREASE left out.
 *   <li>{@code e5627efa2ab1}: the same of the extension types, sorted, GREASE, server_name and
 *       ALPN left out, then an underscore and the signature_algorithms list in the client's order,
 *       GREASE left out; no underscore when that leaves no algorithm.
 * </ul>
 * A list that is empty once GREASE is left out hashes to {@code 000000000000}. GREASE is left out
 * of every list, signature algorithms included: Chrome puts a fresh GREASE value there on every
 * connection, and a fingerprint that kept it would change every time (FoxIO ja4#305).
 *
 * <p>One instance per thread (see {@link ParseScratch}); a fingerprint costs its one string, and
 * none when the thread has computed it before ({@link Ja4Memory}).
 */
final class Ja4 {
    /** Every JA4 fingerprint has this many characters. */
    static final int LENGTH = 36;

    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final int HASH_CHARS = 12;
    /** How much list text is hashed at a time: a list has no length limit of its own. */
    private static final int TEXT_CHUNK = 256;
    private static final int NO_SEPARATOR = -1;
    /** The characters between the leading {@code t} and the first hash: version to ALPN. */
    private static final int PREFIX = 9;
    /** Where the cipher suites start in {@link #input}: after the prefix and their number. */
    private static final int CIPHERS_AT = PREFIX + 1;

    private final MessageDigest sha256;
    private final byte[] digest = new byte[32];
    private final byte[] text = new byte[TEXT_CHUNK];
    private int textLength;
    private final byte[] fingerprint = new byte[LENGTH];
    private final Ja4Memory memory = new Ja4Memory();
    /**
     * Everything the fingerprint is computed from, what {@link Ja4Memory} compares: the
     * {@link #PREFIX} characters; the number of cipher suites and the suites; the number of
     * extension types and the types, sorted; the signature algorithms in the client's order, to the
     * end. GREASE left out of every list. Grows with the hello, which the size limit bounds.
     */
    private int[] input = new int[128];
    private int extensionsAt;
    private int algorithmsAt;
    private int inputLength;
    /** The cipher suites, sorted for their hash. */
    private int[] sorted = new int[64];

    Ja4() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /**
     * The fingerprint of the ClientHello laid out in {@code hello}, whose extensions have been
     * checked to be well-formed.
     *
     * @param version the version it names: supported_versions' highest, else legacy_version
     */
    String fingerprint(ByteBuf b, HelloLayout hello, int version) {
        byte[] out = fingerprint;
        out[0] = 't';
        versionCode(version, out, 1);
        out[3] = (byte) (hello.serverName() != ABSENT ? 'd' : 'i');
        int ciphers = cipherSuites(b, hello);
        twoDigits(ciphers, out, 4);
        twoDigits(hello.extensionCount(), out, 6);
        alpnCharacters(b, hello.alpn(), out, 8);
        for (int i = 0; i < PREFIX; i++) {
            input[i] = out[1 + i];
        }
        extensionTypes(hello);
        signatureAlgorithms(b, hello.signatureAlgorithms());
        String known = memory.find(input, inputLength);
        if (known != null) {
            return known;
        }
        String computed = computeHashes(out);
        memory.remember(input, inputLength, computed);
        return computed;
    }

    /** The fingerprint from its first characters, already in {@code out}, and {@link #input}'s lists. */
    private String computeHashes(byte[] out) {
        // Nothing is left over from a fingerprint that failed half-way.
        textLength = 0;
        sha256.reset();
        out[10] = '_';
        int ciphers = input[CIPHERS_AT - 1];
        sorted = ensureCapacity(sorted, ciphers);
        System.arraycopy(input, CIPHERS_AT, sorted, 0, ciphers);
        Arrays.sort(sorted, 0, ciphers);
        hashValues(sorted, ciphers, out, 11);
        out[23] = '_';
        int extensions = input[extensionsAt - 1];
        if (extensions == 0) {
            Arrays.fill(out, 24, LENGTH, (byte) '0');
        } else {
            appendList(input, extensionsAt, extensions);
            for (int i = algorithmsAt; i < inputLength; i++) {
                appendHex(i == algorithmsAt ? '_' : ',', input[i]);
            }
            finishHash(out, 24);
        }
        return new String(out, 0, LENGTH, StandardCharsets.ISO_8859_1);
    }

    private static void versionCode(int version, byte[] out, int at) {
        String code = switch (version) {
            case 0x0304 -> "13";
            case 0x0303 -> "12";
            case 0x0302 -> "11";
            case 0x0301 -> "10";
            case 0x0300 -> "s3";
            case 0x0002 -> "s2";
            case 0xfeff -> "d1";
            case 0xfefd -> "d2";
            case 0xfefc -> "d3";
            default -> "00";
        };
        out[at] = (byte) code.charAt(0);
        out[at + 1] = (byte) code.charAt(1);
    }

    private static void twoDigits(int count, byte[] out, int at) {
        int n = Math.min(count, 99);
        out[at] = (byte) ('0' + n / 10);
        out[at + 1] = (byte) ('0' + n % 10);
    }

    /**
     * Puts the cipher suites but GREASE in {@link #input}, in the client's order (a client sends
     * them in the same order every time; they are sorted for the hash), after their number;
     * returns how many.
     */
    private int cipherSuites(ByteBuf b, HelloLayout hello) {
        int count = appendValues(b, hello.cipherSuitesStart(), hello.cipherSuitesEnd(), CIPHERS_AT) - CIPHERS_AT;
        input[CIPHERS_AT - 1] = count;
        return count;
    }

    /** Puts the extension types but GREASE, server_name and ALPN in {@link #input}, sorted, after their number. */
    private void extensionTypes(HelloLayout hello) {
        int count = hello.otherTypeCount();
        extensionsAt = CIPHERS_AT + input[CIPHERS_AT - 1] + 1;
        input = ensureCapacity(input, extensionsAt + count);
        input[extensionsAt - 1] = count;
        System.arraycopy(hello.otherTypes(), 0, input, extensionsAt, count);
        Arrays.sort(input, extensionsAt, extensionsAt + count);
        algorithmsAt = extensionsAt + count;
        inputLength = algorithmsAt;
    }

    /** Puts the signature algorithms but GREASE in {@link #input}, in the client's order, to its end. */
    private void signatureAlgorithms(ByteBuf b, int extension) {
        if (extension == ABSENT) {
            return;
        }
        int start = extension + 6;
        inputLength = appendValues(b, start, start + b.getUnsignedShort(extension + 4), algorithmsAt);
    }

    /**
     * Puts the 16-bit values of {@code b[start, end)} but GREASE in {@link #input} from {@code at},
     * in their order; returns where they end.
     */
    private int appendValues(ByteBuf b, int start, int end, int at) {
        input = ensureCapacity(input, at + (end - start) / 2);
        for (int p = start; p < end; p += 2) {
            int value = b.getUnsignedShort(p);
            if (!TlsWire.isGrease(value)) {
                input[at++] = value;
            }
        }
        return at;
    }

    private static void alpnCharacters(ByteBuf b, int alpn, byte[] out, int at) {
        if (alpn == ABSENT) {
            out[at] = '0';
            out[at + 1] = '0';
            return;
        }
        int lengthByte = AlpnNames.firstProtocol(alpn);
        int length = b.getUnsignedByte(lengthByte); // never 0: AlpnNames.wellFormed refuses empty names
        int first = b.getUnsignedByte(lengthByte + 1);
        int last = b.getUnsignedByte(lengthByte + length);
        if (isAsciiAlphanumeric(first) && isAsciiAlphanumeric(last)) {
            out[at] = (byte) first;
            out[at + 1] = (byte) last;
        } else {
            out[at] = HEX[first >>> 4];
            out[at + 1] = HEX[last & 0xf];
        }
    }

    private static boolean isAsciiAlphanumeric(int c) {
        return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z';
    }

    /** Writes the hash of the first {@code count} of {@code values} at {@code out[at]}. */
    private void hashValues(int[] values, int count, byte[] out, int at) {
        if (count == 0) {
            Arrays.fill(out, at, at + HASH_CHARS, (byte) '0');
            return;
        }
        appendList(values, 0, count);
        finishHash(out, at);
    }

    /** Appends {@code count} of {@code values} from {@code from} to the text being hashed, comma-separated. */
    private void appendList(int[] values, int from, int count) {
        for (int i = 0; i < count; i++) {
            appendHex(i == 0 ? NO_SEPARATOR : ',', values[from + i]);
        }
    }

    /** Appends {@code separator} (unless {@link #NO_SEPARATOR}) and {@code value} as 4 hex digits. */
    private void appendHex(int separator, int value) {
        if (textLength > text.length - 5) {
            sha256.update(text, 0, textLength);
            textLength = 0;
        }
        byte[] t = text;
        int at = textLength;
        if (separator != NO_SEPARATOR) {
            t[at++] = (byte) separator;
        }
        t[at] = HEX[value >>> 12 & 0xf];
        t[at + 1] = HEX[value >>> 8 & 0xf];
        t[at + 2] = HEX[value >>> 4 & 0xf];
        t[at + 3] = HEX[value & 0xf];
        textLength = at + 4;
    }

    /** Hashes the rest of the text and writes the first 12 hex digits of the hash at {@code out[at]}. */
    private void finishHash(byte[] out, int at) {
        sha256.update(text, 0, textLength);
        textLength = 0;
        try {
            sha256.digest(digest, 0, digest.length);
        } catch (DigestException e) {
            throw new IllegalStateException("SHA-256 into a 32-byte array", e);
        }
        for (int i = 0; i < HASH_CHARS / 2; i++) {
            out[at + 2 * i] = HEX[(digest[i] & 0xff) >>> 4];
            out[at + 2 * i + 1] = HEX[digest[i] & 0xf];
        }
    }

    /** {@code array}, or a copy with room for {@code length} values. */
    private static int[] ensureCapacity(int[] array, int length) {
        return array.length >= length ? array : Arrays.copyOf(array, Math.max(length, 2 * array.length));
    }
}
