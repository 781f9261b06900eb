package io.snigate.listen;

import io.snigate.config.HostPort;
import io.snigate.metrics.ProxyMetrics;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches whether another process has joined a listener's address. Every socket listens with
 * {@code SO_REUSEPORT}, so any process of the same user that binds the address later takes a share
 * of its new connections, routed by its own config; the joiner is told at its bind
 * ({@link BindChecks}), and this snigate, which loses the connections, is told here: the count of
 * the other processes' sockets on each listener's address as a metric, and a line when sharing
 * starts and ends. {@code /proc} is read on a thread of its own every {@link #EVERY}, never on an
 * event loop.
 */
final class PortSharing implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PortSharing.class);
    static final Duration EVERY = Duration.ofSeconds(10);

    private final BoundListeners listeners;
    private final ProxyMetrics metrics;
    private final PortListeners proc;
    /** The config file this process was given, as another snigate's is compared with it. */
    private final Supplier<String> config;
    /** The other processes' sockets on each listener at the last look; guarded by this object's monitor. */
    private final Map<String, Integer> sharedBefore = new HashMap<>();
    private volatile ScheduledExecutorService watch;
    private volatile boolean closed;
    /**
     * A snigate on the same config listened on the admin address before this one bound it: the
     * process this one replaces (a restart handing over), which answers {@code /metrics} until it
     * leaves the address, so that a scrape never gets the two processes' counters in turn.
     */
    private volatile boolean predecessorOnAdmin;

    PortSharing(BoundListeners listeners, ProxyMetrics metrics, PortListeners proc, Supplier<String> config) {
        this.listeners = listeners;
        this.metrics = metrics;
        this.proc = proc;
        this.config = config;
    }

    /** Before the admin endpoint binds {@code admin}: whether the process this one replaces is there. */
    void beforeAdminBind(InetSocketAddress admin) {
        if (admin.getPort() != 0 && proc.listeningOn(admin) > 0) {
            List<PortListeners.Listener> others = others(admin.getPort());
            predecessorOnAdmin = !others.isEmpty() && others.stream().allMatch(this::onOurConfig);
        }
    }

    /** Whether this process answers {@code /metrics}: not while the process it replaces still does. */
    boolean answersMetrics() {
        return !predecessorOnAdmin;
    }

    /** Whether another process listens on {@code address} too (this one holds one socket there). */
    boolean sharedWithAnother(InetSocketAddress address) {
        return proc.listeningOn(address) > 1;
    }

    /**
     * Looks once now, and then every {@link #EVERY} until {@link #close}; while the process this
     * one replaces listens on {@code admin}, looks there every second.
     */
    synchronized void start(InetSocketAddress admin) {
        look();
        watch = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "snigate-port-watch");
            thread.setDaemon(true);
            return thread;
        });
        watch.scheduleWithFixedDelay(this::lookQuietly, EVERY.toMillis(), EVERY.toMillis(), TimeUnit.MILLISECONDS);
        if (predecessorOnAdmin) {
            watch.scheduleWithFixedDelay(() -> {
                if (predecessorOnAdmin && !sharedWithAnother(admin)) {
                    predecessorOnAdmin = false;
                    LOG.info("admin {}: the snigate this one replaces has left it; /metrics is answered here",
                            HostPort.format(admin));
                }
            }, 1, 1, TimeUnit.SECONDS);
        }
    }

    private List<PortListeners.Listener> others(int port) {
        long own = ProcessHandle.current().pid();
        return proc.on(port).stream().filter(other -> other.pid() != own).toList();
    }

    private boolean onOurConfig(PortListeners.Listener other) {
        return other.runs(Path.of(config.get()));
    }

    private void lookQuietly() {
        if (closed) {
            return;
        }
        try {
            look();
        } catch (RuntimeException e) {
            LOG.warn("could not look for other processes on the listen addresses: {}", e.toString());
        }
    }

    /**
     * Counts the other processes' sockets on every listener's address, and says when a listener
     * seen before starts or stops sharing: a listener's first look was said at its bind.
     */
    synchronized void look() {
        Map<String, Integer> now = new HashMap<>();
        for (BoundListeners.Held held : listeners.held()) {
            int others = Math.max(0, proc.listeningOn(held.address()) - held.sockets());
            metrics.sharedSockets(held.name(), others);
            Integer before = sharedBefore.get(held.name());
            if (before != null && before == 0 && others > 0) {
                said(held);
            } else if (before != null && before > 0 && others == 0) {
                LOG.info("listen {} is no longer shared with another process", HostPort.format(held.address()));
            }
            now.put(held.name(), others);
        }
        sharedBefore.clear();
        sharedBefore.putAll(now);
    }

    private void said(BoundListeners.Held held) {
        List<PortListeners.Listener> others = others(held.address().getPort());
        String names = others.stream().map(PortListeners.Listener::described).collect(Collectors.joining(", "));
        String address = HostPort.format(held.address());
        if (!others.isEmpty() && others.stream().allMatch(this::onOurConfig)) {
            LOG.info("listen {} is now also listened on by {}: the kernel splits new connections between it and this"
                    + " one, as when a restart hands over (deploy/README.md)", address, names);
            return;
        }
        LOG.warn("listen {} is now also listened on by another process{}: the kernel gives it a share of the new"
                + " connections, which this snigate never sees. Expected only while a restart hands over"
                + " (deploy/README.md); otherwise stop the other process (ss -ltnp 'sport = :{}')",
                address, others.isEmpty() ? "" : " (" + names + ")", held.address().getPort());
    }

    /**
     * Stops the watch without waiting for a look under way: at a restart's hand-over that look
     * may be reading every process's descriptors, and a drain must not wait for it.
     */
    @Override
    public void close() {
        closed = true;
        ScheduledExecutorService running = watch;
        if (running != null) {
            running.shutdownNow();
        }
    }
}
