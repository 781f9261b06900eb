package io.snigate;

import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.listen.ProxyServer;
import io.snigate.log.AccessLog;
import io.snigate.metrics.ProxyMetrics;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
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
        ProxyServer server = new ProxyServer(loaded, new ProxyMetrics(), AccessLog.toLogger());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("stopping");
            server.close();
            stopped.countDown();
        }, "snigate-shutdown"));
        try {
            server.start();
        } catch (Exception e) {
            LOG.error("could not start: {}", e.toString());
            return 1;
        }
        LOG.info("snigate {} ready with {} from {}", Version.current(), describe(loaded), config);
        stopped.await();
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
