package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who listens on a port, read from a {@code /proc} the test writes: the listening rows of
 * {@code net/tcp} and the process whose descriptor names the socket.
 */
class PortListenersTest {
    private static final String HEADER =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    private static String row(int n, String local, String remote, String state, long inode) {
        return String.format("%4d: %s %s %s 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 100 0 0 10 0%n",
                n, local, remote, state, inode);
    }

    /**
     * The listener is found by its inode and named with its process; the table is read only as
     * far as its listening rows go, as the kernel lists them first (during a hand-over the rest
     * holds every connection of the other process): a listening row after them is never read.
     */
    @Test
    void findsTheProcessOfAListeningSocketAndReadsOnlyTheListeningRows(@TempDir Path proc) throws Exception {
        StringBuilder tcp = new StringBuilder(HEADER);
        tcp.append(row(0, "0100007F:20FB", "00000000:0000", "0A", 4242)); // 127.0.0.1:8443, listening
        for (int i = 1; i <= 50_000; i++) {
            tcp.append(row(i, "0100007F:20FB", "0100007F:C350", "01", 100_000 + i)); // its connections
        }
        tcp.append(row(50_001, "0100007F:2382", "00000000:0000", "0A", 4343)); // out of the kernel's order
        Files.createDirectories(proc.resolve("net"));
        Files.writeString(proc.resolve("net/tcp"), tcp);
        Path process = Files.createDirectories(proc.resolve("812/fd"));
        Files.createSymbolicLink(process.resolve("3"), Path.of("socket:[4242]"));
        Files.createSymbolicLink(process.resolve("4"), Path.of("socket:[4343]"));
        Files.writeString(proc.resolve("812/comm"), "nginx\n");
        Files.write(proc.resolve("812/cmdline"), "nginx\0-g\0daemon off;\0".getBytes(StandardCharsets.ISO_8859_1));
        Path snigate = Files.createDirectories(proc.resolve("4711/fd"));
        Files.createSymbolicLink(snigate.resolve("9"), Path.of("socket:[4242]"));
        Files.writeString(proc.resolve("4711/comm"), "java\n");
        Files.write(proc.resolve("4711/cmdline"),
                "java\0-jar\0/opt/snigate/snigate.jar\0--config\0routes.yaml\0".getBytes(StandardCharsets.ISO_8859_1));
        Files.createSymbolicLink(proc.resolve("4711/cwd"), Path.of("/etc/snigate"));

        PortListeners listeners = new PortListeners(proc);

        assertThat(listeners.on(8443)).extracting(PortListeners.Listener::described)
                .containsExactly("nginx (pid 812)", "snigate (pid 4711, config /etc/snigate/routes.yaml)");
        assertThat(listeners.on(9090)).as("a listening row after the connections is not read").isEmpty();
        assertThat(listeners.on(443)).isEmpty();
    }
}
