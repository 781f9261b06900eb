package io.snigate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.testing.ChildProxy;
import io.snigate.testing.Corpus;
import io.snigate.testing.ProcessRunner;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line as an operator uses it: {@code --check} like {@code nginx -t}, and the real
 * process started as a child, drained with SIGTERM.
 */
class CommandLineTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");

    @TempDir
    Path dir;

    private record Checked(int exitCode, String output) {}

    private Checked check(Path file) throws InterruptedException {
        return run("--check", "--config", file.toString());
    }

    /** Main's exit code and what it wrote to standard output and error, together. */
    private static Checked run(String... args) throws InterruptedException {
        PrintStream originalErr = System.err;
        PrintStream originalOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(out, true, StandardCharsets.UTF_8);
        System.setErr(capture);
        System.setOut(capture);
        try {
            int code = Main.run(args);
            return new Checked(code, out.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(originalErr);
            System.setOut(originalOut);
        }
    }

    @Test
    void nettysLeakDetectorSamplesOneBufferIn4096UnlessToldOtherwise() {
        String given = System.getProperty(Main.LEAK_SAMPLING_INTERVAL);
        try {
            System.clearProperty(Main.LEAK_SAMPLING_INTERVAL);
            Main.setNettyDefaults();
            assertThat(System.getProperty(Main.LEAK_SAMPLING_INTERVAL)).isEqualTo("4096");

            System.setProperty(Main.LEAK_SAMPLING_INTERVAL, "128");
            Main.setNettyDefaults();
            assertThat(System.getProperty(Main.LEAK_SAMPLING_INTERVAL)).isEqualTo("128");
        } finally {
            if (given == null) {
                System.clearProperty(Main.LEAK_SAMPLING_INTERVAL);
            } else {
                System.setProperty(Main.LEAK_SAMPLING_INTERVAL, given);
            }
        }
    }

    @Test
    void helpPrintsTheUsageAndExitsZero() throws InterruptedException {
        Checked help = run("--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.output()).startsWith("Usage: snigate [--check] [-c FILE]").contains("--config FILE").contains("--config=FILE");
    }

    @Test
    void unknownArgumentIsAUsageErrorWithExitCodeTwo() throws InterruptedException {
        Checked wrong = run("--chek");
        assertThat(wrong.exitCode()).isEqualTo(2);
        assertThat(wrong.output()).startsWith("snigate: unknown argument '--chek'").contains("Usage: snigate");
        assertThat(run("--config").output()).startsWith("snigate: option '--config' needs a FILE");
    }

    @Test
    void configCanBeGivenAsOneArgument() throws InterruptedException {
        Checked checked = run("--check", "--config=routes.yaml");
        assertThat(checked.exitCode()).isZero();
        assertThat(checked.output()).contains("routes.yaml is valid: 3 routes");
    }

    @Test
    void checkAcceptsTheShippedRoutesYaml() throws InterruptedException {
        Checked checked = check(Path.of("routes.yaml"));
        assertThat(checked.exitCode()).isZero();
        assertThat(checked.output()).contains("routes.yaml is valid: 3 routes");
    }

    /** {@code --check} on a file with one route whose second key line is {@code routeLine}. */
    private Checked checkOneRoute(String file, String listen, String routeLine) throws IOException, InterruptedException {
        return check(Files.writeString(dir.resolve(file), """
                listen: ["%s"]
                routes:
                  - match: "a.example.com"
                    %s
                """.formatted(listen, routeLine)));
    }

    @Test
    void checkRejectsABadFileNamingTheLine() throws IOException, InterruptedException {
        Checked checked = checkOneRoute("bad.yaml", "127.0.0.1:8443", "upstrem: \"192.0.2.1:443\"");
        assertThat(checked.exitCode()).isEqualTo(1);
        assertThat(checked.output()).contains("bad.yaml:4: unknown key \"upstrem\"");
    }

    /** The bad config of {@code ExplainTest}, which explain refuses with exit status 2: {@code --check} refuses it too. */
    @Test
    void checkRejectsAnAuditThatPolicyForbidsAsExplainDoes() throws IOException, InterruptedException {
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "listen: \"127.0.0.1:8443\"\npolicy: { allow_audit: false }\n"
                + "routes:\n  - match: a.example\n    upstream: \"$sni:443\"\n    mode: audit\n");
        assertThat(check(bad).exitCode()).as("--check refuses it too").isEqualTo(1);
    }

    @Test
    void checkRejectsAFixedUpstreamThatIsItsOwnListenAddress() throws IOException, InterruptedException {
        Checked checked = checkOneRoute("loop.yaml", "0.0.0.0:8443", "upstream: \"127.0.0.1:8443\"");
        assertThat(checked.exitCode()).isEqualTo(1);
        assertThat(checked.output()).contains("loop.yaml:4:").contains("loop");
    }

    /**
     * The proxy in a child JVM, ready, with one route to {@code upstreamPort}. It writes the access
     * log to standard output itself, whatever SLF4J binding the class path brings (the tests'
     * Logback here, slf4j-simple in the jar).
     */
    private ChildProxy startProxy(int upstreamPort, String drain) throws IOException {
        return startProxy(upstreamPort, drain, List.of());
    }

    /** {@code launcher}: before the java command, as {@link ChildProxy#start} takes it. */
    private ChildProxy startProxy(int upstreamPort, String drain, List<String> launcher) throws IOException {
        return ChildProxy.start(dir, 1, (admin, listen) -> """
                listen: ["127.0.0.1:%d"]
                admin: "127.0.0.1:%d"
                timeouts: { drain: %s }
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:%d"
                """.formatted(listen[0], admin, drain, upstreamPort), launcher);
    }

    @Test
    void sigtermDrainsInFlightConnectionsRefusesNewOnesAndExitsZero() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch helloArrived = new CountDownLatch(1);
        byte[] reply = new byte[1 << 20];
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<byte[]> upstreamGot = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = upstream.accept()) {
                    byte[] hello = socket.getInputStream().readNBytes(HELLO.length);
                    helloArrived.countDown();
                    if (!release.await(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("the test never released the answer");
                    }
                    socket.getOutputStream().write(reply);
                    return hello;
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            try (ChildProxy started = startProxy(upstream.getLocalPort(), "10s")) {
                Process proxy = started.process();
                int listenPort = started.listenPort();
                try (Socket client = new Socket(InetAddress.getLoopbackAddress(), listenPort)) {
                    client.setSoTimeout(20_000);
                    client.getOutputStream().write(HELLO);
                    assertThat(helloArrived.await(10, TimeUnit.SECONDS)).as("tunnel open").isTrue();

                    proxy.destroy(); // SIGTERM
                    await().atMost(Duration.ofSeconds(10)).until(() -> started.status("/readyz") == 503);
                    await().atMost(Duration.ofSeconds(10)).until(() -> refuses(listenPort));

                    release.countDown();
                    InputStream in = client.getInputStream();
                    assertThat(in.readAllBytes()).hasSize(reply.length);
                }
                assertThat(upstreamGot.get(5, TimeUnit.SECONDS)).as("what reached the upstream").isEqualTo(HELLO);
                assertThat(proxy.waitFor(15, TimeUnit.SECONDS)).as("exited within the drain timeout").isTrue();
                assertThat(proxy.exitValue()).isZero();
                assertThat(started.stdout())
                        .contains("\"outcome\":\"forwarded\"")
                        .contains("\"bytes_to_client\":" + reply.length);
                assertThat(started.stderr()).contains("SIGTERM: draining");
            }
        }
    }

    @Test
    void sigtermTheMomentReadyzAnswersStillDrainsAndExitsZero() throws Exception {
        // No pause between the first 200 and the signal: a supervisor may stop a process that has
        // only just become ready, and the JVM's default SIGTERM action would exit 143.
        try (ChildProxy started = startProxy(9, "5s")) {
            Process proxy = started.process();
            proxy.destroy(); // SIGTERM
            assertThat(proxy.waitFor(15, TimeUnit.SECONDS)).as("exited").isTrue();
            assertThat(proxy.exitValue()).isZero();
            assertThat(started.stderr()).contains("SIGTERM: draining");
        }
    }

    /**
     * Started with HUP and INT ignored (nohup ignores HUP, a script's background job INT), the
     * JVM keeps them ignored and installs no handler: said at start, with what still works.
     * (Failed before: nothing said, and a SIGHUP did nothing.) Started normally, nothing is said.
     */
    @Test
    void aStopOrReloadSignalIgnoredFromTheStartIsSaid() throws Exception {
        try (ChildProxy started = startProxy(9, "5s", List.of("sh", "-c", "trap '' HUP INT; exec \"$@\"", "sh"))) {
            // Standard error is written by a thread of its own: the lines may follow the readiness.
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(started.stderr())
                    .contains("SIGHUP was ignored when snigate started (nohup, or a background job of a script) and stays "
                            + "ignored: kill -HUP does not reload; saving the config file does, while its folder is watched")
                    .contains("SIGINT was ignored when snigate started (nohup, or a background job of a script) and stays "
                            + "ignored: SIGINT does not drain and stop it; SIGTERM does")
                    .doesNotContain("SIGTERM was ignored"));
        }
        try (ChildProxy started = startProxy(9, "5s")) {
            // The warnings would come before "ready with" through the same queue: wait for it first.
            await().atMost(Duration.ofSeconds(10)).until(() -> started.stderr().contains("ready with"));
            assertThat(started.stderr()).doesNotContain("was ignored");
        }
    }

    @Test
    void theJarWaitsForReadinessAsTheLauncherDoes() throws Exception {
        Path config = Files.writeString(dir.resolve("await.yaml"), """
                listen: ["127.0.0.1:19997"]
                admin: "127.0.0.1:19998"
                routes:
                  - match: "a.example"
                    upstream: "127.0.0.1:9"
                """);
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Checked exited = run("--await-ready", Long.toString(gone.pid()), "--config", config.toString(), "--timeout", "5");
        assertThat(exited.exitCode()).as(exited.output()).isEqualTo(1);
        assertThat(exited.output()).contains("snigate: process " + gone.pid() + " exited before it was ready");
        // A process that lives and never answers: the time runs out, and the address is said as written.
        long self = ProcessHandle.current().pid();
        Checked late = run("--await-ready", Long.toString(self), "--config", config.toString(), "--timeout", "1");
        assertThat(late.exitCode()).as(late.output()).isEqualTo(1);
        assertThat(late.output()).contains("snigate: process " + self + " was not ready on http://127.0.0.1:19998/readyz"
                + " within 1 s");
        Checked usage = run("--await-ready", "--config", config.toString());
        assertThat(usage.exitCode()).isEqualTo(2);
        assertThat(usage.output()).contains("usage: snigate --await-ready PID --config FILE");
    }

    private static boolean refuses(int port) {
        try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
            return false;
        } catch (ConnectException refused) {
            return true;
        } catch (IOException other) {
            return false;
        }
    }

    @Test
    void secondSigtermExitsAtOnce() throws Exception {
        try (HeldTunnelUpstream upstream = new HeldTunnelUpstream()) {
            try (ChildProxy started = startProxy(upstream.port(), "60s");
                    Socket client = new Socket(InetAddress.getLoopbackAddress(), started.listenPort())) {
                Process proxy = started.process();
                client.getOutputStream().write(HELLO);
                upstream.awaitTunnel();
                proxy.destroy();
                await().atMost(Duration.ofSeconds(10)).until(() -> started.status("/readyz") == 503);
                long signalled = System.nanoTime();
                proxy.destroy();
                assertThat(proxy.waitFor(10, TimeUnit.SECONDS)).isTrue();
                assertThat((System.nanoTime() - signalled) / 1_000_000).as("ms to exit").isLessThan(5_000);
                assertThat(proxy.exitValue()).isEqualTo(1);
            }
        }
    }

    /**
     * Standard error blocked (a stalled journal: its pipe full and no one reading it): a SIGTERM
     * still drains a held tunnel and exits 0 (its lines are queued, never waited for; the queue's
     * last lines get 5 s at the exit). Failed with standard error written directly: the drain's
     * own line held it for good.
     */
    @Test
    void aSigtermDrainsAndExitsEvenWithStandardErrorBlocked() throws Exception {
        withStandardErrorBlocked("1s", (started, java, status) -> {
            ProcessRunner.run(10, "kill", "-TERM", Long.toString(java.pid()));
            java.onExit().get(20, TimeUnit.SECONDS);
            assertThat(status.call()).isZero();
        });
    }

    /** The same with a drain that would last a minute: a second SIGTERM exits at once, with status 1. */
    @Test
    void aSecondSigtermExitsEvenWithStandardErrorBlocked() throws Exception {
        withStandardErrorBlocked("60s", (started, java, status) -> {
            ProcessRunner.run(10, "kill", "-TERM", Long.toString(java.pid()));
            await().atMost(Duration.ofSeconds(10)).until(() -> started.status("/readyz") == 503);
            long signalled = System.nanoTime();
            ProcessRunner.run(10, "kill", "-TERM", Long.toString(java.pid()));
            java.onExit().get(10, TimeUnit.SECONDS);
            assertThat((System.nanoTime() - signalled) / 1_000_000).as("ms to exit").isLessThan(5_000);
            assertThat(status.call()).isEqualTo(1);
        });
    }

    /**
     * A second SIGTERM while the drained proxy gives its queued lines their 5 s at the exit (the
     * admin port closed already): it exits at once, with status 1 (failed: standard error was
     * restored before that wait, and the second signal's line blocked on it).
     */
    @Test
    void aSecondSigtermDuringTheExitsWaitForStandardErrorExitsAtOnce() throws Exception {
        withStandardErrorBlocked("100ms", (started, java, status) -> {
            ProcessRunner.run(10, "kill", "-TERM", Long.toString(java.pid()));
            // The access log's writer ends just before standard error's queue gets its 5 s.
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
                    .until(() -> !threadNames(java).contains(ACCESS_LOG_THREAD));
            long signalled = System.nanoTime();
            ProcessRunner.run(10, "kill", "-TERM", Long.toString(java.pid()));
            java.onExit().get(10, TimeUnit.SECONDS);
            assertThat((System.nanoTime() - signalled) / 1_000_000).as("ms to exit").isLessThan(2_000);
            assertThat(status.call()).isEqualTo(1);
        });
    }

    /** The access log's writer thread, as /proc shows it: a name's first 15 bytes. */
    private static final String ACCESS_LOG_THREAD = "snigate-access-log".substring(0, 15);

    /** The names of {@code process}'s threads; none once it has exited. */
    private static Set<String> threadNames(ProcessHandle process) throws IOException {
        Set<String> names = new HashSet<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(process.pid()), "task"))) {
            for (Path task : tasks) {
                try {
                    names.add(Files.readString(task.resolve("comm")).strip());
                } catch (NoSuchFileException ended) {
                    // That thread ended while listed.
                }
            }
        } catch (NoSuchFileException exited) {
            return Set.of();
        }
        return names;
    }

    /** An upstream that accepts one tunnel and reads it until its end: the tunnel stays open. */
    private static final class HeldTunnelUpstream implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        private final CountDownLatch open = new CountDownLatch(1);

        HeldTunnelUpstream() throws IOException {
            CompletableFuture.runAsync(() -> {
                try (Socket socket = server.accept()) {
                    open.countDown();
                    socket.getInputStream().readAllBytes();
                } catch (IOException e) {
                    // The proxy went away.
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        void awaitTunnel() throws InterruptedException {
            assertThat(open.await(10, TimeUnit.SECONDS)).as("tunnel open").isTrue();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    private interface BlockedRun {
        /** {@code status}: the proxy's exit status, once it has exited. */
        void run(ChildProxy started, ProcessHandle java, Callable<Integer> status) throws Exception;
    }

    /**
     * Runs {@code test} on a proxy (drain timeout {@code drain}) holding one tunnel open, whose
     * standard error is a pipe that {@code sleep} holds and never reads, filled by {@code dd}
     * through {@code /proc/PID/fd/2} until the kernel refuses more.
     */
    private void withStandardErrorBlocked(String drain, BlockedRun test) throws Exception {
        Path status = dir.resolve("status");
        List<String> unreadStderr = List.of("sh", "-c",
                "exec 3>&1; { \"$0\" \"$@\" 2>&1 1>&3; echo $? > " + status + "; } | sleep 600");
        try (HeldTunnelUpstream upstream = new HeldTunnelUpstream()) {
            try (ChildProxy started = startProxy(upstream.port(), drain, unreadStderr);
                    Socket client = new Socket(InetAddress.getLoopbackAddress(), started.listenPort())) {
                ProcessHandle java = started.process().toHandle().descendants()
                        .filter(child -> child.info().command().orElse("").endsWith("/java")).findFirst()
                        .orElseThrow(() -> new AssertionError("no java process under the launcher"));
                try {
                    client.getOutputStream().write(HELLO);
                    upstream.awaitTunnel();
                    ProcessRunner.Result filled = ProcessRunner.run(10, "dd", "if=/dev/zero",
                            "of=/proc/" + java.pid() + "/fd/2", "bs=512", "count=1024", "oflag=nonblock");
                    assertThat(filled.stderr()).as("dd stopped at a full pipe").contains("Resource temporarily unavailable");
                    test.run(started, java, () -> {
                        await().atMost(Duration.ofSeconds(5)).until(() -> Files.exists(status) && Files.size(status) > 0);
                        return Integer.parseInt(Files.readString(status).trim());
                    });
                } finally {
                    started.process().toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
                }
            }
        }
    }

    /**
     * Out of inotify instances (128 a user on many distributions, shared by every container of a
     * node), the proxy keeps serving what /readyz promised and reloads on SIGHUP. The child runs
     * in a user namespace of its own whose inotify limit is 0, so the host's limit is untouched.
     */
    @Test
    void withoutAFileWatchTheProxyServesOnAndReloadsOnSighup() throws Exception {
        List<String> noInotify = List.of("unshare", "--user", "--map-root-user", "sh", "-c",
                "echo 0 > /proc/sys/user/max_inotify_instances && exec \"$0\" \"$@\"");
        // A container's default seccomp profile refuses user namespaces: skip there, except on CI.
        boolean possible = ProcessRunner.run(10, "unshare", "--user", "--map-root-user", "sh", "-c",
                "echo 0 > /proc/sys/user/max_inotify_instances").exitCode() == 0;
        Assumptions.assumeTrue(possible || "true".equals(System.getenv("CI")), "no user namespace of its own here");
        try (ChildProxy started = ChildProxy.start(dir, 1, (admin, listen) -> """
                listen: ["127.0.0.1:%d"]
                admin: "127.0.0.1:%d"
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:9"
                """.formatted(listen[0], admin), noInotify)) {
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> started.stderr().contains("edits are applied within 5 s, or at once on SIGHUP"));
            await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2))
                    .until(() -> started.process().isAlive() && started.status("/readyz") == 200);
            Path config = dir.resolve("routes.yaml");
            assertThat(ProcessRunner.run(5, "kill", "-HUP", Long.toString(started.process().pid())).exitCode()).isZero();
            await().atMost(Duration.ofSeconds(10)).until(() -> started.stderr().contains("reloaded " + config + " (SIGHUP)"));
            // And an edit, seen by the look every 5 s with no watch to tell of it.
            Files.writeString(config, Files.readString(config).replace("*.corpus.test", "*.other.test"));
            await().atMost(Duration.ofSeconds(15)).until(() -> started.stderr().contains("reloaded " + config + " (file changed)"));
        }
    }
}
