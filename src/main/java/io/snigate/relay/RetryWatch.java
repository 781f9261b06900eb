package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import java.util.function.Consumer;

/**
 * A tunnel's {@link HelloRetryCheck} for as long as it has one: until the server's first bytes say
 * no retry comes, or the retried hello passed. Used on the tunnel's event loop only.
 */
final class RetryWatch {
    /** No check: one shared, never changed, so that a tunnel without one costs no object. */
    private static final RetryWatch NONE = new RetryWatch(null);

    private HelloRetryCheck check;

    private RetryWatch(HelloRetryCheck check) {
        this.check = check;
    }

    static RetryWatch of(HelloRetryCheck check) {
        return check == null ? NONE : new RetryWatch(check);
    }

    boolean watching() {
        return check != null;
    }

    boolean holdingClient() {
        return check != null && check.holdingClient();
    }

    /**
     * What of {@code bytes} goes on: all of them, what was held with them once the retried hello
     * passed, or null while held or once refused, when {@code refuse} has been told why.
     * {@code fromServer}: read on the upstream's side.
     */
    ByteBuf passOn(boolean fromServer, ByteBuf bytes, boolean endOfStream, Consumer<Reason> refuse) {
        HelloRetryCheck watched = check;
        if (watched == null) {
            return bytes;
        }
        ByteBuf passed = bytes;
        if (fromServer) {
            watched.serverSent(bytes);
        } else {
            passed = watched.clientSent(bytes, endOfStream);
        }
        if (watched.refused() != null) {
            check = null;
            refuse.accept(watched.refused());
        } else if (watched.over()) {
            check = null;
        }
        return passed;
    }

    /** Releases what is held: the tunnel closed. */
    void release() {
        if (check != null) {
            check.release();
            check = null;
        }
    }
}
