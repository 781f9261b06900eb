package io.snigate.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.Main;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.awaitility.core.ConditionTimeoutException;

/**
 * The real main class in a child JVM with the test's class path, as {@code java -jar} runs it, on
 * loopback ports found free, returned once its {@code /readyz} has answered 200. Its standard output
 * (the access log) and standard error go to files in the test's folder.
 */
public final class ChildProxy implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final int STARTS = 3;

    private final Process process;
    private final int adminPort;
    private final int[] listenPorts;
    private final Path dir;
    /** What the last poll of the admin port got, for a failure's message. */
    private volatile String lastAnswer = "none yet";

    private ChildProxy(Process process, int adminPort, int[] listenPorts, Path dir) {
        this.process = process;
        this.adminPort = adminPort;
        this.listenPorts = listenPorts;
        this.dir = dir;
    }

    /**
     * Writes {@code dir/routes.yaml} as {@code config} makes it of an admin port and
     * {@code listenPorts} listen ports, all found free, starts the proxy on it and polls
     * {@code /readyz} every 2 ms until it answers 200 (a test may signal the moment it does). A
     * port another process takes between the look and the child's bind makes the child exit with
     * "Address already in use": it starts again on other ports, {@value #STARTS} starts at most; so
     * does a child that has written nothing at all in 30 s (twice in fresh-clone CI runs a child
     * stayed silent and unready; its threads are printed to the test's output). Any other early
     * exit, or no 200 in 30 s after it logged, fails with the child's state and standard error.
     */
    public static ChildProxy start(Path dir, int listenPorts, BiFunction<Integer, int[], String> config)
            throws IOException {
        return start(dir, listenPorts, config, List.of());
    }

    /** {@link #start(Path, int, BiFunction)} with {@code launcher} before the java command (e.g. prlimit). */
    public static ChildProxy start(Path dir, int listenPorts, BiFunction<Integer, int[], String> config,
            List<String> launcher) throws IOException {
        for (int start = 1; ; start++) {
            int adminPort = LoopbackPorts.free();
            int[] listen = new int[listenPorts];
            for (int i = 0; i < listenPorts; i++) {
                listen[i] = LoopbackPorts.free();
            }
            if (!distinct(adminPort, listen)) {
                continue;
            }
            Path file = Files.writeString(dir.resolve("routes.yaml"), config.apply(adminPort, listen));
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> command = new ArrayList<>(launcher);
            command.add(java);
            command.addAll(jvmOptions());
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(),
                    "--config", file.toString()));
            Process process = new ProcessBuilder(command)
                    .redirectError(dir.resolve("stderr.txt").toFile())
                    .redirectOutput(dir.resolve("stdout.txt").toFile())
                    .start();
            ChildProxy proxy = new ChildProxy(process, adminPort, listen, dir);
            try {
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(2))
                        .until(() -> !process.isAlive() || proxy.status("/readyz") == 200);
            } catch (ConditionTimeoutException e) {
                boolean silent = proxy.stderr().isEmpty();
                String state = proxy.stateForFailure();
                process.destroyForcibly();
                if (!silent || start == STARTS) {
                    throw new AssertionError("no 200 from /readyz in 30 s (start " + start + "); " + state, e);
                }
                // Not one line in 30 s: the child never reached snigate's first log line. Told in
                // the test's output, with its threads, and started once more.
                System.err.println("ChildProxy: start " + start + " wrote nothing in 30 s; starting again. " + state);
                continue;
            }
            if (process.isAlive()) {
                return proxy;
            }
            String stderr = proxy.stderr();
            if (!stderr.contains("Address already in use") || start == STARTS) {
                throw new AssertionError("the proxy exited before it was ready (start " + start + "):\n" + stderr);
            }
        }
    }

    private static boolean distinct(int adminPort, int[] listen) {
        for (int i = 0; i < listen.length; i++) {
            if (listen[i] == adminPort) {
                return false;
            }
            for (int j = 0; j < i; j++) {
                if (listen[j] == listen[i]) {
                    return false;
                }
            }
        }
        return true;
    }

    public Process process() {
        return process;
    }

    public int adminPort() {
        return adminPort;
    }

    /** The first listen port. */
    public int listenPort() {
        return listenPorts[0];
    }

    /** A GET on the admin endpoint. */
    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The status a GET on the admin endpoint answers, or -1 when none answers. */
    public int status(String path) {
        try {
            int status = get(path).statusCode();
            lastAnswer = path + ": " + status;
            return status;
        } catch (IOException e) {
            lastAnswer = path + ": " + e;
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /**
     * What a child that never became ready was doing: the last answer on the admin port, whether
     * its ports take connections, its threads (jcmd), the end of its standard output and its
     * standard error.
     */
    private String stateForFailure() throws IOException {
        StringBuilder state = new StringBuilder("the last answer ").append(lastAnswer)
                .append("; the admin port ").append(adminPort)
                .append(LoopbackPorts.accepts(adminPort) ? " accepts" : " refuses");
        for (int port : listenPorts) {
            state.append(", listen port ").append(port).append(LoopbackPorts.accepts(port) ? " accepts" : " refuses");
        }
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        try {
            Process dump = new ProcessBuilder(jcmd, Long.toString(process.pid()), "Thread.print")
                    .redirectErrorStream(true).start();
            String threads = new String(dump.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            dump.waitFor(10, TimeUnit.SECONDS);
            state.append("\nthe child's threads:\n").append(threads);
        } catch (IOException | InterruptedException e) {
            state.append("\nno thread dump: ").append(e);
        }
        String stdout = stdout();
        return state.append("\nthe end of the proxy's standard output:\n")
                .append(stdout, Math.max(0, stdout.length() - 2_000), stdout.length())
                .append("\nthe proxy's standard error:\n").append(stderr()).toString();
    }

    public String stdout() throws IOException {
        return Files.readString(dir.resolve("stdout.txt"));
    }

    public String stderr() throws IOException {
        return Files.readString(dir.resolve("stderr.txt"));
    }

    /**
     * Options for every snigate a test starts in a JVM of its own: the transport of this pass of
     * the suite (the epoll pass must reach children too), and the leak detector at its strictest.
     */
    public static List<String> jvmOptions() {
        List<String> options = new ArrayList<>(transportOption());
        options.add("-Dio.netty.leakDetection.level=paranoid");
        // What the jar's manifest gives java -jar (Add-Opens): started from classes, the child needs it said.
        options.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
        return options;
    }

    /** The transport of this pass of the suite, for a child under load, where the leak detector would weigh. */
    public static List<String> transportOption() {
        String transport = System.getProperty("snigate.transport");
        return transport == null ? List.of() : List.of("-Dsnigate.transport=" + transport);
    }

    /** Fails if a child's operational log reports a leaked buffer, or an exception no stage handled. */
    public static void assertNoLeakOrUnhandledException(String stderr) {
        assertThat(stderr).as("the child proxy's standard error").doesNotContain("LEAK:");
        for (String sign : PipelineTails.SIGNS) {
            assertThat(stderr).as("the child proxy's standard error").doesNotContain(sign);
        }
    }

    /**
     * Kills the child if it still runs (a test that stops it checks how it stopped itself), then
     * fails if its log reports a leak or an unhandled exception.
     */
    @Override
    public void close() {
        if (process.isAlive()) {
            // A leak is reported once its buffer is collected and a later one is made: collect,
            // then have the child make some (a scrape).
            try {
                ProcessRunner.run(30, Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                        Long.toString(process.pid()), "GC.run");
            } catch (IOException e) {
                // No jcmd, or the child's namespace refuses the attach: the check sees less.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            status("/metrics");
        }
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
            assertNoLeakOrUnhandledException(stderr());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
