package io.snigate.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.testing.ChildProxy;
import io.snigate.testing.ProcessRunner;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restart that refuses nothing, done as deploy/README.md tells an operator to: under a steady
 * stream of real TLS handshakes, a second snigate is started through the launcher on the same
 * addresses ({@code SO_REUSEPORT}), and once it is ready the first one gets SIGTERM and drains.
 * Every connection must succeed, and each must appear as {@code forwarded} in exactly one of the
 * two access logs.
 *
 * <p>Everything runs in a network namespace the test makes, where it can set
 * {@code net.ipv4.tcp_migrate_req=1} without touching the machine's own setting: the proxies and
 * the client process (a JDK TLS server and clients, {@link HandshakeLoad}) talk over that
 * namespace's loopback only. Needs root and {@code ip} (iproute2), as CI has.
 */
class HandoverIT {
    private static final Path JAR = Path.of(System.getProperty("snigate.jar", "target/snigate.jar")).toAbsolutePath();
    private static final Path LAUNCHER = Path.of("deploy/bin/snigate").toAbsolutePath();
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private static final Duration START = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void aSecondSnigateTakesOverUnderLoadAndNoConnectionFails() throws Exception {
        try (NetNamespace ns = NetNamespace.create("snigate-handover-" + ProcessHandle.current().pid())) {
            ns.run("sysctl", "-qw", "net.ipv4.tcp_migrate_req=1");
            List<Process> started = new CopyOnWriteArrayList<>();
            LoadProcess load = new LoadProcess(ns.command(
                    JAVA, "-cp", System.getProperty("java.class.path"), HandshakeLoad.class.getName(), "4", "90"));
            try {
                int upstream = Integer.parseInt(load.awaitLine("upstream (\\d+)").group(1));

                Proxy first = Proxy.start(ns, dir, "first", config(0, 0, upstream));
                started.add(first.process);
                int listen = Integer.parseInt(first.awaitLog("listening on 127\\.0\\.0\\.1:(\\d+)").group(1));
                int admin = Integer.parseInt(first.awaitLog("admin endpoint on http://127\\.0\\.0\\.1:(\\d+)/").group(1));
                first.awaitLog("ready with");
                load.send("start " + listen);
                load.awaitOk(50);

                // The same addresses, as the same config file would give them.
                Proxy second = Proxy.start(ns, dir, "second", config(listen, admin, upstream));
                started.add(second.process);
                // As an operator does it: the launcher's --await-ready on the new process's pid.
                ProcessRunner.Result ready = ProcessRunner.run(90, launcher(ns,
                        "--await-ready", Long.toString(second.process.pid()), "--config", dir.resolve("second.yaml").toString())
                        .toArray(String[]::new));
                if (ready.exitCode() != 0) {
                    throw new AssertionError("--await-ready exited " + ready.exitCode() + ": " + ready.stderr()
                            + "\nsecond's log:\n" + second.log() + "\nsecond's threads:\n" + second.threads());
                }
                assertThat(second.log()).contains("ready with");
                await().atMost(START).until(() -> second.forwarded() > 0 && first.forwarded() > 0);

                first.process.destroy(); // SIGTERM: stop accepting, drain, exit 0
                assertThat(first.process.waitFor(40, TimeUnit.SECONDS)).as("first exited after draining").isTrue();
                assertThat(first.process.exitValue()).as("first's exit status").isZero();
                long afterHandover = load.okSoFar() + 50;
                load.awaitOk(afterHandover);

                load.send("stop");
                Matcher result = load.awaitLine("result ok=(\\d+) failed=(\\d+) unfinished=(\\d+)");
                long ok = Long.parseLong(result.group(1));
                assertThat(Long.parseLong(result.group(2)) + Long.parseLong(result.group(3)))
                        .as("failed and unfinished connections; the client's report:\n%s\nwhat the proxies logged otherwise:\n%s",
                                String.join("\n", load.lines), unusual(first, second))
                        .isZero();
                second.process.destroy();
                assertThat(second.process.waitFor(40, TimeUnit.SECONDS)).as("second exited").isTrue();
                assertThat(second.process.exitValue()).as("second's exit status").isZero();

                for (Proxy proxy : List.of(first, second)) {
                    assertThat(proxy.accessLog()).as(proxy.name + "'s access log").allMatch(
                            line -> line.contains("\"outcome\":\"forwarded\",\"reason\":null"));
                    assertThat(proxy.log()).as(proxy.name + "'s log")
                            .doesNotContain("tcp_migrate_req")
                            .contains("SIGTERM: draining", "stopped");
                }
                assertThat(first.forwarded() + second.forwarded())
                        .as("forwarded lines of both access logs: one per client connection").isEqualTo(ok);
                assertThat(ok).as("connections made").isGreaterThanOrEqualTo(afterHandover);
                System.out.printf("handover: %d connections, %d through the first process, %d through the second, none failed%n",
                        ok, first.forwarded(), second.forwarded());
            } finally {
                load.process.destroyForcibly();
                started.forEach(Process::destroyForcibly);
            }
        }
    }

    /** Each proxy's access-log lines other than a plain forward, and its operational log, for a failure's message. */
    private static String unusual(Proxy... proxies) throws IOException {
        StringBuilder said = new StringBuilder();
        for (Proxy proxy : proxies) {
            said.append(proxy.name).append("'s access log:\n");
            proxy.accessLog().stream().filter(line -> !line.contains("\"outcome\":\"forwarded\",\"reason\":null"))
                    .forEach(line -> said.append(line).append('\n'));
            said.append(proxy.name).append("'s log:\n").append(proxy.log());
        }
        return said.toString();
    }

    private Path config(int listen, int admin, int upstream) throws IOException {
        String name = listen == 0 ? "first.yaml" : "second.yaml";
        return Files.writeString(dir.resolve(name), """
                listen: ["127.0.0.1:%d"]
                admin: "127.0.0.1:%d"
                timeouts: { drain: 20s }
                routes:
                  - match: "%s"
                    upstream: "127.0.0.1:%d"
                """.formatted(listen, admin, HandshakeLoad.SNI, upstream));
    }

    /**
     * The launcher with {@code args}, inside {@code ns}, with the jar under test and the java of
     * this test (the environment variables go through {@code env}: {@code ip netns exec} keeps them).
     */
    private static List<String> launcher(NetNamespace ns, String... args) {
        List<String> command = new ArrayList<>(List.of("env", "SNIGATE_JAR=" + JAR, "SNIGATE_CDS_ARCHIVE=", "JAVA=" + JAVA,
                "SNIGATE_JAVA_OPTS=" + String.join(" ", ChildProxy.transportOption()),
                "sh", LAUNCHER.toString()));
        command.addAll(List.of(args));
        return ns.command(command.toArray(String[]::new));
    }

    /** A snigate started through the launcher, its access log and its operational log in files. */
    private record Proxy(String name, Process process, Path stdout, Path stderr) {
        static Proxy start(NetNamespace ns, Path dir, String name, Path config) throws IOException {
            Path out = dir.resolve(name + ".out");
            Path err = dir.resolve(name + ".err");
            ProcessBuilder builder = new ProcessBuilder(launcher(ns, "--config", config.toString()))
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            return new Proxy(name, builder.start(), out, err);
        }

        Matcher awaitLog(String regex) throws IOException, InterruptedException {
            Pattern pattern = Pattern.compile(regex);
            try {
                await().atMost(START).until(() -> pattern.matcher(log()).find() || !process.isAlive());
            } catch (ConditionTimeoutException e) {
                throw new AssertionError(name + " logged no match for " + regex + " within " + START + "; its log:\n" + log()
                        + "\nits threads:\n" + threads(), e);
            }
            Matcher matcher = pattern.matcher(log());
            assertThat(matcher.find()).as("%s's log (the process %s):%n%s", name,
                    process.isAlive() ? "runs" : "exited " + process.exitValue(), log()).isTrue();
            return matcher;
        }

        /**
         * What the process is and its threads are doing: why a process says nothing for so long.
         * The command line shows whether the launcher has reached the JVM, each thread's kernel
         * stack where a system call waits (as root), jcmd where the Java code is.
         */
        String threads() throws IOException, InterruptedException {
            Path proc = Path.of("/proc", Long.toString(process.pid()));
            StringBuilder report = new StringBuilder();
            // The report goes into a failure's message: a process that exits meanwhile must not
            // turn it into an exception of its own.
            try (Stream<Path> tasks = Files.list(proc.resolve("task"))) {
                report.append(Files.readString(proc.resolve("cmdline")).replace('\0', ' ')).append('\n');
                for (Path task : tasks.sorted().toList()) {
                    try {
                        report.append(Files.readString(task.resolve("comm")).strip()).append(":\n")
                                .append(Files.readString(task.resolve("stack")));
                    } catch (IOException gone) {
                        report.append(task.getFileName()).append(": ").append(gone).append('\n');
                    }
                }
            } catch (IOException exited) {
                report.append("(the process is gone: ").append(exited).append(")\n");
            }
            ProcessRunner.Result threads = ProcessRunner.run(30,
                    Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(process.pid()), "Thread.print");
            return report + threads.stdout() + threads.stderr();
        }

        String log() throws IOException {
            return Files.readString(stderr);
        }

        List<String> accessLog() throws IOException {
            return Files.readAllLines(stdout).stream().filter(line -> !line.isBlank()).toList();
        }

        long forwarded() throws IOException {
            return accessLog().stream().filter(line -> line.contains("\"outcome\":\"forwarded\"")).count();
        }
    }

    /** {@link HandshakeLoad} in a child process, its output lines collected as they come. */
    private static final class LoadProcess {
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();
        private final Writer stdin;

        LoadProcess(List<String> command) throws IOException {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
            stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.US_ASCII);
            Thread reader = new Thread(() -> {
                try (BufferedReader out = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = out.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    lines.add("(reading the client's output failed: " + e + ")");
                }
            }, "load-output");
            reader.setDaemon(true);
            reader.start();
        }

        void send(String command) throws IOException {
            stdin.write(command + "\n");
            stdin.flush();
        }

        Matcher awaitLine(String regex) {
            Pattern pattern = Pattern.compile(regex);
            List<Matcher> found = new ArrayList<>();
            await().atMost(START).until(() -> {
                for (String line : lines) {
                    Matcher matcher = pattern.matcher(line);
                    if (matcher.matches()) {
                        found.add(matcher);
                        return true;
                    }
                }
                assertThat(process.isAlive()).as("the client process runs; its output:%n%s", String.join("\n", lines))
                        .isTrue();
                return false;
            });
            return found.get(0);
        }

        long okSoFar() {
            long ok = 0;
            for (String line : lines) {
                if (line.startsWith("ok ")) {
                    ok = Math.max(ok, Long.parseLong(line.substring(3)));
                }
            }
            return ok;
        }

        void awaitOk(long count) {
            await().atMost(START).until(() -> {
                assertThat(process.isAlive()).as("the client process runs; its output:%n%s", String.join("\n", lines))
                        .isTrue();
                return okSoFar() >= count;
            });
        }
    }
}
