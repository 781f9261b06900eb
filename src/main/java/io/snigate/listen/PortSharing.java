package io.snigate.listen;

import io.snigate.config.HostPort;
import io.snigate.metrics.ProxyMetrics;
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
    /** The other processes' sockets on each listener at the last look; only the watch's thread uses it. */
    private final Map<String, Integer> sharedBefore = new HashMap<>();
    private ScheduledExecutorService watch;

    PortSharing(BoundListeners listeners, ProxyMetrics metrics, PortListeners proc, Supplier<String> config) {
        this.listeners = listeners;
        this.metrics = metrics;
        this.proc = proc;
        this.config = config;
    }

    /** Looks once now, and then every {@link #EVERY} until {@link #close}. */
    synchronized void start() {
        look();
        watch = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "snigate-port-watch");
            thread.setDaemon(true);
            return thread;
        });
        watch.scheduleWithFixedDelay(this::lookQuietly, EVERY.toMillis(), EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void lookQuietly() {
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
        sharedBefore.keySet().stream().filter(name -> !now.containsKey(name)).forEach(closed -> metrics.sharedSockets(closed, 0));
        sharedBefore.clear();
        sharedBefore.putAll(now);
    }

    private void said(BoundListeners.Held held) {
        long own = ProcessHandle.current().pid();
        List<PortListeners.Listener> others = proc.on(held.address().getPort()).stream()
                .filter(other -> other.pid() != own).toList();
        String names = others.stream().map(PortListeners.Listener::described).collect(Collectors.joining(", "));
        Path ours = Path.of(config.get()).toAbsolutePath().normalize();
        String address = HostPort.format(held.address());
        if (!others.isEmpty() && others.stream().allMatch(other -> ours.equals(other.snigateConfig()))) {
            LOG.info("listen {} is now also listened on by {}: the kernel splits new connections between it and this"
                    + " one, as when a restart hands over (deploy/README.md)", address, names);
            return;
        }
        LOG.warn("listen {} is now also listened on by another process{}: the kernel gives it a share of the new"
                + " connections, which this snigate never sees. Expected only while a restart hands over"
                + " (deploy/README.md); otherwise stop the other process (ss -ltnp 'sport = :{}')",
                address, others.isEmpty() ? "" : " (" + names + ")", held.address().getPort());
    }

    @Override
    public synchronized void close() {
        if (watch != null) {
            watch.shutdownNow();
        }
    }
}
