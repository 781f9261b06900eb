package io.snigate.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
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
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
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
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The proxy's Prometheus metrics. Every label value comes from a bounded set: listener names
 * from the config, route patterns from the config, and the {@link Reason} vocabulary. Never the
 * raw SNI, the client address or the upstream address, whose number has no bound.
 *
 * <p>Meters are looked up once and cached in arrays indexed by reason, so counting a connection
 * costs no map lookups in Micrometer's registry.
 *
 * <p>Longer than 300 lines because every meter the proxy publishes is declared here, with its
 * name, help text and labels: the metrics are one vocabulary, like {@link Reason}.
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
    /** The verdicts audit mode can forward, each with a would-reject series from the start. */
    private static final List<Reason> POLICY_VERDICTS =
            java.util.Arrays.stream(REASONS).filter(Reason::isPolicyVerdict).toList();

    private final PrometheusMeterRegistry registry;
    private final Map<String, ListenerMeters> listeners = new ConcurrentHashMap<>();
    private final Map<String, RouteMeters> routes = new ConcurrentHashMap<>();
    private final Timer prereadDuration;
    private final Timer dnsFound;
    private final Timer dnsNotFound;
    private final Counter reloadsSucceeded;
    private final Counter reloadsFailed;
    private final AtomicLong lastReloadSuccessful = new AtomicLong(1);
    private final AtomicLong lastReloadSuccessEpochSeconds = new AtomicLong(System.currentTimeMillis() / 1000);
    private final AtomicLong auditMode = new AtomicLong();
    private final AtomicLong auditRoutes = new AtomicLong();

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
        dnsFound = dnsTimer(registry, "found");
        dnsNotFound = dnsTimer(registry, "failed");
        reloadsSucceeded = reloads(registry, "success");
        reloadsFailed = reloads(registry, "error");
        gauge("snigate.config.last.reload.successful", lastReloadSuccessful,
                "1 if the last config load or reload succeeded, 0 if the old config is still serving");
        gauge("snigate.config.last.reload.success.timestamp.seconds", lastReloadSuccessEpochSeconds,
                "When the config in use was loaded, in seconds since the epoch");
        gauge("snigate.policy.audit.mode", auditMode,
                "1 while policy.mode is audit: names no route matches are forwarded, not refused");
        gauge("snigate.policy.audit.routes", auditRoutes,
                "Routes whose policy verdicts are forwarded and reported, not enforced (audit mode)");
    }

    private void gauge(String name, AtomicLong value, String description) {
        Gauge.builder(name, value, AtomicLong::get).description(description).register(registry);
    }

    /**
     * Adds the JVM, process and allocator meters. Separate from the constructor so that the proxy
     * can bind its listeners first: these take a few hundred milliseconds to set up, and readiness
     * does not need them.
     */
    public void bindJvmAndProcessMetrics() {
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        // Micrometer's Netty binder publishes meters without help text, which promtool rejects.
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider allocator) {
            ByteBufAllocatorMetric metric = allocator.metric();
            Gauge.builder("snigate.netty.allocator.used", metric, ByteBufAllocatorMetric::usedDirectMemory)
                    .description("Memory held by Netty's buffer allocator: relay and pre-read buffers")
                    .baseUnit("bytes")
                    .tag("memory", "direct")
                    .strongReference(true)
                    .register(registry);
            Gauge.builder("snigate.netty.allocator.used", metric, ByteBufAllocatorMetric::usedHeapMemory)
                    .description("Memory held by Netty's buffer allocator: relay and pre-read buffers")
                    .baseUnit("bytes")
                    .tag("memory", "heap")
                    .strongReference(true)
                    .register(registry);
        }
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    private static Timer dnsTimer(MeterRegistry registry, String result) {
        return latencyTimer("snigate.dns.resolve.duration")
                .description("Time to resolve an upstream name, by whether an address was found")
                .tag("result", result)
                .register(registry);
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

    /**
     * Creates every series of {@code listener} at zero, so that rates work from the first scrape;
     * a transparent listener also counts the original destinations it found and missed.
     */
    public void registerListener(String listener, boolean transparent) {
        ListenerMeters meters = listenerMeters(listener);
        if (transparent) {
            meters.originalDestinations();
        }
    }

    /** Counts a connection to a transparent listener, by whether its original destination was found. */
    public void originalDestination(String listener, boolean found) {
        Counter[] counters = listenerMeters(listener).originalDestinations();
        (found ? counters[0] : counters[1]).increment();
    }

    /** Creates the series of the routes in a (new) config at zero, on every listener. */
    public void registerRoutes(List<String> routeLabels) {
        for (String route : routeLabels) {
            routeMeters(route);
            listeners.values().forEach(listener -> listener.countersFor(route));
        }
    }

    /**
     * Publishes what runs in audit mode: whether the top-level {@code policy.mode} is audit, and
     * how many routes are (by their own {@code mode} or the top level's).
     */
    public void policyModes(boolean topLevelAudit, int routesInAudit) {
        auditMode.set(topLevelAudit ? 1 : 0);
        auditRoutes.set(routesInAudit);
    }

    /** Publishes how many access-log lines were dropped because the writer fell behind. */
    public void registerAccessLogDrops(LongSupplier dropped) {
        FunctionCounter.builder("snigate.access.log.dropped", dropped, LongSupplier::getAsLong)
                .description("Access-log lines dropped because standard output could not keep up")
                .register(registry);
    }

    /** Publishes the number of names in the DNS cache. */
    public void registerDnsCache(IntSupplier size) {
        Gauge.builder("snigate.dns.cache.entries", size, IntSupplier::getAsInt)
                .description("Upstream host names with an unexpired DNS answer")
                .strongReference(true)
                .register(registry);
    }

    @Override
    public void dnsResolved(boolean found, long nanos) {
        (found ? dnsFound : dnsNotFound).record(nanos, TimeUnit.NANOSECONDS);
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
        routeMeters(routeLabel(connection)).connectDuration.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void closed(ConnectionRecord connection) {
        ListenerMeters meters = listenerMeters(connection.listener());
        meters.active.decrementAndGet();
        String routeLabel = routeLabel(connection);
        ConnectionCounters counters = meters.countersFor(routeLabel);
        counters.count(connection.reason());
        if (connection.wouldReject() != null) {
            counters.wouldReject(connection.wouldReject());
        }
        RouteMeters route = routeMeters(routeLabel);
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

    private static String routeLabel(ConnectionRecord connection) {
        return connection.route() == null ? NO_ROUTE : connection.route();
    }

    private RouteMeters routeMeters(String route) {
        return routes.computeIfAbsent(route, name -> new RouteMeters(registry, name));
    }

    static Timer.Builder latencyTimer(String name) {
        return Timer.builder(name).serviceLevelObjectives(LATENCY_BUCKETS).maximumExpectedValue(Duration.ofSeconds(30));
    }

    /** A listener's meters; its connection counters are kept per route, each for every reason. */
    private static final class ListenerMeters {
        final AtomicLong active = new AtomicLong();
        private final MeterRegistry registry;
        private final String listener;
        private final Map<String, ConnectionCounters> byRoute = new ConcurrentHashMap<>();
        /** {found, missing}, made when the listener is first known to be transparent. */
        private volatile Counter[] originalDestinations;

        ListenerMeters(MeterRegistry registry, String listener) {
            this.registry = registry;
            this.listener = listener;
            Gauge.builder("snigate.connections.active", active, AtomicLong::get)
                    .description("Client connections open now, in any stage")
                    .tag("listener", listener)
                    .register(registry);
            countersFor(NO_ROUTE);
        }

        Counter[] originalDestinations() {
            Counter[] counters = originalDestinations;
            if (counters == null) {
                counters = new Counter[] {originalDestination("found"), originalDestination("missing")};
                originalDestinations = counters;
            }
            return counters;
        }

        private Counter originalDestination(String result) {
            return Counter.builder("snigate.original.dst")
                    .description("Connections to transparent listeners, by whether their original destination was found")
                    .tag("listener", listener)
                    .tag("result", result)
                    .register(registry);
        }

        ConnectionCounters countersFor(String route) {
            return byRoute.computeIfAbsent(route, r -> new ConnectionCounters(registry, listener, r));
        }
    }

    /**
     * Every outcome and reason of one listener and route, and every policy verdict audit mode can
     * forward on them, created at zero together.
     */
    private static final class ConnectionCounters {
        final Counter forwardedNormally;
        final Counter[] byReason = new Counter[REASONS.length];
        final Counter[] wouldRejectByReason = new Counter[REASONS.length];

        ConnectionCounters(MeterRegistry registry, String listener, String route) {
            forwardedNormally = connections(registry, listener, route, Outcome.FORWARDED, NO_REASON);
            for (Reason reason : REASONS) {
                byReason[reason.ordinal()] = connections(registry, listener, route, reason.outcome(), reason.label());
            }
            for (Reason reason : POLICY_VERDICTS) {
                wouldRejectByReason[reason.ordinal()] = Counter.builder("snigate.policy.would.reject")
                        .description("Connections audit mode forwarded although the policy would have refused them, by verdict")
                        .tag("listener", listener)
                        .tag("route", route)
                        .tag("reason", reason.label())
                        .register(registry);
            }
        }

        void count(Reason reason) {
            (reason == null ? forwardedNormally : byReason[reason.ordinal()]).increment();
        }

        void wouldReject(Reason reason) {
            wouldRejectByReason[reason.ordinal()].increment();
        }

        private static Counter connections(
                MeterRegistry registry, String listener, String route, Outcome outcome, String reason) {
            return Counter.builder("snigate.connections")
                    .description("Client connections that ended, by outcome and reason")
                    .tag("listener", listener)
                    .tag("route", route)
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
