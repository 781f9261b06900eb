package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.testing.ChildProxy;
import io.snigate.testing.Corpus;
import io.snigate.testing.ProxyHarness;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A proxy out of file descriptors cannot accept: it says so, pauses accepting for a second at a
 * time instead of retrying at once in a loop that would hold its core, and accepts again once
 * descriptors are free. The proxy runs in a child JVM with a descriptor limit of its own
 * ({@code prlimit}); the clients that use its descriptors up send nothing and wait in pre-read.
 * The admin endpoint says so the same way.
 */
class AcceptPauseTest {
    private static final int DESCRIPTORS = 400;
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");
    private static final String OUT_OF_DESCRIPTORS = " failed: the process is out of file descriptors (Too many open files)";

    @TempDir
    Path dir;

    private final List<Socket> clients = new ArrayList<>();

    @AfterEach
    void closeClients() throws IOException {
        for (Socket client : clients) {
            client.close();
        }
    }

    @Test
    void outOfDescriptorsAcceptingPausesAndResumes() throws Exception {
        try (ChildProxy proxy = ChildProxy.start(dir, 1, (admin, listen) -> """
                listen: ["127.0.0.1:%d"]
                admin: "127.0.0.1:%d"
                timeouts: { preread: 120s }
                routes:
                  - match: "*.elsewhere.test"
                    upstream: "127.0.0.1:9"
                """.formatted(listen[0], admin), List.of("prlimit", "--nofile=" + DESCRIPTORS))) {
            // What follows runs each path once first: with no descriptor free the child could not
            // open a class file it has not loaded yet (the test's class path is mostly folders).
            assertThat(rejected(proxy)).as("a TLS alert record").startsWith(21);
            new Socket(InetAddress.getLoopbackAddress(), proxy.listenPort()).close();
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.stdout().lines().count() >= 2);
            // A failed reload left pending when the descriptors run out: its retries must not
            // come back as failures of their own (failed: one more, "out of file descriptors").
            Path config = dir.resolve("routes.yaml");
            String running = Files.readString(config);
            Files.writeString(config, running + "    no_such_key: 1\n");
            await().atMost(Duration.ofSeconds(15)).until(() -> proxy.stderr().contains("reload (file changed) failed"));

            long pid = proxy.process().pid();
            int free = DESCRIPTORS - openDescriptors(pid);
            for (int i = 0; i < free + 20; i++) {
                clients.add(new Socket(InetAddress.getLoopbackAddress(), proxy.listenPort()));
            }
            // On io_uring snigate's listener says so; on epoll (no io_uring here) Netty's acceptor,
            // in the same words (failed: "errno 24" on io_uring, Netty's "accept(..) failed with
            // error(-24)" on epoll).
            await().atMost(Duration.ofSeconds(20)).until(() -> proxy.stderr().contains(OUT_OF_DESCRIPTORS));
            // The listen address as the start-up lines print it (failed: "/127.0.0.1:…", Java's toString).
            assertThat(proxy.stderr()).contains("accepting on 127.0.0.1:" + proxy.listenPort() + OUT_OF_DESCRIPTORS
                    + "; trying again in 1 s").doesNotContain("accepting on /");

            // Paused, not spinning: each failed accept is logged, then the loop waits 1 s (3 to 5
            // lines in the 2 s here); a loop that retried at once would log thousands. Counted in
            // lines, not CPU time, which a loaded machine makes uncertain.
            long before = acceptFailuresLogged(proxy);
            Thread.sleep(2_000);
            assertThat(acceptFailuresLogged(proxy) - before).as("failed accepts logged in 2 s while out of descriptors")
                    .isLessThanOrEqualTo(50);

            // The admin endpoint cannot accept either: said in a line, not at a pipeline's tail
            // (ChildProxy.close fails on that sign).
            try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), proxy.adminPort())) {
                await().atMost(Duration.ofSeconds(10))
                        .untilAsserted(() -> assertThat(proxy.stderr()).contains(":" + proxy.adminPort() + OUT_OF_DESCRIPTORS));
            }

            // The config's folder changes all along (the child's output is written there): a look
            // that cannot read the config says so once and reloads nothing, and no failed reload
            // is counted for files it could not read (failed before: "reload (file changed)
            // failed ... out of file descriptors" at every look, paging for the config).
            await().atMost(Duration.ofSeconds(15)).until(() -> proxy.stderr().contains("for changes failed: "));
            assertThat(proxy.stderr()).contains("looking at " + config + " for changes failed: the process is out of"
                    + " file descriptors (Too many open files); a change is reloaded once the files can be read again");
            assertThat(proxy.stderr().split("for changes failed: ", -1)).as("said once, not at every look").hasSize(2);
            // The fix, made meanwhile, waits for a look that can read it.
            Files.writeString(config, running + "  - match: \"*.later.test\"\n    upstream: \"127.0.0.1:9\"\n");
            Thread.sleep(1_500); // a look or two, with the folder's events
            assertThat(proxy.stderr().split("reload \\(", -1)).as("the one failed reload, before the trouble").hasSize(2);
            assertThat(proxy.stderr()).doesNotContain("reloaded " + config);

            for (Socket client : clients) {
                client.close();
            }
            clients.clear();
            // The queued connections were closed by their clients; the next one is accepted and
            // answered (no route for its name: an alert).
            assertThat(rejected(proxy)).as("a TLS alert record; the proxy said:\n%s", proxy.stderr()).startsWith(21);
            await().atMost(Duration.ofSeconds(15)).until(() -> proxy.stderr().contains(" and its lists can be read again"));
            await().atMost(Duration.ofSeconds(15)).until(() -> proxy.stderr().contains("reloaded " + config + " (file changed): 2 routes"));
            assertThat(proxy.stderr().split("reload \\(", -1)).as("no failed reload counted since").hasSize(2);
        }
    }

    /** What the proxy answers a ClientHello whose name no route matches. */
    private static byte[] rejected(ChildProxy proxy) throws IOException {
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), proxy.listenPort())) {
            client.setSoTimeout(20_000);
            client.getOutputStream().write(HELLO);
            return ProxyHarness.readUntilClosed(client);
        }
    }

    private static int openDescriptors(long pid) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return (int) fds.count();
        }
    }

    /** The lines of the proxy's standard error that say an accept failed for want of a descriptor. */
    private static long acceptFailuresLogged(ChildProxy proxy) throws IOException {
        return proxy.stderr().lines()
                .filter(line -> line.contains(OUT_OF_DESCRIPTORS)).count();
    }
}
