package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parser's test corpus ({@code src/test/resources/corpus}), read from the files that its
 * {@code manifest.json} lists. The directory is {@code -Dsnigate.corpus=DIR}, by default the one
 * of the checkout the benchmark runs from.
 */
public final class Corpus {

    static final String DIR_PROPERTY = "snigate.corpus";
    static final String DEFAULT_DIR = "src/test/resources/corpus";

    private static final Pattern FILE_ENTRY = Pattern.compile("\"file\"\\s*:\\s*\"([^\"]+)\"");

    private Corpus() {}

    static Path dir() {
        Path dir = Path.of(System.getProperty(DIR_PROPERTY, DEFAULT_DIR));
        if (!Files.isRegularFile(dir.resolve("manifest.json"))) {
            throw new IllegalStateException("no corpus manifest at " + dir.toAbsolutePath().resolve("manifest.json")
                    + ": run from the checkout's root or pass -D" + DIR_PROPERTY + "=DIR");
        }
        return dir;
    }

    /** The manifest's file names (e.g. {@code captured/curl-default.bin}), in its order. */
    public static List<String> files() {
        try {
            String manifest = Files.readString(dir().resolve("manifest.json"), StandardCharsets.UTF_8);
            List<String> files = new ArrayList<>();
            Matcher m = FILE_ENTRY.matcher(manifest);
            while (m.find()) {
                files.add(m.group(1));
            }
            if (files.isEmpty()) {
                throw new IllegalStateException("the corpus manifest lists no files");
            }
            return files;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] bytes(String file) {
        try {
            return Files.readAllBytes(dir().resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The file's bytes in an unpooled buffer of the given kind, readable from index 0. The parser
     * only reads with absolute getters, so one buffer serves every invocation.
     */
    public static ByteBuf buffer(String file, boolean direct) {
        byte[] bytes = bytes(file);
        ByteBuf buf = direct ? Unpooled.directBuffer(bytes.length, bytes.length) : Unpooled.buffer(bytes.length, bytes.length);
        return buf.writeBytes(bytes);
    }
}
