package io.snigate.connect;

import java.io.UncheckedIOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Something the lookups depend on that can change under a running proxy (the system's DNS
 * servers, whether the host has IPv6), read at the start and again by {@link #refresh}: never by
 * an event loop, since reading a file or the interfaces is I/O. Each lookup takes the last value
 * read. A read that fails keeps the last value (at the start: the fallback), so a file being
 * rewritten, empty for a moment, changes nothing until the next refresh. The first failure in a
 * row is said on standard error, and so is the read that succeeds after it.
 */
final class Reread<T> implements Supplier<T> {
    private static final Logger LOG = LoggerFactory.getLogger(Reread.class);
    /** The one thread every value shared by the process is read again on. */
    private static final ScheduledExecutorService THREAD = Executors.newSingleThreadScheduledExecutor(task -> {
        Thread thread = new Thread(task, "snigate-dns-refresh");
        thread.setDaemon(true);
        return thread;
    });

    private final String what;
    private final String meanwhile;
    private final Supplier<T> read;
    private volatile T last;
    /** Whether the last read failed; read and written by one thread at a time (start, then refreshes). */
    private boolean failing;

    /**
     * @param what what is read, as a line on standard error names it
     * @param meanwhile what the fallback means, as that line says it
     * @param read reads it; throws {@link UncheckedIOException} when it cannot be read, or
     *     {@link IllegalArgumentException} when what it read names nothing usable
     */
    Reread(String what, String meanwhile, Supplier<T> read, Supplier<T> fallback) {
        this.what = what;
        this.meanwhile = meanwhile;
        this.read = read;
        T first;
        try {
            first = read.get();
        } catch (UncheckedIOException | IllegalArgumentException unreadable) {
            first = fallback.get();
            failing = true;
            LOG.warn("cannot read {} ({}): {} until it can be read", what, why(unreadable), meanwhile);
        } catch (RuntimeException bug) {
            // A bug in the reader: said, and the start goes on with the fallback, as a refresh
            // would keep what it had (thrown on, it would fail a static holder for good).
            first = fallback.get();
            failing = true;
            LOG.warn("reading {} failed: {} until it can be read", what, meanwhile, bug);
        }
        this.last = first;
    }

    /** A value read now, and again every {@code seconds} on the refresh thread. */
    static <T> Reread<T> every(long seconds, String what, String meanwhile, Supplier<T> read, Supplier<T> fallback) {
        Reread<T> value = new Reread<>(what, meanwhile, read, fallback);
        THREAD.scheduleWithFixedDelay(value::refresh, seconds, seconds, TimeUnit.SECONDS);
        return value;
    }

    /** Reads the value again; a read that fails keeps the last one. */
    void refresh() {
        try {
            last = read.get();
            if (failing) {
                failing = false;
                LOG.info("{} can be read again", what);
            }
        } catch (UncheckedIOException | IllegalArgumentException unreadable) {
            if (!failing) {
                failing = true;
                LOG.warn("cannot read {} ({}): keeping what was read before until it can be read", what,
                        why(unreadable));
            }
        } catch (RuntimeException bug) {
            // A bug in the reader. Thrown on, it would end the refreshes for good (a scheduled task
            // that throws is never run again), with nothing said.
            LOG.warn("reading {} failed; keeping what was read before", what, bug);
        }
    }

    /** The reader's own words: those of the I/O error an {@link UncheckedIOException} carries. */
    private static String why(RuntimeException unreadable) {
        return unreadable instanceof UncheckedIOException io ? io.getCause().getMessage() : unreadable.getMessage();
    }

    @Override
    public T get() {
        return last;
    }
}
