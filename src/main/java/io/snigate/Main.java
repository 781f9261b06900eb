package io.snigate;

import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.listen.ProxyServer;
import io.snigate.log.AccessLog;
import io.snigate.log.BatchingLineWriter;
import io.snigate.metrics.ProxyMetrics;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import sun.misc.Signal;
import sun.misc.SignalHandler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The command line: run the proxy, or check a config file the way {@code nginx -t} does. */
@Command(
        name = "snigate",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Layer-4 TLS passthrough proxy that routes by SNI.")
public final class Main implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "routes.yaml",
            description = "The routes file (default: ${DEFAULT-VALUE}).")
    Path config;

    @Option(names = "--check", description = "Validate the config file, print the result, and exit 0 or 1.")
    boolean check;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public Integer call() throws InterruptedException {
        ProxyConfig loaded;
        try {
            loaded = ConfigLoader.load(config);
        } catch (ConfigException e) {
            System.err.println("snigate: " + e.getMessage());
            return 1;
        }
        if (check) {
            System.err.println("snigate: " + config + " is valid: " + loaded.routes().size() + " routes");
            return 0;
        }
        ProxyMetrics metrics = new ProxyMetrics();
        BatchingLineWriter accessLog = new BatchingLineWriter(
                new FileOutputStream(FileDescriptor.out), 65_536, Duration.ofMillis(50));
        metrics.registerAccessLogDrops(accessLog::dropped);
        ProxyServer server = new ProxyServer(loaded, metrics, new AccessLog(accessLog));
        try {
            server.start();
        } catch (Exception e) {
            LOG.error("could not start: {}", e.toString());
            server.close();
            return 1;
        }
        Reloader reloader;
        try {
            reloader = new Reloader(config, server, metrics);
            reloader.watch();
        } catch (IOException e) {
            LOG.error("cannot watch {} for changes: {}", config, e.toString());
            server.close();
            return 1;
        }
        Signal.handle(new Signal("HUP"), signal -> reloader.reload("SIGHUP"));
        CountDownLatch stop = new CountDownLatch(1);
        AtomicBoolean stopping = new AtomicBoolean();
        SignalHandler onStop = signal -> {
            if (!stopping.compareAndSet(false, true)) {
                LOG.warn("second SIG{}: exiting now", signal.getName());
                Runtime.getRuntime().halt(1);
            }
            LOG.info("SIG{}: draining", signal.getName());
            stop.countDown();
        };
        Signal.handle(new Signal("TERM"), onStop);
        Signal.handle(new Signal("INT"), onStop);
        LOG.info("snigate {} ready with {} from {}", Version.current(), describe(loaded), config);
        metrics.bindJvmAndProcessMetrics();
        stop.await();
        server.drain(server.currentConfig().timeouts().drain());
        server.close();
        accessLog.close();
        LOG.info("stopped");
        return 0;
    }

    private static String describe(ProxyConfig config) {
        return config.routes().size() + " routes, default " + (config.defaultUpstream() == null ? "reject" : config.defaultUpstream().label());
    }

    /** The version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        static String current() {
            String version = Main.class.getPackage().getImplementationVersion();
            return version == null ? "dev" : version;
        }

        @Override
        public String[] getVersion() {
            return new String[] {"snigate " + current()};
        }
    }
}
