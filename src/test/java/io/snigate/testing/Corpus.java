package io.snigate.testing;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

/**
 * The ClientHello corpus copied from shared/corpus into src/test/resources/corpus: its manifest,
 * its files, and the two ways its README says to replay them (split writes, re-framed records).
 */
public final class Corpus {
    private static final int HANDSHAKE = 22;
    private static final int RECORD_HEADER = 5;

    private Corpus() {}

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Entry(
            @JsonProperty("file") String file,
            @JsonProperty("length") int length,
            @JsonProperty("expect") String expect,
            @JsonProperty("sni") String sni,
            @JsonProperty("alpn") List<String> alpn,
            @JsonProperty("reason") String reason,
            @JsonProperty("tls_version") String tlsVersion,
            @JsonProperty("ech") Boolean ech,
            @JsonProperty("alt_reasons") List<String> altReasons) {

        public boolean forward() {
            return "forward".equals(expect);
        }

        /** The manifest's reason and its equally acceptable alternatives, as log labels. */
        public List<String> acceptableReasonLabels() {
            List<String> labels = new ArrayList<>();
            labels.add(reason);
            labels.addAll(altReasons);
            return labels;
        }

        /** Forward, no-SNI and invalid-SNI files are whole ClientHellos, so they can be re-framed. */
        public boolean reframable(byte[] bytes) {
            return bytes.length > 0
                    && bytes[0] == HANDSHAKE
                    && (forward() || "no_sni".equals(reason) || "invalid_sni".equals(reason));
        }
    }

    public static List<Entry> entries() {
        try {
            return new ObjectMapper().readValue(resource("corpus/manifest.json"), new TypeReference<>() {});
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] bytes(Entry entry) {
        return resource("corpus/" + entry.file());
    }

    public static byte[] resource(String path) {
        try (InputStream in = Corpus.class.getClassLoader().getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalArgumentException("no test resource " + path);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(value -> values.add(value.asText()));
        return values;
    }

    /** {@code bytes} cut at {@code pieces - 1} distinct random points. */
    public static List<byte[]> split(byte[] bytes, int pieces, Random random) {
        TreeSet<Integer> cuts = new TreeSet<>();
        while (cuts.size() < Math.min(pieces - 1, bytes.length - 1)) {
            cuts.add(1 + random.nextInt(bytes.length - 1));
        }
        List<byte[]> parts = new ArrayList<>();
        int from = 0;
        for (int cut : cuts) {
            parts.add(Arrays.copyOfRange(bytes, from, cut));
            from = cut;
        }
        parts.add(Arrays.copyOfRange(bytes, from, bytes.length));
        return parts;
    }

    /**
     * The ClientHello carried by the leading handshake records of {@code bytes}, cut into
     * {@code pieces} records at random points (RFC 8446 §5.1 allows it); whatever follows those
     * records is kept unchanged.
     */
    public static byte[] reframe(byte[] bytes, int pieces, Random random) {
        ByteArrayOutputStream handshake = new ByteArrayOutputStream();
        int at = 0;
        int recordVersion = ((bytes[1] & 0xff) << 8) | (bytes[2] & 0xff);
        int needed = -1;
        while (at + RECORD_HEADER <= bytes.length && bytes[at] == HANDSHAKE
                && (needed < 0 || handshake.size() < needed)) {
            int length = ((bytes[at + 3] & 0xff) << 8) | (bytes[at + 4] & 0xff);
            handshake.write(bytes, at + RECORD_HEADER, length);
            at += RECORD_HEADER + length;
            byte[] soFar = handshake.toByteArray();
            if (needed < 0 && soFar.length >= 4) {
                needed = 4 + (((soFar[1] & 0xff) << 16) | ((soFar[2] & 0xff) << 8) | (soFar[3] & 0xff));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] fragment : split(handshake.toByteArray(), pieces, random)) {
            out.write(HANDSHAKE);
            out.write(recordVersion >>> 8);
            out.write(recordVersion);
            out.write(fragment.length >>> 8);
            out.write(fragment.length);
            out.write(fragment, 0, fragment.length);
        }
        out.write(bytes, at, bytes.length - at);
        return out.toByteArray();
    }
}
