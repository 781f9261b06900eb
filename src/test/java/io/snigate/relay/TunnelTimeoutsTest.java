package io.snigate.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.snigate.core.Reason;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the idle timeout counts as traffic: a byte read, and a backlog the receiver is taking, however
 * slowly. A backlog that does not move is idle.
 */
class TunnelTimeoutsTest {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    private final EventLoop loop = new DefaultEventLoop();

    @AfterEach
    void stop() throws InterruptedException {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }

    /** A tunnel with an idle timeout of 1 s, relaying and queueing what the test says. */
    private static final class Timeouts extends TunnelTimeouts {
        final long startedNanos = System.nanoTime();
        long relayed;
        long queued;

        Timeouts(EventLoop loop) {
            super(loop, 1_000, 0);
        }

        @Override
        long relayedBytes() {
            return relayed;
        }

        @Override
        long queuedBytes() {
            return queued;
        }

        @Override
        boolean isOpen() {
            return true;
        }

        @Override
        void close(Reason reason) {
        }

        Reason at(double seconds) {
            return expiredAt(startedNanos + (long) (seconds * SECOND));
        }
    }

    private Timeouts timeouts() throws Exception {
        return loop.submit(() -> {
            Timeouts made = new Timeouts(loop);
            made.unlink(); // off the loop's clock: only the test asks it, at the times it says
            return made;
        }).get(5, TimeUnit.SECONDS);
    }

    @Test
    void aBacklogTheReceiverTakesSlowlyIsTrafficAndOneItStopsTakingIsIdle() throws Exception {
        Timeouts tunnel = timeouts();
        tunnel.relayed = 1_000_000;
        tunnel.queued = 600_000;
        assertThat(tunnel.at(0.5)).isNull();
        tunnel.queued = 590_000; // 10 kB taken
        assertThat(tunnel.at(1.4)).as("taken within the second").isNull();
        tunnel.queued = 580_000;
        assertThat(tunnel.at(2.3)).isNull();
        assertThat(tunnel.at(3.2)).as("nothing taken since 2.3 s").isNull();
        assertThat(tunnel.at(3.4)).as("nothing taken for 1.1 s").isEqualTo(Reason.IDLE_TIMEOUT);
    }

    @Test
    void withNothingQueuedTheTimeRunsFromTheLastTraffic() throws Exception {
        Timeouts tunnel = timeouts();
        tunnel.relayed = 1_000_000;
        assertThat(tunnel.at(0.9)).isNull();
        assertThat(tunnel.at(1.1)).isEqualTo(Reason.IDLE_TIMEOUT);
    }
}
