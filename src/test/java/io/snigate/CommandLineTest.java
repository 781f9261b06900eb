package io.snigate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line as an operator uses it: {@code --check} like {@code nginx -t}, and the real
 * process started as a child, drained with SIGTERM.
 */
class CommandLineTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");

    private static final HttpClient HTTP = HttpClient.newHttpClient();

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
    void helpPrintsTheUsageAndExitsZero() throws InterruptedException {
        Checked help = run("--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.output()).startsWith("Usage: snigate [--check] [-c FILE]").contains("--config FILE");
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

    @Test
    void checkRejectsAFixedUpstreamThatIsItsOwnListenAddress() throws IOException, InterruptedException {
        Checked checked = checkOneRoute("loop.yaml", "0.0.0.0:8443", "upstream: \"127.0.0.1:8443\"");
        assertThat(checked.exitCode()).isEqualTo(1);
        assertThat(checked.output()).contains("loop.yaml:4:").contains("loop");
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static int status(int adminPort, String path) {
        try {
            return HTTP.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
                            .timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }

    /** A child proxy that has answered {@code /readyz} with 200, and its ports. */
    private record ReadyProxy(Process process, int listenPort, int adminPort) {}

    /**
     * {@link #startProxy} on two ports found free, polling {@code /readyz} every 2 ms until it
     * answers 200 (a test may signal the moment it does). A port another process takes between the
     * look and the child's bind makes the child exit with "Address already in use": it starts again
     * on others, twice at most; any other early exit, or no answer in 30 s, fails with the child's
     * standard error.
     */
    private ReadyProxy startReadyProxy(int upstreamPort, String drain) throws IOException {
        for (int attempt = 1; ; attempt++) {
            int listenPort = freePort();
            int adminPort = freePort();
            if (listenPort == adminPort) {
                continue;
            }
            Process proxy = startProxy(listenPort, adminPort, upstreamPort, drain);
            try {
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(2))
                        .until(() -> !proxy.isAlive() || status(adminPort, "/readyz") == 200);
            } catch (ConditionTimeoutException e) {
                proxy.destroyForcibly();
                throw new AssertionError("no 200 from /readyz in 30 s; the proxy's standard error:\n" + stderr(), e);
            }
            if (proxy.isAlive()) {
                return new ReadyProxy(proxy, listenPort, adminPort);
            }
            String stderr = stderr();
            if (!stderr.contains("Address already in use") || attempt == 3) {
                throw new AssertionError("the proxy exited before it was ready (start " + attempt + "):\n" + stderr);
            }
        }
    }

    private String stderr() throws IOException {
        return Files.readString(dir.resolve("stderr.txt"));
    }

    /** The real main class in a child JVM with this test's class path, as {@code java -jar} runs it. */
    private Process startProxy(int listenPort, int adminPort, int upstreamPort, String drain) throws IOException {
        Path config = Files.writeString(dir.resolve("routes.yaml"), """
                listen: ["127.0.0.1:%d"]
                admin: "127.0.0.1:%d"
                timeouts: { drain: %s }
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:%d"
                """.formatted(listenPort, adminPort, drain, upstreamPort));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // The access log is written to standard output by the proxy itself, whatever SLF4J binding
        // the class path brings (the tests' Logback here, slf4j-simple in the jar).
        return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--config", config.toString())
                .redirectError(dir.resolve("stderr.txt").toFile())
                .redirectOutput(dir.resolve("stdout.txt").toFile())
                .start();
    }

    @Test
    void sigtermDrainsInFlightConnectionsRefusesNewOnesAndExitsZero() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch helloArrived = new CountDownLatch(1);
        byte[] reply = new byte[1 << 20];
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture.runAsync(() -> {
                try (Socket socket = upstream.accept()) {
                    socket.getInputStream().readNBytes(HELLO.length);
                    helloArrived.countDown();
                    release.await(30, TimeUnit.SECONDS);
                    socket.getOutputStream().write(reply);
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            ReadyProxy started = startReadyProxy(upstream.getLocalPort(), "10s");
            Process proxy = started.process();
            int listenPort = started.listenPort();
            int adminPort = started.adminPort();
            try {
                try (Socket client = new Socket(InetAddress.getLoopbackAddress(), listenPort)) {
                    client.setSoTimeout(20_000);
                    client.getOutputStream().write(HELLO);
                    assertThat(helloArrived.await(10, TimeUnit.SECONDS)).as("tunnel open").isTrue();

                    proxy.destroy(); // SIGTERM
                    await().atMost(Duration.ofSeconds(10)).until(() -> status(adminPort, "/readyz") == 503);
                    await().atMost(Duration.ofSeconds(10)).until(() -> refuses(listenPort));

                    release.countDown();
                    InputStream in = client.getInputStream();
                    assertThat(in.readAllBytes()).hasSize(reply.length);
                }
                assertThat(proxy.waitFor(15, TimeUnit.SECONDS)).as("exited within the drain timeout").isTrue();
                assertThat(proxy.exitValue()).isZero();
                assertThat(Files.readString(dir.resolve("stdout.txt")))
                        .contains("\"outcome\":\"forwarded\"")
                        .contains("\"bytes_to_client\":" + reply.length);
                assertThat(stderr()).contains("SIGTERM: draining");
            } finally {
                proxy.destroyForcibly();
            }
        }
    }

    @Test
    void sigtermTheMomentReadyzAnswersStillDrainsAndExitsZero() throws Exception {
        // No pause between the first 200 and the signal: a supervisor may stop a process that has
        // only just become ready, and the JVM's default SIGTERM action would exit 143.
        Process proxy = startReadyProxy(9, "5s").process();
        try {
            proxy.destroy(); // SIGTERM
            assertThat(proxy.waitFor(15, TimeUnit.SECONDS)).as("exited").isTrue();
            assertThat(proxy.exitValue()).isZero();
            assertThat(stderr()).contains("SIGTERM: draining");
        } finally {
            proxy.destroyForcibly();
        }
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
        CountDownLatch tunnelOpen = new CountDownLatch(1);
        try (ServerSocket upstream = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture.runAsync(() -> {
                try (Socket socket = upstream.accept()) {
                    tunnelOpen.countDown();
                    socket.getInputStream().readAllBytes(); // holds the tunnel open
                } catch (IOException e) {
                    // The proxy went away.
                }
            });
            ReadyProxy started = startReadyProxy(upstream.getLocalPort(), "60s");
            Process proxy = started.process();
            int adminPort = started.adminPort();
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), started.listenPort())) {
                client.getOutputStream().write(HELLO);
                assertThat(tunnelOpen.await(10, TimeUnit.SECONDS)).as("tunnel open").isTrue();
                proxy.destroy();
                await().atMost(Duration.ofSeconds(10)).until(() -> status(adminPort, "/readyz") == 503);
                long signalled = System.nanoTime();
                proxy.destroy();
                assertThat(proxy.waitFor(10, TimeUnit.SECONDS)).isTrue();
                assertThat((System.nanoTime() - signalled) / 1_000_000).as("ms to exit").isLessThan(5_000);
                assertThat(proxy.exitValue()).isEqualTo(1);
            } finally {
                proxy.destroyForcibly();
            }
        }
    }
}
