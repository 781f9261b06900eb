package io.snigate.handover;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --await-ready} reads only the config's admin address: a list it could not load, or
 * would load only in a bigger heap than its own, does not keep it from asking.
 */
class AwaitReadyTest {
    @TempDir
    Path dir;

    @Test
    void aConfigWhoseListsItCannotLoadStillGivesItTheAdminAddress() throws Exception {
        long pid = ProcessHandle.current().pid();
        try (ServerSocket admin = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> answers = CompletableFuture.runAsync(() -> {
                try (Socket asked = admin.accept()) {
                    asked.getInputStream().read(new byte[1024]);
                    String body = "ready pid=" + pid + "\n";
                    asked.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length()
                            + "\r\nConnection: close\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }, runnable -> new Thread(runnable).start());
            Path config = Files.writeString(dir.resolve("routes.yaml"), """
                    listen: ["127.0.0.1:18443"]
                    admin: "127.0.0.1:%d"
                    routes:
                      - match_file: "lists.d/*.list"
                        upstream: "$sni:443"
                    """.formatted(admin.getLocalPort()));

            assertThat(AwaitReady.run(Long.toString(pid), "--config", config.toString(), "--timeout", "10")).isZero();
            answers.get(10, TimeUnit.SECONDS); // the answer was sent, and nothing went wrong on the way
        }
    }
}
