package io.snigate.preread;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A second JA4, written as plainly as the specification reads
 * (https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md) and sharing nothing with
 * {@link Ja4}: lists of hex strings, the specification's GREASE table, {@code String.format},
 * {@code MessageDigest} on whole strings, and the ALPN rule applied to the hex string of the
 * whole value. Slow, and trusting: only for well-formed hellos.
 */
final class NaiveJa4 {

    /** The specification's GREASE table (draft-davidben-tls-grease-01). */
    private static final Set<String> GREASE = Set.of(
            "0a0a", "1a1a", "2a2a", "3a3a", "4a4a", "5a5a", "6a6a", "7a7a",
            "8a8a", "9a9a", "aaaa", "baba", "caca", "dada", "eaea", "fafa");

    private static final Map<String, String> VERSIONS = Map.of(
            "0304", "13", "0303", "12", "0302", "11", "0301", "10", "0300", "s3", "0002", "s2",
            "feff", "d1", "fefd", "d2", "fefc", "d3");

    private NaiveJa4() {}

    /** The pieces of a fingerprint before hashing, as the specification's "raw" output shows them. */
    record Raw(String a, List<String> ciphers, List<String> extensions, List<String> signatureAlgorithms) {
        /** JA4_r: the sorted lists. */
        String sorted() {
            return a + "_" + String.join(",", sortedCiphers()) + "_" + extensionsAndAlgorithms(true);
        }

        /** JA4: the sorted lists, hashed. */
        String hashed() {
            return a + "_" + hash(String.join(",", sortedCiphers())) + "_" + hash(extensionsAndAlgorithms(true));
        }

        /** JA4_o: the lists in the client's order (server_name and ALPN kept), hashed. */
        String originalHashed() {
            return a + "_" + hash(String.join(",", ciphers)) + "_" + hash(extensionsAndAlgorithms(false));
        }

        private List<String> sortedCiphers() {
            return ciphers.stream().sorted().toList();
        }

        private String extensionsAndAlgorithms(boolean sorted) {
            List<String> list = sorted
                    ? extensions.stream().filter(e -> !e.equals("0000") && !e.equals("0010")).sorted().toList()
                    : extensions;
            String text = String.join(",", list);
            if (list.isEmpty()) {
                return "";
            }
            return signatureAlgorithms.isEmpty() ? text : text + "_" + String.join(",", signatureAlgorithms);
        }
    }

    /** The JA4 fingerprint of the ClientHello that {@code wire} opens with, in TLS records. */
    static String of(byte[] wire) {
        return raw(wire).hashed();
    }

    static Raw raw(byte[] wire) {
        ByteBuffer hello = ByteBuffer.wrap(handshakeMessage(wire));
        hello.get(); // handshake type
        hello.position(4);
        String legacyVersion = hex16(hello.getShort());
        hello.position(hello.position() + 32);
        int sessionIdLength = hello.get() & 0xff;
        hello.position(hello.position() + sessionIdLength);
        List<String> ciphers = new ArrayList<>();
        int cipherBytes = hello.getShort() & 0xffff;
        for (int i = 0; i < cipherBytes / 2; i++) {
            ciphers.add(hex16(hello.getShort()));
        }
        int compressionMethodsLength = hello.get() & 0xff;
        hello.position(hello.position() + compressionMethodsLength);
        List<String> extensions = new ArrayList<>();
        Map<String, byte[]> data = new TreeMap<>();
        if (hello.hasRemaining()) {
            hello.getShort();
            while (hello.hasRemaining()) {
                String type = hex16(hello.getShort());
                byte[] content = new byte[hello.getShort() & 0xffff];
                hello.get(content);
                extensions.add(type);
                data.putIfAbsent(type, content);
            }
        }
        ciphers.removeIf(GREASE::contains);
        extensions.removeIf(GREASE::contains);

        String version = legacyVersion;
        if (data.containsKey("002b")) {
            List<String> offered = u16List(data.get("002b"), 1);
            version = offered.stream()
                    .max((x, y) -> Integer.compare(Integer.parseInt(x, 16), Integer.parseInt(y, 16)))
                    .orElse("none");
        }
        List<String> algorithms = data.containsKey("000d") ? u16List(data.get("000d"), 2) : List.of();
        String a = "t"
                + VERSIONS.getOrDefault(version, "00")
                + (extensions.contains("0000") ? "d" : "i")
                + String.format("%02d", Math.min(99, ciphers.size()))
                + String.format("%02d", Math.min(99, extensions.size()))
                + alpn(data.get("0010"));
        return new Raw(a, ciphers, extensions, algorithms);
    }

    /** The first and last character of the first protocol, or of its hex when one is not alphanumeric. */
    private static String alpn(byte[] extension) {
        if (extension == null || extension.length < 3 || extension[2] == 0) {
            return "00";
        }
        byte[] first = new byte[extension[2] & 0xff];
        System.arraycopy(extension, 3, first, 0, first.length);
        String text = new String(first, StandardCharsets.ISO_8859_1);
        if (text.matches("(?s)[0-9A-Za-z](.*[0-9A-Za-z])?")) {
            return "" + text.charAt(0) + text.charAt(text.length() - 1);
        }
        String hex = HexFormat.of().formatHex(first);
        return "" + hex.charAt(0) + hex.charAt(hex.length() - 1);
    }

    /** The 2-byte values after a length prefix of {@code prefix} bytes, GREASE left out. */
    private static List<String> u16List(byte[] extension, int prefix) {
        List<String> values = new ArrayList<>();
        for (int i = prefix; i + 1 < extension.length; i += 2) {
            String value = String.format("%02x%02x", extension[i], extension[i + 1]);
            if (!GREASE.contains(value)) {
                values.add(value);
            }
        }
        return values;
    }

    private static String hex16(short value) {
        return String.format("%04x", value & 0xffff);
    }

    static String hash(String text) {
        if (text.isEmpty()) {
            return "000000000000";
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(digest).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** The fragments of the leading handshake records, up to the end of the first message. */
    private static byte[] handshakeMessage(byte[] wire) {
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        ByteBuffer records = ByteBuffer.wrap(wire);
        int needed = Integer.MAX_VALUE;
        while (message.size() < needed) {
            records.get(); // content type
            records.getShort();
            byte[] fragment = new byte[records.getShort() & 0xffff];
            records.get(fragment);
            message.writeBytes(fragment);
            byte[] soFar = message.toByteArray();
            if (soFar.length >= 4) {
                needed = 4 + ((soFar[1] & 0xff) << 16 | (soFar[2] & 0xff) << 8 | (soFar[3] & 0xff));
            }
        }
        byte[] all = message.toByteArray();
        byte[] exact = new byte[needed];
        System.arraycopy(all, 0, exact, 0, needed);
        return exact;
    }
}
