package io.snigate.connect;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The one thread on which what the lookups depend on is looked at again: the system's DNS servers,
 * whether the host has IPv6. Never an event loop: reading a file or the interfaces is I/O.
 */
final class DnsRefresher {
    private static final ScheduledExecutorService THREAD = Executors.newSingleThreadScheduledExecutor(task -> {
        Thread thread = new Thread(task, "snigate-dns-refresh");
        thread.setDaemon(true);
        return thread;
    });

    private DnsRefresher() {}

    /** Runs {@code task} every {@code seconds}, the first time after that long. */
    static void every(long seconds, Runnable task) {
        THREAD.scheduleWithFixedDelay(task, seconds, seconds, TimeUnit.SECONDS);
    }
}
