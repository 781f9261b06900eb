package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import java.util.concurrent.TimeUnit;

/**
 * A tunnel's {@link HelloRetryCheck} for as long as it has one: until the server's first bytes say
 * no retry comes, or the retried hello passed. After a retry request the second hello has the
 * pre-read's time to come whole, as the first had: a client that stalls there holds a connection
 * and what it sent of the hello, and the pre-read's budget does not count it. Used on the tunnel's
 * event loop only.
 */
final class RetryWatch {
    /** No check: one shared, never changed, so that a tunnel without one costs no object. */
    private static final RetryWatch NONE = new RetryWatch(null, null, null);

    private HelloRetryCheck check;
    private final EventExecutor loop;
    /** The tunnel, ended for a refused hello or one that did not come in time. */
    private final TunnelClock.Entry tunnel;
    private ScheduledFuture<?> deadline;

    private RetryWatch(HelloRetryCheck check, EventExecutor loop, TunnelClock.Entry tunnel) {
        this.check = check;
        this.loop = loop;
        this.tunnel = tunnel;
    }

    static RetryWatch of(HelloRetryCheck check, EventExecutor loop, TunnelClock.Entry tunnel) {
        return check == null ? NONE : new RetryWatch(check, loop, tunnel);
    }

    boolean watching() {
        return check != null;
    }

    boolean holdingClient() {
        return check != null && check.holdingClient();
    }

    /**
     * What of {@code bytes} goes on: all of them, what was held with them once the retried hello
     * passed, or null while held or once refused, when the tunnel has been ended with the reason.
     * {@code fromServer}: read on the upstream's side.
     */
    ByteBuf passOn(boolean fromServer, ByteBuf bytes, boolean endOfStream) {
        HelloRetryCheck watched = check;
        if (watched == null) {
            return bytes;
        }
        ByteBuf passed = bytes;
        if (fromServer) {
            watched.serverSent(bytes);
            if (deadline == null && watched.awaitingSecondHello()) {
                deadline = loop.schedule(this::secondHelloLate, watched.secondHelloWithinMillis(), TimeUnit.MILLISECONDS);
            }
        } else {
            passed = watched.clientSent(bytes, endOfStream);
        }
        if (watched.refused() != null) {
            stop();
            tunnel.close(watched.refused());
        } else if (watched.over()) {
            stop();
        }
        return passed;
    }

    private void secondHelloLate() {
        if (check != null && check.awaitingSecondHello()) {
            release();
            tunnel.close(Reason.PREREAD_TIMEOUT);
        }
    }

    /** The check is over: nothing more to watch or time. */
    private void stop() {
        check = null;
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    /** Releases what is held: the tunnel closed. */
    void release() {
        if (check != null) {
            check.release();
        }
        stop();
    }
}
