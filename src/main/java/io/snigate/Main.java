package io.snigate;

import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.core.Version;
import io.snigate.explain.Explain;
import io.snigate.handover.AwaitReady;
import io.snigate.handover.RequestMigration;
import io.snigate.listen.ProxyServer;
import io.snigate.log.BatchingLineWriter;
import io.snigate.log.QueuedStandardError;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.reload.Reloader;
import io.snigate.transport.Transport;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The command line: run the proxy, or check a config file the way {@code nginx -t} does. */
public final class Main {
    private static final Logger LOG = LoggerFactory.getLogger(Main.class);
    static final String USAGE = """
            Usage: snigate [--check] [-c FILE]
                   snigate explain [-c FILE] --sni NAME [...]   (snigate explain --help)
                   snigate --await-ready PID --config FILE [--timeout SECONDS]
            Layer-4 TLS passthrough proxy that routes by SNI.
              -c, --config FILE   The routes file (default: routes.yaml); also --config=FILE.
                  --check         Validate the config file, and that this process could run it
                                  (capabilities, transport, the addresses it binds); print the
                                  result, exit 0 or 1.
              -h, --help          Show this help and exit.
              -V, --version       Print the version and exit.
            """;

    static final String LEAK_SAMPLING_INTERVAL = "io.netty.leakDetection.samplingInterval";

    private final Path config;
    private final boolean check;

    private Main(Path config, boolean check) {
        this.config = config;
        this.check = check;
    }

    public static void main(String[] args) throws InterruptedException {
        setNettyDefaults();
        int status;
        try {
            status = run(args);
        } catch (RuntimeException | Error unexpected) {
            // The process ends whatever failed: the admin endpoint's thread would otherwise keep
            // alive a JVM that serves nothing, its ports still bound.
            LOG.error("stopping after an unexpected error", unexpected);
            status = 1;
        }
        System.exit(status);
    }

    /** Netty's settings that snigate chooses otherwise, unless given with -D; before Netty reads them. */
    static void setNettyDefaults() {
        // Netty registers JFR event types on its first buffer allocation, about 0.1 s of every
        // start; -Dio.netty.jfr.enabled=true turns them back on for a recording.
        System.getProperties().putIfAbsent("io.netty.jfr.enabled", "false");
        // Netty's leak detector records where one buffer in 128 was made, a stack walk that took
        // about 4 % of the event loops' user time; at one in 4,096 a buffer lost on every
        // connection is still reported within seconds under load.
        System.getProperties().putIfAbsent(LEAK_SAMPLING_INTERVAL, "4096");
        // With java.nio opened to it (the jar's manifest says Add-Opens), Netty allocates direct
        // memory itself and counts it against the JVM's limit: at the limit it fails at once. The
        // JDK's own allocation, its fallback, runs a GC and sleeps up to 0.5 s on the event loop
        // before it fails, stalling every connection there.
        System.getProperties().putIfAbsent("io.netty.tryReflectionSetAccessible", "true");
    }

    /**
     * Parses the arguments and runs: 0 for a clean stop or a valid config, 1 for a config or
     * start-up error, 2 for a usage error (as picocli and most Unix tools do). The command line is
     * parsed by hand: two options did not justify picocli's 0.25 s of class loading at every start.
     */
    static int run(String... args) throws InterruptedException {
        if (args.length > 0 && args[0].equals("explain")) {
            return Explain.run(List.of(args).subList(1, args.length), System.out, System.err);
        }
        if (args.length > 0 && args[0].equals("--await-ready")) {
            return AwaitReady.run(Arrays.copyOfRange(args, 1, args.length));
        }
        Path config = Path.of("routes.yaml");
        boolean check = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "-h", "--help" -> {
                    System.out.print(USAGE);
                    return 0;
                }
                case "-V", "--version" -> {
                    System.out.println("snigate " + Version.current());
                    return 0;
                }
                case "--check" -> check = true;
                case "-c", "--config" -> {
                    if (i + 1 == args.length) {
                        return usageError("option '" + arg + "' needs a FILE");
                    }
                    config = Path.of(args[++i]);
                }
                default -> {
                    if (arg.startsWith("--config=")) {
                        config = Path.of(arg.substring("--config=".length()));
                    } else {
                        return usageError("unknown argument '" + arg + "'");
                    }
                }
            }
        }
        return new Main(config, check).call();
    }

    private static int usageError(String message) {
        System.err.print("snigate: " + message + "\n" + USAGE);
        return 2;
    }

    private int call() throws InterruptedException {
        if (!check) {
            // The transport does not depend on the config: find it on a second core meanwhile.
            Transport.prepareInBackground();
        }
        ProxyConfig loaded;
        String text;
        try {
            text = ConfigLoader.readText(config);
            loaded = ConfigLoader.parse(text, config.toString());
            if (check) {
                // What this process could not run, the proxy under the same user and capabilities
                // could not either: ExecReload's check runs with the unit's capabilities.
                ProxyServer.checkRunnable(loaded, Transport.select());
            }
        } catch (ConfigException e) {
            System.err.println("snigate: " + e.getMessage());
            return 1;
        }
        if (check) {
            loaded.nameLists().forEach(names -> System.err.println("snigate: " + names.summary()));
            System.err.println("snigate: " + config + " is valid: " + loaded.routes().size() + " routes");
            return 0;
        }
        try (QueuedStandardError errors = QueuedStandardError.install()) {
            return serve(loaded, text, errors);
        }
    }

    /** Runs the proxy on {@code loaded} (read from {@code text}) until a stop signal has drained it. */
    private int serve(ProxyConfig loaded, String text, QueuedStandardError errors) throws InterruptedException {
        RequestMigration.warnIfOff();
        ProxyMetrics metrics = new ProxyMetrics();
        metrics.registerErrorLogDrops(errors::dropped);
        BatchingLineWriter accessLog = new BatchingLineWriter(
                new FileOutputStream(FileDescriptor.out), 65_536, Duration.ofMillis(50));
        metrics.registerAccessLogDrops(accessLog::dropped);
        // The signal handlers come before the listeners: /readyz answers 200 as soon as they are
        // bound, and a SIGTERM from then on must drain, not kill the JVM with its default action.
        Signals signals = Signals.install();
        ProxyServer server = new ProxyServer(loaded, metrics, accessLog, Transport.select());
        try {
            server.start();
        } catch (ConfigException e) {
            System.err.println("snigate: cannot start: " + e.getMessage());
            server.close();
            return 1;
        } catch (Exception e) {
            LOG.error("could not start: {}", e.toString());
            server.close();
            return 1;
        }
        Reloader reloader = new Reloader(config, server, metrics, text);
        reloader.watch();
        signals.started(reloader);
        LOG.info("snigate {} ready with {} from {}", Version.current(), describe(loaded), config);
        keepClassDataArchive();
        metrics.bindJvmAndProcessMetrics();
        signals.awaitStop();
        reloader.close();
        try {
            server.drain(server.currentConfig().timeouts().drain());
        } finally {
            // Whatever the drain met, the lines written so far reach the log.
            server.close();
            accessLog.close();
        }
        LOG.info("stopped");
        return 0;
    }

    /**
     * The launcher (deploy/bin/snigate) names a marker beside a class-data archive this run is to
     * write at exit; a run that got ready has loaded the classes worth archiving, so the marker
     * goes and the launcher uses the archive from then on. One that failed to start leaves it,
     * and the launcher makes the archive again rather than use a partial one.
     */
    private static void keepClassDataArchive() {
        String pending = System.getProperty("snigate.cds.pending");
        if (pending == null) {
            return;
        }
        try {
            Files.deleteIfExists(Path.of(pending));
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not remove {} ({}): the next start makes the class-data archive again", pending, e.toString());
        }
    }

    private static String describe(ProxyConfig config) {
        return config.routes().size() + " routes, default " + (config.defaultUpstream() == null ? "reject" : config.defaultUpstream().label());
    }
}
