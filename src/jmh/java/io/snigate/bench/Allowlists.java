package io.snigate.bench;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Generated allowlists and the config that loads them, for the allowlist benchmarks. Names look
 * like a real list's ({@code h123456.d4321.com}, 16 to 18 characters at a million), in the three
 * forms: one line in ten is {@code .suffix}, one in ten {@code *.suffix}, the rest exact names.
 */
final class Allowlists {
    private Allowlists() {}

    /** The {@code i}-th name of every generated list. */
    static String name(int i) {
        return "h" + i + ".d" + (i % 10_007) + ".com";
    }

    /** Writes a list of {@code names} lines into {@code dir}, and a routes.yaml whose one route takes it. */
    static Path config(Path dir, int names) throws IOException {
        Path list = dir.resolve("allow.list");
        try (BufferedWriter out = Files.newBufferedWriter(list)) {
            out.write("# generated: " + names + " names\n");
            for (int i = 0; i < names; i++) {
                out.write(i % 10 == 0 ? "." : i % 10 == 1 ? "*." : "");
                out.write(name(i));
                out.write('\n');
            }
        }
        return Files.writeString(dir.resolve("routes.yaml"), """
                listen: ["127.0.0.1:0"]
                admin: "127.0.0.1:0"
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:9"
                  - match_file: "allow.list"
                    upstream: "$sni:443"
                """);
    }
}
