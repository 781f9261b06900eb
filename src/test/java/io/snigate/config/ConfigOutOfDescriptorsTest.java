package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A config that cannot be read because the process is out of file descriptors (verify N3: a
 * reload's line said {@code java.nio.file.FileSystemException: …: Too many open files}) says so in
 * words. Read for real in a child JVM ({@link Reader}) that takes every descriptor its limit leaves.
 */
class ConfigOutOfDescriptorsTest {
    @TempDir
    Path dir;

    @Test
    void aConfigReadWithNoDescriptorLeftSaysSoInWords() throws Exception {
        Path file = Files.writeString(dir.resolve("routes.yaml"), "listen: [\"127.0.0.1:8443\"]\n");
        Path loop = dir.resolve("loop.yaml");
        Files.createSymbolicLink(loop, loop);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder("prlimit", "--nofile=1024", java, "-cp", System.getProperty("java.class.path"),
                Reader.class.getName(), file.toString(), loop.toString())
                .redirectError(dir.resolve("stderr.txt").toFile()).start(); // the JVM's own lines apart
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("the child is done").isTrue();
        String said = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(said).as(Files.readString(dir.resolve("stderr.txt")))
                .isEqualTo(file + ": cannot be read: the process is out of file descriptors (Too many open files)");
    }

    /** The child: reads the file once every descriptor is taken, and prints what the read says. */
    static final class Reader {
        public static void main(String[] args) throws IOException {
            Path file = Path.of(args[0]);
            // A read that fails the same way first (a loop of links), so that no class is left to
            // load from a jar or a folder, which would need a descriptor.
            try {
                ConfigLoader.readText(Path.of(args[1]));
            } catch (ConfigException expected) {
                // as the read below, for another reason
            }
            List<FileInputStream> taken = new ArrayList<>();
            try {
                while (true) {
                    taken.add(new FileInputStream(args[0]));
                }
            } catch (IOException noneLeft) {
                // every descriptor is taken
            }
            String said;
            try {
                ConfigLoader.readText(file);
                said = "read with " + taken.size() + " descriptors taken";
            } catch (ConfigException e) {
                said = e.getMessage();
            }
            for (FileInputStream stream : taken) {
                stream.close();
            }
            System.out.println(said);
        }
    }
}
