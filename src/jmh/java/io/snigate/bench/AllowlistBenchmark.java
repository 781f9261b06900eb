package io.snigate.bench;

import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.core.TlsVersions;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Allowlists from {@code match_file}: how long a list of N names takes to load ({@code load}, the
 * whole config as a reload reads it, one shot per op), and what deciding a connection costs
 * against it ({@code decideListed}, a name that a {@code .suffix} line matches below its apex;
 * {@code decideUnlisted}, a name no line matches), which must not grow with N.
 *
 * <pre>java -jar target/benchmarks.jar AllowlistBenchmark -f 1 -prof gc</pre>
 */
@State(Scope.Benchmark)
public class AllowlistBenchmark {
    @Param({"1000", "100000", "1000000"})
    int names;

    private Path dir;
    private Path config;
    private RouteTable table;
    private InetAddress client;
    private final List<String> alpn = List.of("h2");
    private String listed;
    private String unlisted;

    @Setup(Level.Trial)
    public void writeTheList() throws Exception {
        dir = Files.createTempDirectory("allowlist-bench");
        config = Allowlists.config(dir, names);
        table = RouteTable.from(ConfigLoader.load(config));
        client = InetAddress.getByName("10.1.2.3");
        listed = "www.api." + Allowlists.name(names - 10); // a ".suffix" line, three labels deeper
        unlisted = "www.api.h1.nowhere.example.com";
    }

    @TearDown(Level.Trial)
    public void removeTheList() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(file);
            }
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public ProxyConfig load() throws Exception {
        return ConfigLoader.load(config);
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public RouteDecision decideListed() {
        return table.decide(listed, alpn, 443, client, TlsVersions.TLS_1_3, false, false);
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public RouteDecision decideUnlisted() {
        return table.decide(unlisted, alpn, 443, client, TlsVersions.TLS_1_3, false, false);
    }
}
