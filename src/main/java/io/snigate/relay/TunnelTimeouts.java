package io.snigate.relay;

import io.netty.channel.EventLoop;
import io.snigate.core.Reason;
import java.util.concurrent.TimeUnit;

/**
 * A tunnel's idle and half-closed timeouts, kept on its loop's {@link TunnelClock}: the tunnel
 * records traffic and its first FIN, the clock's sweep asks whether time is up.
 */
abstract class TunnelTimeouts extends TunnelClock.Entry {
    private final long idleTimeoutNanos;
    private final long halfClosedTimeoutNanos;
    private long lastTrafficNanos;
    /** When the first side sent FIN, or 0 while neither has. */
    private long halfClosedSinceNanos;
    /** What had been handed to the kernel either way at the sweep's last look with bytes queued. */
    private long sentAtLastLook;

    /** Joins {@code loop}'s clock if either timeout is set; on that loop's thread. */
    TunnelTimeouts(EventLoop loop, long idleTimeoutMillis, long halfClosedTimeoutMillis) {
        this.idleTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(idleTimeoutMillis);
        this.halfClosedTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(halfClosedTimeoutMillis);
        this.lastTrafficNanos = System.nanoTime();
        long shortest = idleTimeoutNanos <= 0 ? halfClosedTimeoutNanos
                : halfClosedTimeoutNanos <= 0 ? idleTimeoutNanos : Math.min(idleTimeoutNanos, halfClosedTimeoutNanos);
        if (shortest > 0) {
            TunnelClock.of(loop).join(this, shortest);
        }
    }

    /** Bytes moved in either direction: the tunnel is not idle, nor a half-closed one left hanging. */
    final void sawTraffic() {
        if (idleTimeoutNanos > 0 || halfClosedTimeoutNanos > 0) {
            lastTrafficNanos = System.nanoTime();
        }
    }

    /** One side sent FIN; the half-closed timeout runs from the first, or from the last byte since. */
    final void halfClosed() {
        if (halfClosedSinceNanos == 0) {
            halfClosedSinceNanos = System.nanoTime() | 1; // never 0, which means "not half-closed"
        }
    }

    /** Bytes relayed either way: taken to be sent to the other side, sent or still queued. */
    abstract long relayedBytes();

    /** Bytes still queued in the proxy to be sent, to either side. */
    abstract long queuedBytes();

    @Override
    final Reason expiredAt(long nowNanos) {
        // A receiver taking a backlog slowly moves no byte the relay reads, and still it is
        // traffic: a slow download is not idle while it drains (nginx's and HAProxy's timeouts
        // run between successful reads or writes too).
        long queued = queuedBytes();
        if (queued > 0) {
            long sent = relayedBytes() - queued;
            if (sent != sentAtLastLook) {
                sentAtLastLook = sent;
                lastTrafficNanos = nowNanos;
            }
        }
        if (idleTimeoutNanos > 0 && nowNanos - lastTrafficNanos >= idleTimeoutNanos) {
            return Reason.IDLE_TIMEOUT;
        }
        // A peer that never closes its side must not hold the tunnel, and two sockets, forever;
        // one still sending is not that peer (HAProxy's client-fin and server-fin are inactivity
        // timeouts too), so the time runs from the FIN or from the last byte after it.
        if (halfClosedSinceNanos != 0 && halfClosedTimeoutNanos > 0) {
            long quietSince = lastTrafficNanos - halfClosedSinceNanos > 0 ? lastTrafficNanos : halfClosedSinceNanos;
            if (nowNanos - quietSince >= halfClosedTimeoutNanos) {
                return Reason.HALF_CLOSED_TIMEOUT;
            }
        }
        return null;
    }
}
