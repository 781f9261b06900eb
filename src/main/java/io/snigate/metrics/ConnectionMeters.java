package io.snigate.metrics;

import static io.snigate.metrics.MetricNames.*;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.snigate.core.RouteLabels;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The meters of listeners and routes, each created with every series at zero, so that a rate
 * works from the first scrape, and looked up once per connection instead of through the registry.
 */
final class ConnectionMeters {
    /** Histogram buckets in seconds, from 100 µs to 30 s, for latencies on loopback to WAN. */
    private static final Duration[] LATENCY_BUCKETS = {
        Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000),
        Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
        Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
        Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
        Duration.ofSeconds(10), Duration.ofSeconds(30)
    };

    /**
     * Buckets for a tunnel's lifetime, from 100 ms to a week (the longest idle timeout): tunnels
     * live for seconds to hours, far beyond the latency buckets' 30 s.
     */
    private static final Duration[] LIFETIME_BUCKETS = {
        Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5),
        Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(2),
        Duration.ofMinutes(5), Duration.ofMinutes(10), Duration.ofMinutes(30), Duration.ofHours(1),
        Duration.ofHours(2), Duration.ofHours(6), Duration.ofDays(1), Duration.ofDays(7)
    };

    private ConnectionMeters() {}

    /**
     * A timer's {@code _max} is the largest value of the last {@code MAX_SLICES} slices of
     * {@code MAX_SLICE}: about the last two minutes, moved on every 5 s. Every record on an event
     * loop checks whether the window is due to move, and the JIT compiles the hot path as it finds
     * it in the first seconds of traffic. A move that first comes later than that, as with the
     * Prometheus registry's default of three slices of a minute, has been compiled as never
     * happening, and costs a deoptimisation and a recompile of the path: about 90 ms of compiler
     * time, which on a small host is the event loop's core (performance page, "The open-loop tail,
     * by thread on the core").
     */
    private static final Duration MAX_SLICE = Duration.ofSeconds(5);
    private static final int MAX_SLICES = 24;

    static Timer.Builder latencyTimer(String name) {
        return Timer.builder(name).serviceLevelObjectives(LATENCY_BUCKETS).maximumExpectedValue(Duration.ofSeconds(30))
                .distributionStatisticExpiry(MAX_SLICE).distributionStatisticBufferLength(MAX_SLICES);
    }

    private static Timer.Builder lifetimeTimer(String name) {
        return Timer.builder(name).serviceLevelObjectives(LIFETIME_BUCKETS).maximumExpectedValue(Duration.ofDays(7))
                .distributionStatisticExpiry(MAX_SLICE).distributionStatisticBufferLength(MAX_SLICES);
    }

    /** A listener's meters; its {@link ConnectionCounters} are kept per route. */
    static final class Listener {
        final AtomicLong active = new AtomicLong();
        final AtomicLong sharedSockets = new AtomicLong();
        private final MeterRegistry registry;
        private final String listener;
        private final Map<String, ConnectionCounters> byRoute = new ConcurrentHashMap<>();
        /** {success, failure}, made when the listener is first known to be transparent. */
        private volatile Counter[] originalDestinations;
        private final List<Meter> gauges;
        /**
         * The listener is no longer bound: its series are deleted once its last connection has
         * ended (ProxyMetrics.retireListenersOtherThan).
         */
        volatile boolean retiring;

        Listener(MeterRegistry registry, String listener) {
            this.registry = registry;
            this.listener = listener;
            gauges = List.of(
                    Gauge.builder(CONNECTIONS_ACTIVE, active, AtomicLong::get)
                            .description("Client connections open now, in any stage")
                            .tag(LISTENER, listener)
                            .register(registry),
                    Gauge.builder(LISTENER_SHARED_SOCKETS, sharedSockets, AtomicLong::get)
                            .description("Sockets other processes listen with on this listener's address (SO_REUSEPORT):"
                                    + " the kernel gives them a share of its new connections; 0 but while a restart hands over")
                            .tag(LISTENER, listener)
                            .register(registry));
            countersFor(RouteLabels.UNROUTED);
        }

        /** Every series of this listener. */
        Stream<Meter> meters() {
            Counter[] destinations = originalDestinations;
            return Stream.of(gauges.stream(), byRoute.values().stream().flatMap(ConnectionCounters::meters),
                    destinations == null ? Stream.<Meter>empty() : Stream.<Meter>of(destinations)).flatMap(meters -> meters);
        }

        ConnectionCounters countersFor(String route) {
            return byRoute.computeIfAbsent(route, r -> new ConnectionCounters(registry, listener, r));
        }

        /** Deletes the counters of routes not in {@code kept}. */
        void retireRoutesOtherThan(Set<String> kept) {
            retire(byRoute, kept, registry);
        }

        Counter[] originalDestinations() {
            Counter[] counters = originalDestinations;
            if (counters == null) {
                counters = new Counter[] {originalDestination(SUCCESS), originalDestination(FAILURE)};
                originalDestinations = counters;
            }
            return counters;
        }

        private Counter originalDestination(String result) {
            return Counter.builder(ORIGINAL_DST)
                    .description("Connections to transparent listeners, by whether their original destination was found")
                    .tag(LISTENER, listener)
                    .tag(RESULT, result)
                    .register(registry);
        }
    }

    /** A route's bytes and durations, and its forwarded connections the upstream never answered. */
    static final class Route implements RouteSeries {
        final Counter bytesFromClient;
        final Counter bytesToClient;
        final Counter unanswered;
        final Timer connectDuration;
        final Timer connectionDuration;

        Route(MeterRegistry registry, String route) {
            bytesFromClient = bytes(registry, route, FROM_CLIENT);
            bytesToClient = bytes(registry, route, TO_CLIENT);
            unanswered = Counter.builder(CONNECTIONS_UNANSWERED)
                    .description("Forwarded connections that ended before the upstream sent a byte: an upstream that"
                            + " accepts and never answers")
                    .tag(ROUTE, route)
                    .register(registry);
            connectDuration = latencyTimer(UPSTREAM_CONNECT_DURATION)
                    .description("Time to resolve and connect to the upstream")
                    .tag(ROUTE, route)
                    .register(registry);
            connectionDuration = lifetimeTimer(CONNECTION_DURATION)
                    .description("Lifetime of forwarded connections, from accept to close")
                    .tag(ROUTE, route)
                    .register(registry);
        }

        @Override
        public Stream<Meter> meters() {
            return Stream.of(bytesFromClient, bytesToClient, unanswered, connectDuration, connectionDuration);
        }

        private static Counter bytes(MeterRegistry registry, String route, String direction) {
            return Counter.builder(BYTES)
                    .description("Bytes relayed, counted when the connection ends")
                    .baseUnit("bytes")
                    .tag(ROUTE, route)
                    .tag(DIRECTION, direction)
                    .register(registry);
        }
    }

    /**
     * Deletes the meters of every route in {@code byRoute} not in {@code kept}. Each goes inside
     * the map's lock on its key: a connection ending on that route meanwhile either counts on the
     * old meters before they go, or makes new ones after, never new ones the registry still holds
     * as the old.
     */
    static void retire(Map<String, ? extends RouteSeries> byRoute, Set<String> kept, MeterRegistry registry) {
        for (String route : List.copyOf(byRoute.keySet())) {
            if (!kept.contains(route)) {
                byRoute.computeIfPresent(route, (name, meters) -> {
                    meters.meters().forEach(registry::remove);
                    return null;
                });
            }
        }
    }

    /** The meters kept for one route. */
    interface RouteSeries {
        Stream<Meter> meters();
    }
}
