package io.snigate.metrics;

import static io.snigate.metrics.MetricNames.*;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.snigate.core.Outcome;
import io.snigate.core.Reason;
import io.snigate.core.RouteLabels;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * The counters of connections that ended on one listener and route ({@link MetricNames#CONNECTIONS},
 * {@link MetricNames#POLICY_WOULD_REJECT}): every outcome and reason, and every policy verdict
 * audit mode can forward; a reason that ends connections only {@link Reason#beforeRouting() before a
 * route is chosen} only under route {@code none}, where it can happen. A series found missing
 * is made when first counted.
 */
final class ConnectionCounters implements ConnectionMeters.RouteSeries {
    private static final Reason[] REASONS = Reason.values();
    /** The verdicts audit mode can forward, each with a would-reject series from the start. */
    private static final List<Reason> POLICY_VERDICTS = Arrays.stream(REASONS).filter(Reason::isPolicyVerdict).toList();

    private final MeterRegistry registry;
    private final String listener;
    private final String route;
    private final Counter forwardedNormally;
    private final Counter[] byReason = new Counter[REASONS.length];
    /** For the reasons that {@link Reason#endsUnforwardedToo() end unforwarded connections too}. */
    private final Counter[] unforwardedByReason = new Counter[REASONS.length];
    private final Counter[] wouldRejectByReason = new Counter[REASONS.length];

    ConnectionCounters(MeterRegistry registry, String listener, String route) {
        this.registry = registry;
        this.listener = listener;
        this.route = route;
        forwardedNormally = connections(registry, listener, route, Outcome.FORWARDED, NONE);
        boolean unrouted = route.equals(RouteLabels.UNROUTED);
        for (Reason reason : REASONS) {
            if (unrouted || !reason.beforeRouting()) {
                byReason[reason.ordinal()] = connections(registry, listener, route, reason.outcome(), reason.label());
                if (reason.endsUnforwardedToo()) {
                    unforwardedByReason[reason.ordinal()] =
                            connections(registry, listener, route, Outcome.REJECTED, reason.label());
                }
            }
        }
        for (Reason reason : POLICY_VERDICTS) {
            if (unrouted || !reason.beforeRouting()) {
                wouldRejectByReason[reason.ordinal()] = wouldReject(registry, listener, route, reason);
            }
        }
    }

    @Override
    public Stream<Meter> meters() {
        return Stream.of(new Counter[] {forwardedNormally}, byReason, unforwardedByReason, wouldRejectByReason)
                .<Meter>flatMap(Arrays::stream)
                .filter(Objects::nonNull);
    }

    /** Counts a connection that ended for {@code reason} (null: forwarded and closed normally). */
    void count(Reason reason, boolean forwarded) {
        if (reason == null) {
            forwardedNormally.increment();
        } else if (!forwarded && reason.endsUnforwardedToo()) {
            counter(unforwardedByReason, reason, Outcome.REJECTED).increment();
        } else {
            counter(byReason, reason, reason.outcome()).increment();
        }
    }

    void wouldReject(Reason reason) {
        Counter counter = wouldRejectByReason[reason.ordinal()];
        if (counter == null) {
            synchronized (this) {
                counter = wouldReject(registry, listener, route, reason);
                wouldRejectByReason[reason.ordinal()] = counter;
            }
        }
        counter.increment();
    }

    private Counter counter(Counter[] counters, Reason reason, Outcome outcome) {
        Counter counter = counters[reason.ordinal()];
        if (counter == null) {
            synchronized (this) { // the registry returns the one series however many ask
                counter = connections(registry, listener, route, outcome, reason.label());
                counters[reason.ordinal()] = counter;
            }
        }
        return counter;
    }

    private static Counter wouldReject(MeterRegistry registry, String listener, String route, Reason reason) {
        return Counter.builder(POLICY_WOULD_REJECT)
                .description("Connections audit mode forwarded although the policy would have refused them, by verdict")
                .tag(LISTENER, listener)
                .tag(ROUTE, route)
                .tag(REASON, reason.label())
                .register(registry);
    }

    private static Counter connections(
            MeterRegistry registry, String listener, String route, Outcome outcome, String reason) {
        return Counter.builder(CONNECTIONS)
                .description("Client connections that ended, by outcome and reason")
                .tag(LISTENER, listener)
                .tag(ROUTE, route)
                .tag(OUTCOME, outcome.label())
                .tag(REASON, reason)
                .register(registry);
    }
}
