package io.snigate.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Outcome;
import io.snigate.core.Reason;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The proxy's Prometheus metrics. Every label value comes from a bounded set: listener names
 * from the config, route patterns from the config, and the {@link Reason} vocabulary. Never the
 * raw SNI, the client address or the upstream address, whose number has no bound.
 *
 * <p>Meters are looked up once and cached in arrays indexed by reason, so counting a connection
 * costs no map lookups in Micrometer's registry.
 */
public final class ProxyMetrics implements ConnectionObserver {
    /** The label value for "no reason": a forwarded connection that ended normally. */
    public static final String NO_REASON = "none";
    /** The label value for "no route": rejected before or at routing. */
    public static final String NO_ROUTE = "none";

    /** Histogram buckets in seconds, from 100 µs to 30 s, for latencies on loopback to WAN. */
    private static final Duration[] LATENCY_BUCKETS = {
        Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000),
        Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
        Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
        Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
        Duration.ofSeconds(10), Duration.ofSeconds(30)
    };

    private static final Reason[] REASONS = Reason.values();

    private final PrometheusMeterRegistry registry;
    private final Map<String, ListenerMeters> listeners = new ConcurrentHashMap<>();
    private final Map<String, RouteMeters> routes = new ConcurrentHashMap<>();
    private final Timer prereadDuration;
    private final Counter reloadsSucceeded;
    private final Counter reloadsFailed;
    private final AtomicLong lastReloadSuccessful = new AtomicLong(1);
    private final AtomicLong lastReloadSuccessEpochSeconds = new AtomicLong(System.currentTimeMillis() / 1000);

    public ProxyMetrics() {
        this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    public ProxyMetrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        // Two of Micrometer's processor meters break Prometheus naming rules (promtool check
        // metrics): a counter in nanoseconds, and a gauge ending in _count. process_cpu_usage
        // already gives the process's CPU, and the core count keeps a name without the suffix.
        registry.config()
                .meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")))
                .meterFilter(new MeterFilter() {
                    @Override
                    public Meter.Id map(Meter.Id id) {
                        return id.getName().equals("system.cpu.count") ? id.withName("system.cpu.processors") : id;
                    }
                });
        this.prereadDuration = latencyTimer("snigate.preread.duration")
                .description("Time from accept until the ClientHello was classified")
                .register(registry);
        reloadsSucceeded = reloads(registry, "success");
        reloadsFailed = reloads(registry, "error");
        Gauge.builder("snigate.config.last.reload.successful", lastReloadSuccessful, AtomicLong::get)
                .description("1 if the last config load or reload succeeded, 0 if the old config is still serving")
                .register(registry);
        Gauge.builder("snigate.config.last.reload.success.timestamp.seconds", lastReloadSuccessEpochSeconds, AtomicLong::get)
                .description("When the config in use was loaded, in seconds since the epoch")
                .register(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    private static Counter reloads(MeterRegistry registry, String result) {
        return Counter.builder("snigate.config.reloads")
                .description("Config reloads, by result; a failed one leaves the old config serving")
                .tag("result", result)
                .register(registry);
    }

    /** Counts a reload; a failed one leaves the old config serving. */
    public void configReloaded(boolean success) {
        if (success) {
            reloadsSucceeded.increment();
            lastReloadSuccessful.set(1);
            lastReloadSuccessEpochSeconds.set(System.currentTimeMillis() / 1000);
        } else {
            reloadsFailed.increment();
            lastReloadSuccessful.set(0);
        }
    }

    /** The constant 1 with the version and transport as labels, as Prometheus exporters do. */
    public void registerBuildInfo(String version, String transport) {
        Gauge.builder("snigate.build.info", () -> 1)
                .description("snigate's version and I/O transport")
                .tag("version", version)
                .tag("transport", transport)
                .register(registry);
    }

    /** Creates every series of {@code listener} at zero, so that rates work from the first scrape. */
    public void registerListener(String listener) {
        listeners.computeIfAbsent(listener, name -> new ListenerMeters(registry, name));
    }

    /** Creates the series of the routes in a (new) config at zero. */
    public void registerRoutes(List<String> routeLabels) {
        routeLabels.forEach(this::routeMeters);
    }

    @Override
    public void opened(ConnectionRecord connection) {
        listenerMeters(connection.listener()).active.incrementAndGet();
    }

    @Override
    public void prereadDone(ConnectionRecord connection, long nanos) {
        prereadDuration.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void upstreamConnected(ConnectionRecord connection, long nanos) {
        routeMeters(connection.route()).connectDuration.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void closed(ConnectionRecord connection) {
        ListenerMeters meters = listenerMeters(connection.listener());
        meters.active.decrementAndGet();
        Reason reason = connection.reason();
        meters.count(connection.outcome(), reason);
        RouteMeters route = routeMeters(connection.route());
        route.bytesFromClient.increment(connection.bytesFromClient());
        route.bytesToClient.increment(connection.bytesToClient());
        if (connection.upstream() != null) {
            route.connectionDuration.record(
                    System.nanoTime() - connection.acceptedAtNanos(), TimeUnit.NANOSECONDS);
        }
    }

    private ListenerMeters listenerMeters(String listener) {
        return listeners.computeIfAbsent(listener, name -> new ListenerMeters(registry, name));
    }

    private RouteMeters routeMeters(String route) {
        return routes.computeIfAbsent(route == null ? NO_ROUTE : route, name -> new RouteMeters(registry, name));
    }

    static Timer.Builder latencyTimer(String name) {
        return Timer.builder(name).serviceLevelObjectives(LATENCY_BUCKETS).maximumExpectedValue(Duration.ofSeconds(30));
    }

    private static final class ListenerMeters {
        final AtomicLong active = new AtomicLong();
        final Counter forwardedNormally;
        final Counter[] byReason = new Counter[REASONS.length];

        ListenerMeters(MeterRegistry registry, String listener) {
            forwardedNormally = connections(registry, listener, Outcome.FORWARDED, NO_REASON);
            for (Reason reason : REASONS) {
                byReason[reason.ordinal()] = connections(registry, listener, reason.outcome(), reason.label());
            }
            Gauge.builder("snigate.connections.active", active, AtomicLong::get)
                    .description("Client connections open now, in any stage")
                    .tag("listener", listener)
                    .register(registry);
        }

        void count(Outcome outcome, Reason reason) {
            (reason == null ? forwardedNormally : byReason[reason.ordinal()]).increment();
        }

        private static Counter connections(MeterRegistry registry, String listener, Outcome outcome, String reason) {
            return Counter.builder("snigate.connections")
                    .description("Client connections that ended, by outcome and reason")
                    .tag("listener", listener)
                    .tag("outcome", outcome.label())
                    .tag("reason", reason)
                    .register(registry);
        }
    }

    private static final class RouteMeters {
        final Counter bytesFromClient;
        final Counter bytesToClient;
        final Timer connectDuration;
        final Timer connectionDuration;

        RouteMeters(MeterRegistry registry, String route) {
            bytesFromClient = bytes(registry, route, "from_client");
            bytesToClient = bytes(registry, route, "to_client");
            connectDuration = latencyTimer("snigate.upstream.connect.duration")
                    .description("Time to resolve and connect to the upstream")
                    .tag("route", route)
                    .register(registry);
            connectionDuration = latencyTimer("snigate.connection.duration")
                    .description("Lifetime of forwarded connections, from accept to close")
                    .tag("route", route)
                    .register(registry);
        }

        private static Counter bytes(MeterRegistry registry, String route, String direction) {
            return Counter.builder("snigate.bytes")
                    .description("Bytes relayed, counted when the connection ends")
                    .baseUnit("bytes")
                    .tag("route", route)
                    .tag("direction", direction)
                    .register(registry);
        }
    }
}
