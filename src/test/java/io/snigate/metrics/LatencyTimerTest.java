package io.snigate.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LatencyTimerTest {
    private final MockClock clock = new MockClock();
    private final Timer timer = ConnectionMeters.latencyTimer("test.duration")
            .register(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(), clock));

    @Test
    void theMaxRemembersAValueForTwoMinutesAndForgetsItWithinFiveSecondsMore() {
        timer.record(Duration.ofMillis(300));

        clock.add(Duration.ofSeconds(115));
        assertEquals(0.3, timer.max(TimeUnit.SECONDS), 1e-9);

        // The Prometheus registry's default, three slices of a minute, would keep it until 180 s.
        clock.add(Duration.ofSeconds(10));
        assertEquals(0.0, timer.max(TimeUnit.SECONDS), 1e-9);
    }

    @Test
    void theMaxWindowMovesEveryFiveSeconds() {
        timer.record(Duration.ofMillis(300));
        clock.add(Duration.ofSeconds(5));
        timer.record(Duration.ofMillis(100));

        clock.add(Duration.ofSeconds(116));
        assertEquals(0.1, timer.max(TimeUnit.SECONDS), 1e-9, "the first value's slice has gone, the second's not");
    }

    @Test
    void theHistogramsBucketsStillCountEveryValueEver() {
        timer.record(Duration.ofMillis(300));
        clock.add(Duration.ofMinutes(10));
        timer.record(Duration.ofMillis(100));

        // A histogram windowed like the _max (as other registries window it) would have lost the first.
        CountAtBucket halfSecond = Arrays.stream(timer.takeSnapshot().histogramCounts())
                .filter(bucket -> bucket.bucket(TimeUnit.MILLISECONDS) == 500).findFirst().orElseThrow();
        assertEquals(2, halfSecond.count());
        assertEquals(2, timer.count());
        assertEquals(0.4, timer.totalTime(TimeUnit.SECONDS), 1e-9);
    }
}
