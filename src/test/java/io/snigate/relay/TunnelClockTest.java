package io.snigate.relay;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.snigate.core.Reason;
import io.snigate.testing.PipelineTails;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TunnelClockTest {
    private final EventLoop loop = new DefaultEventLoop();

    @AfterEach
    void stop() throws InterruptedException {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }

    /** A tunnel whose time is up {@code timeoutMillis} after it joined; completes with when it was closed. */
    private final class Tunnel extends TunnelClock.Entry {
        final long joinedNanos = System.nanoTime();
        final long timeoutNanos;
        final CompletableFuture<Long> closedAfterMillis = new CompletableFuture<>();
        volatile boolean open = true;
        volatile boolean throwsOnClose;

        Tunnel(long timeoutMillis) {
            timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        }

        @Override
        boolean isOpen() {
            return open;
        }

        @Override
        Reason expiredAt(long nowNanos) {
            return nowNanos - joinedNanos >= timeoutNanos ? Reason.IDLE_TIMEOUT : null;
        }

        @Override
        void close(Reason reason) {
            if (throwsOnClose) {
                throw new IllegalStateException("a bug in this tunnel's close");
            }
            closedAfterMillis.complete(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - joinedNanos));
        }
    }

    private Tunnel join(long timeoutMillis) throws Exception {
        return loop.submit(() -> {
            Tunnel tunnel = new Tunnel(timeoutMillis);
            TunnelClock.of(loop).join(tunnel, tunnel.timeoutNanos);
            return tunnel;
        }).get(5, TimeUnit.SECONDS);
    }

    @Test
    void aTunnelIsClosedBetweenItsDeadlineAndATickLater() throws Exception {
        long after = join(400).closedAfterMillis.get(5, TimeUnit.SECONDS);

        assertTrue(after >= 400 && after < 400 + 100 + 500, "closed after " + after + " ms (tick 100 ms, 500 ms of slack)");
    }

    @Test
    void aShorterTimeoutBringsTheNextSweepForward() throws Exception {
        Tunnel slow = join(4_000); // a tick of 1 s, the sweep a second away
        long after = join(100).closedAfterMillis.get(5, TimeUnit.SECONDS);

        // Not brought forward, it would close at that sweep, about 1,000 ms after joining.
        assertTrue(after >= 100 && after < 100 + 25 + 750, "closed after " + after + " ms, not at the first tick's sweep");
        assertFalse(slow.closedAfterMillis.isDone());
    }

    @Test
    void theSweepGoesOnWhenTheLoopHasNoTunnelLeft() throws Exception {
        join(200).closedAfterMillis.get(5, TimeUnit.SECONDS);

        // Asked after the sweep that closed the loop's last tunnel has ended.
        assertTrue(loop.submit(() -> TunnelClock.of(loop).sweepScheduled()).get(5, TimeUnit.SECONDS));
        long after = join(200).closedAfterMillis.get(5, TimeUnit.SECONDS);
        assertTrue(after >= 200 && after < 200 + 50 + 500, "closed after " + after + " ms");
    }

    @Test
    void aClosedTunnelLeavesWithoutBeingClosedAgain() throws Exception {
        Tunnel gone = join(100);
        gone.open = false;
        Tunnel other = join(100);

        other.closedAfterMillis.get(5, TimeUnit.SECONDS);
        loop.submit(() -> { }).get(5, TimeUnit.SECONDS); // the sweep that closed the other one has ended
        assertFalse(gone.closedAfterMillis.isDone());
    }

    @Test
    void aTunnelWhoseCloseThrowsStopsNeitherTheOthersNorLaterSweeps() throws Exception {
        PipelineTails.expectInThisClass("left the clock after an unexpected error", "a bug in this tunnel's close");
        Tunnel sameSweep = join(100);
        Tunnel broken = loop.submit(() -> { // swept first: the last to join is first in the list
            Tunnel tunnel = new Tunnel(100);
            tunnel.throwsOnClose = true;
            TunnelClock.of(loop).join(tunnel, tunnel.timeoutNanos);
            return tunnel;
        }).get(5, TimeUnit.SECONDS);

        sameSweep.closedAfterMillis.get(5, TimeUnit.SECONDS);
        assertTrue(loop.submit(() -> TunnelClock.of(loop).sweepScheduled()).get(5, TimeUnit.SECONDS));
        long after = join(100).closedAfterMillis.get(5, TimeUnit.SECONDS);
        assertTrue(after >= 100 && after < 100 + 25 + 500, "closed after " + after + " ms");
        assertFalse(broken.closedAfterMillis.isDone());
    }
}
