package io.snigate.core;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A gate for a line on standard error that may be due on every connection, so that it is said at
 * most once a second. Any number of event loops may ask at once, without a lock: of those asking
 * in the same second, the one whose compare-and-set wins says it.
 */
public final class OncePerSecond {
    private static final long SECOND_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final LongSupplier nanoTime;
    /** When the line was last due, in {@link #nanoTime}; 0 before the first time. */
    private final AtomicLong dueAt = new AtomicLong();

    public OncePerSecond() {
        this(System::nanoTime);
    }

    OncePerSecond(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** Whether the caller is to say the line now: at most once a second, whichever thread asks. */
    public boolean due() {
        long now = nanoTime.getAsLong();
        long last = dueAt.get();
        return (last == 0 || now - last >= SECOND_NANOS) && dueAt.compareAndSet(last, now);
    }
}
