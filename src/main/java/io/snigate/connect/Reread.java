package io.snigate.connect;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Something the lookups depend on that can change under a running proxy (the system's DNS
 * servers, whether the host has IPv6), read at the start and again by {@link #refresh}: never by
 * an event loop, since reading a file or the interfaces is I/O. Each lookup takes the last value
 * read. A read that fails keeps the last value (at the start: the fallback), so a file being
 * rewritten, empty for a moment, changes nothing until the next refresh.
 */
final class Reread<T> implements Supplier<T> {
    /** The one thread every value shared by the process is read again on. */
    private static final ScheduledExecutorService THREAD = Executors.newSingleThreadScheduledExecutor(task -> {
        Thread thread = new Thread(task, "snigate-dns-refresh");
        thread.setDaemon(true);
        return thread;
    });

    private final Supplier<T> read;
    private volatile T last;

    Reread(Supplier<T> read, Supplier<T> fallback) {
        this.read = read;
        T first;
        try {
            first = read.get();
        } catch (RuntimeException unreadable) {
            first = fallback.get();
        }
        this.last = first;
    }

    /** A value read now, and again every {@code seconds} on the refresh thread. */
    static <T> Reread<T> every(long seconds, Supplier<T> read, Supplier<T> fallback) {
        Reread<T> value = new Reread<>(read, fallback);
        THREAD.scheduleWithFixedDelay(value::refresh, seconds, seconds, TimeUnit.SECONDS);
        return value;
    }

    /** Reads the value again; a read that fails keeps the last one. */
    void refresh() {
        try {
            last = read.get();
        } catch (RuntimeException unreadable) {
            // kept: the last value
        }
    }

    @Override
    public T get() {
        return last;
    }
}
