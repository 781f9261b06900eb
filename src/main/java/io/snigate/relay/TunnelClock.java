package io.snigate.relay;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.core.Reason;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The idle and half-closed timeouts of every tunnel on one event loop, kept by one periodic sweep
 * instead of a scheduled task per tunnel. A tunnel only records when it last saw traffic; the
 * sweep closes the ones whose time is up. Joining and leaving are two pointer updates, so a
 * short connection pays no timer at all, and an open tunnel holds three fields instead of an
 * {@code IdleStateHandler}, its pipeline context and a timer task (about 300 bytes).
 *
 * <p>A timeout fires between its deadline and one tick later. The tick is a quarter of the
 * shortest timeout of any tunnel that joined, between 10 ms and 1 s; a join that needs a shorter
 * one brings the next sweep forward. Once a tunnel has joined, the sweep runs every tick for as
 * long as the loop does, with tunnels or without, so a join never finds it stopped: a branch
 * taken only by a loop's first tunnel after an idle moment is one the JIT compiles as never taken,
 * and taking it deoptimises the whole hot path and recompiles it on the loop's core (performance
 * page, "The open-loop tail, by thread on the core"). An idle loop wakes once a tick for it.
 * Only the event loop's own thread touches a clock, so nothing here is locked.
 */
final class TunnelClock {
    private static final Logger LOG = LoggerFactory.getLogger(TunnelClock.class);
    private static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static final FastThreadLocal<TunnelClock> PER_LOOP = new FastThreadLocal<>();

    private final EventLoop loop;
    private final Runnable sweep = this::sweep;
    /** The sentinel of a circular doubly linked list of the tunnels on this loop. */
    private final Entry tunnels = new Entry() {
        @Override
        boolean isOpen() {
            return true;
        }

        @Override
        Reason expiredAt(long nowNanos) {
            return null;
        }

        @Override
        void close(Reason reason) {}
    };
    private long tickNanos = MAX_TICK_NANOS;
    /** The sweep to come; null until the first tunnel joined. */
    private ScheduledFuture<?> nextSweep;

    private TunnelClock(EventLoop loop) {
        this.loop = loop;
    }

    /** The clock of {@code loop}; must be called on that loop's thread. */
    static TunnelClock of(EventLoop loop) {
        TunnelClock clock = PER_LOOP.get();
        if (clock == null) {
            clock = new TunnelClock(loop);
            PER_LOOP.set(clock);
        }
        return clock;
    }

    /** Starts watching {@code tunnel}, which has at least one timeout. */
    void join(Entry tunnel, long shortestTimeoutNanos) {
        tunnel.linkAfter(tunnels);
        long tick = Math.max(MIN_TICK_NANOS, shortestTimeoutNanos / 4);
        if (tick < tickNanos || nextSweep == null) { // the first join, or shorter timeouts than before
            tickNanos = Math.min(tickNanos, tick);
            if (nextSweep != null) {
                nextSweep.cancel(false);
            }
            nextSweep = loop.schedule(sweep, tickNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Whether a sweep is to come; asked on the loop. */
    boolean sweepScheduled() {
        return nextSweep != null && !nextSweep.isDone();
    }

    private void sweep() {
        try {
            long now = System.nanoTime();
            Entry tunnel = tunnels.next;
            while (tunnel != tunnels) {
                Entry next = tunnel.next;
                try {
                    if (!tunnel.isOpen()) {
                        // Closed before its relay handlers were in place to say so.
                        tunnel.unlink();
                    } else {
                        Reason expired = tunnel.expiredAt(now);
                        if (expired != null) {
                            tunnel.unlink();
                            tunnel.close(expired);
                        }
                    }
                } catch (RuntimeException unexpected) {
                    // A bug in one tunnel's close: the others' timeouts still run.
                    LOG.warn("a timed-out tunnel left the clock after an unexpected error", unexpected);
                    tunnel.unlink();
                }
                tunnel = next;
            }
        } finally {
            // A scheduled task that throws is not run again: every tunnel here would lose its timeouts.
            if (!loop.isShuttingDown()) {
                nextSweep = loop.schedule(sweep, tickNanos, TimeUnit.NANOSECONDS);
            }
        }
    }

    /** What the clock keeps per tunnel: its place in the list, and when it is due. */
    abstract static class Entry {
        private Entry prev = this;
        private Entry next = this;

        abstract boolean isOpen();

        /** The reason to close at {@code nowNanos}, or null while the tunnel has time left. */
        abstract Reason expiredAt(long nowNanos);

        abstract void close(Reason reason);

        private void linkAfter(Entry head) {
            if (next != this) {
                return;
            }
            prev = head;
            next = head.next;
            head.next.prev = this;
            head.next = this;
        }

        /** Leaves the clock; harmless when not on one. */
        final void unlink() {
            prev.next = next;
            next.prev = prev;
            prev = this;
            next = this;
        }
    }
}
