package io.snigate.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a kernel setting from {@code /proc/sys}. */
public final class Sysctl {
    private Sysctl() {}

    /**
     * The setting in {@code file}, stripped. Read in one go: a sysctl file says its size is 0 and
     * answers a read at any offset but 0 with its end, so {@code Files.readString}, which reads one
     * byte when the size is 0 and then the rest, gets the first digit only ("1" for 1024).
     */
    public static String read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
        }
    }
}
