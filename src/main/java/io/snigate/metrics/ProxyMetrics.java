package io.snigate.metrics;

import static io.snigate.metrics.MetricNames.*;

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
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.RouteLabels;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

/**
 * The proxy's Prometheus metrics. Every label value comes from a bounded set: listener names
 * from the config, route patterns from the config, and the {@link Reason} vocabulary. Never the
 * raw SNI, the client address or the upstream address, whose number has no bound.
 *
 * <p>Meters are looked up once and cached in arrays indexed by reason, so counting a connection
 * costs no map lookups in Micrometer's registry.
 */
public final class ProxyMetrics implements ConnectionObserver {
    private final PrometheusMeterRegistry registry;
    private final Map<String, ConnectionMeters.Listener> listeners = new ConcurrentHashMap<>();
    /** The listeners the last reload left bound; null until a reload said. */
    private volatile Set<String> boundListeners;
    private final Map<String, ConnectionMeters.Route> routes = new ConcurrentHashMap<>();
    private final Timer prereadDuration;
    private final Timer dnsFound;
    private final Timer dnsNotFound;
    private final ConfigMetrics config;
    /** Held here: a function counter keeps only a weak reference to what it reads. */
    private LongSupplier accessLogDrops, errorLogDrops;

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
        this.prereadDuration = ConnectionMeters.latencyTimer(PREREAD_DURATION)
                .description("Time from accept until the ClientHello was classified")
                .register(registry);
        dnsFound = dnsTimer(registry, SUCCESS);
        dnsNotFound = dnsTimer(registry, FAILURE);
        config = new ConfigMetrics(registry);
        // The route of connections no route took, at zero like the config's routes.
        routeMeters(RouteLabels.UNROUTED);
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
            allocatorGauge(metric, DIRECT, ByteBufAllocatorMetric::usedDirectMemory);
            allocatorGauge(metric, HEAP, ByteBufAllocatorMetric::usedHeapMemory);
        }
    }

    private void allocatorGauge(ByteBufAllocatorMetric metric, String memory, ToDoubleFunction<ByteBufAllocatorMetric> used) {
        Gauge.builder(NETTY_ALLOCATOR_USED, metric, used)
                .description("Memory held by Netty's buffer allocator: relay and pre-read buffers")
                .baseUnit("bytes")
                .tag(MEMORY, memory)
                .strongReference(true)
                .register(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The metrics of the config in force: reloads, audit mode, match files. */
    public ConfigMetrics config() {
        return config;
    }

    private static Timer dnsTimer(MeterRegistry registry, String result) {
        return ConnectionMeters.latencyTimer(DNS_RESOLVE_DURATION)
                .description("Time to resolve an upstream name, by whether an address was found")
                .tag(RESULT, result)
                .register(registry);
    }

    /** The constant 1 with the version and transport as labels, as Prometheus exporters do. */
    public void registerBuildInfo(String version, String transport) {
        Gauge.builder(BUILD_INFO, () -> 1)
                .description("snigate's version and I/O transport")
                .tag(VERSION, version)
                .tag(TRANSPORT, transport)
                .register(registry);
    }

    /**
     * Creates every series of {@code listener} at zero, so that rates work from the first scrape;
     * a transparent listener also counts the original destinations it found and missed.
     */
    public void registerListener(String listener, boolean transparent) {
        ConnectionMeters.Listener meters = listenerMeters(listener);
        if (transparent) {
            meters.originalDestinations();
        }
    }

    /** Counts a connection to a transparent listener, by whether its original destination was found. */
    public void originalDestination(String listener, boolean found) {
        Counter[] counters = listenerMeters(listener).originalDestinations();
        (found ? counters[0] : counters[1]).increment();
    }

    /**
     * How many sockets other processes listen with on {@code listener}'s address; nothing for a
     * listener whose series a reload retired.
     */
    public void sharedSockets(String listener, long sockets) {
        ConnectionMeters.Listener meters = listeners.get(listener);
        if (meters != null) {
            meters.sharedSockets.set(sockets);
        }
    }

    /** Creates the series of the routes in a (new) config at zero, on every listener. */
    public void registerRoutes(List<String> routeLabels) {
        for (String route : routeLabels) {
            routeMeters(route);
            listeners.values().forEach(listener -> listener.countersFor(route));
        }
    }

    /**
     * Deletes the series of routes no longer in the config, so that a config whose routes come and
     * go does not grow the scrape without bound. A connection still open on such a route brings
     * its series back, from zero, when it ends; the next reload deletes them again.
     */
    public void retireRoutesOtherThan(List<String> routeLabels) {
        Set<String> kept = new HashSet<>(routeLabels);
        kept.add(RouteLabels.UNROUTED);
        ConnectionMeters.retire(routes, kept, registry);
        listeners.values().forEach(listener -> listener.retireRoutesOtherThan(kept));
    }

    /** Publishes how many access-log lines were dropped because the writer fell behind. */
    public void registerAccessLogDrops(LongSupplier dropped) {
        accessLogDrops = dropped;
        FunctionCounter.builder(ACCESS_LOG_DROPPED, dropped, LongSupplier::getAsLong)
                .description("Access-log lines dropped because standard output could not keep up")
                .register(registry);
    }

    /** Publishes how many standard-error lines were dropped because the writer fell behind. */
    public void registerErrorLogDrops(LongSupplier dropped) {
        errorLogDrops = dropped;
        FunctionCounter.builder(ERROR_LOG_DROPPED, dropped, LongSupplier::getAsLong)
                .description("Operational log lines dropped because standard error could not keep up")
                .register(registry);
    }

    /** Publishes the number of names in the DNS cache. */
    public void registerDnsCache(IntSupplier size) {
        Gauge.builder(DNS_CACHE_ENTRIES, size, IntSupplier::getAsInt)
                .description("Upstream host names with an unexpired DNS answer")
                .strongReference(true)
                .register(registry);
    }

    @Override
    public void on(ConnectionEvent event, ConnectionRecord connection, long nanos) {
        switch (event) {
            case OPENED -> opened(connection.listener());
            case PREREAD_DONE -> {
                // A connection ended before its pre-read (by the PROXY header's stage) had none to time.
                if (connection.reason() == null) {
                    prereadDuration.record(nanos, TimeUnit.NANOSECONDS);
                }
            }
            case DNS_FOUND -> dnsFound.record(nanos, TimeUnit.NANOSECONDS);
            case DNS_FAILED -> dnsNotFound.record(nanos, TimeUnit.NANOSECONDS);
            case UPSTREAM_CONNECTED -> routeMeters(routeLabel(connection)).connectDuration.record(nanos, TimeUnit.NANOSECONDS);
            case CLOSED -> closed(connection);
        }
    }

    /**
     * Deletes the series of listeners other than {@code bound}: a reload removed them, or bound
     * them and then failed. One with connections still open keeps its series until the last ends.
     */
    public void retireListenersOtherThan(Collection<String> bound) {
        boundListeners = Set.copyOf(bound);
        listeners.forEach((name, meters) -> {
            // A listener bound again keeps its series, whatever a reload before said.
            meters.retiring = !bound.contains(name);
            if (meters.retiring) { // set before the count is read: a close that empties it meanwhile sees it
                retireIfIdle(name, meters);
            }
        });
    }

    private void retireIfIdle(String name, ConnectionMeters.Listener meters) {
        if (meters.retiring && meters.active.get() <= 0 && listeners.remove(name, meters)) {
            meters.meters().forEach(registry::remove);
        }
    }

    private void opened(String listener) {
        // Looked up first: the making below, a lambda holding this object, is once per listener.
        ConnectionMeters.Listener found = listeners.get(listener);
        ConnectionMeters.Listener meters = found != null ? found : listeners.computeIfAbsent(listener, name -> {
            ConnectionMeters.Listener made = new ConnectionMeters.Listener(registry, name);
            // Accepted just before a reload closed its listener, heard after: these go at its close.
            Set<String> bound = boundListeners;
            made.retiring = bound != null && !bound.contains(name);
            return made;
        });
        meters.active.incrementAndGet();
    }

    private void closed(ConnectionRecord connection) {
        String routeLabel = routeLabel(connection);
        // None when a reload retired its listener's series: a close never makes them again.
        ConnectionMeters.Listener meters = listeners.get(connection.listener());
        if (meters != null) {
            ConnectionCounters counters = meters.countersFor(routeLabel);
            counters.count(connection.reason(), connection.isForwarded());
            if (connection.wouldReject() != null) {
                counters.wouldReject(connection.wouldReject());
            }
            // Counted first: the retirement this close may bring then deletes every series it made.
            if (meters.active.decrementAndGet() <= 0 && meters.retiring) {
                retireIfIdle(connection.listener(), meters);
            }
        }
        ConnectionMeters.Route route = routeMeters(routeLabel);
        route.bytesFromClient.increment(connection.bytesFromClient());
        route.bytesToClient.increment(connection.bytesToClient());
        if (connection.isForwarded()) {
            route.connectionDuration.record(System.nanoTime() - connection.acceptedAtNanos(), TimeUnit.NANOSECONDS);
            if (connection.bytesToClient() == 0) {
                route.unanswered.increment();
            }
        }
    }

    private ConnectionMeters.Listener listenerMeters(String listener) {
        return listeners.computeIfAbsent(listener, name -> new ConnectionMeters.Listener(registry, name));
    }

    private static String routeLabel(ConnectionRecord connection) {
        return connection.route() == null ? RouteLabels.UNROUTED : connection.route();
    }

    private ConnectionMeters.Route routeMeters(String route) {
        return routes.computeIfAbsent(route, name -> new ConnectionMeters.Route(registry, name));
    }
}
