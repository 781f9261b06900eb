package io.snigate.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** {@link ProxyMetrics}' meters that read a value from elsewhere keep reading it for the process's life. */
class ProxyMetricsTest {
    @Test
    void theAccessLogsDropCounterOutlivesAGarbageCollection() throws Exception {
        ProxyMetrics metrics = new ProxyMetrics();
        AtomicLong dropped = new AtomicLong();
        metrics.registerAccessLogDrops(() -> dropped.get()); // a new object, held by nothing else
        dropped.set(5);
        assertThat(metrics.registry().scrape()).contains("snigate_access_log_dropped_total 5.0");
        // Collected until a canary only weakly held is gone: then so is anything else only weakly held.
        WeakReference<Object> canary = new WeakReference<>(new Object());
        for (int i = 0; i < 50 && canary.get() != null; i++) {
            System.gc();
        }
        assertThat(canary.get()).as("a garbage collection cleared weak references").isNull();
        dropped.set(105);
        assertThat(metrics.registry().scrape()).contains("snigate_access_log_dropped_total 105.0");
    }

    /**
     * The watch's count for a listener a reload has retired does not bring its series back
     * (failed: every series of the listener made again, until the next reload).
     */
    @Test
    void aRetiredListenersSharedSocketsMakeNoSeries() {
        ProxyMetrics metrics = new ProxyMetrics();
        metrics.registerListener("127.0.0.2:8443", false);
        metrics.sharedSockets("127.0.0.2:8443", 2);
        assertThat(metrics.registry().scrape()).contains("snigate_listener_shared_sockets{listener=\"127.0.0.2:8443\"} 2.0");
        metrics.retireListenersOtherThan(List.of());
        metrics.sharedSockets("127.0.0.2:8443", 0);
        assertThat(metrics.registry().scrape()).doesNotContain("127.0.0.2:8443");
    }

    /**
     * A connection its listener accepted just before a reload closed it, heard only after the
     * reload retired the listener's series, takes the series it made with it at its close
     * (failed: they stayed until the next reload).
     */
    @Test
    void aConnectionOpenedAfterItsListenersRetirementLeavesNoSeries() {
        ProxyMetrics metrics = new ProxyMetrics();
        metrics.registerListener("127.0.0.2:8443", false);
        metrics.retireListenersOtherThan(List.of("127.0.0.3:8443"));
        assertThat(metrics.registry().scrape()).doesNotContain("127.0.0.2:8443");

        EmbeddedChannel late = new EmbeddedChannel();
        ConnectionRecord record = ConnectionRecord.attach(late, "127.0.0.2:8443", metrics);
        assertThat(metrics.registry().scrape()).contains("snigate_connections_active{listener=\"127.0.0.2:8443\"} 1.0");
        record.endedBecause(Reason.CLIENT_CLOSED);
        late.close();
        assertThat(metrics.registry().scrape()).doesNotContain("127.0.0.2:8443");

        EmbeddedChannel onABoundListener = new EmbeddedChannel();
        ConnectionRecord.attach(onABoundListener, "127.0.0.3:8443", metrics);
        onABoundListener.close();
        assertThat(metrics.registry().scrape()).contains("listener=\"127.0.0.3:8443\"");
    }
}
