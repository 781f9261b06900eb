package io.snigate.listen;

import io.netty.channel.EventLoopGroup;
import io.snigate.config.ConfigException;
import io.snigate.config.HostPort;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.transport.Transport;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's bound listeners, by the listen address as written in the config: bound at start,
 * bound, changed and closed by a reload, closed by a drain or a close. A listener's open
 * connections are not its own: they go on after it closes.
 */
final class BoundListeners {
    private static final Logger LOG = LoggerFactory.getLogger(BoundListeners.class);

    private final Map<String, ListenerSockets> bound = new LinkedHashMap<>();
    private final EventLoopGroup workers;
    private final Transport transport;
    private final ProxyMetrics metrics;
    /** The pipeline's initializer for the connections a listener accepts. */
    private final Function<Listener, ClientInitializer> initializers;
    /** The file of the config in force, named when a bind fails. */
    private final Supplier<String> source;

    BoundListeners(EventLoopGroup workers, Transport transport, ProxyMetrics metrics,
            Function<Listener, ClientInitializer> initializers, Supplier<String> source) {
        this.workers = workers;
        this.transport = transport;
        this.metrics = metrics;
        this.initializers = initializers;
        this.source = source;
    }

    synchronized void bind(Listener listener) throws InterruptedException, ConfigException {
        String name = listener.name();
        metrics.registerListener(name, listener.isTransparent());
        ClientInitializer initializer = initializers.apply(listener);
        // A reload that re-spells a listener (127.0.0.1:P as 0.0.0.0:P) binds it while this
        // process still holds the old one: not another process.
        if (bound.values().stream().noneMatch(held -> held.address().getPort() == listener.address().port())) {
            BindChecks.warnIfServed(listener.address().toResolvedLiteral(), "listen", source.get());
        }
        ListenerSockets sockets = ListenerSockets.bind(listener, workers, transport, initializer, source.get());
        bound.put(name, sockets);
        LOG.info("listening on {}{}", HostPort.format(sockets.address()),
                listener.isTransparent() ? " (original_dst: " + listener.originalDst().label() + ")" : "");
    }

    /**
     * Binds the listen addresses {@code config} adds and changes those whose settings it changes,
     * all or none: when one fails, those bound are closed and those changed changed back. Then the
     * connections each listener accepts are set up by its settings in {@code config}.
     *
     * @throws ConfigException if a new listen address cannot be bound, or a changed one cannot
     *     take its new settings
     */
    synchronized void apply(ProxyConfig config) throws InterruptedException, ConfigException {
        List<String> added = new ArrayList<>();
        List<Runnable> undo = new ArrayList<>();
        try {
            for (Listener listener : config.listeners()) {
                ListenerSockets existing = bound.get(listener.name());
                if (existing == null) {
                    bind(listener);
                    added.add(listener.name());
                } else if (!existing.initializer().listener().equals(listener)) {
                    Listener before = existing.initializer().listener();
                    existing.change(before, listener, config.source());
                    undo.add(() -> existing.changeBack(listener, before));
                }
            }
        } catch (RuntimeException | InterruptedException | ConfigException e) {
            added.forEach(name -> bound.remove(name).close());
            undo.forEach(Runnable::run);
            metrics.retireListenersOtherThan(bound.keySet());
            throw e;
        }
        for (Listener listener : config.listeners()) {
            ClientInitializer initializer = bound.get(listener.name()).initializer();
            Listener before = initializer.listener();
            if (before.originalDst() != listener.originalDst()) {
                // The firewall rules that send the listener its connections do not change with it.
                LOG.warn("listener {} changed original_dst from {} to {}: change the firewall rules that send it"
                        + " connections with it", listener.name(), before.originalDst().label(), listener.originalDst().label());
            }
            initializer.listener(listener);
        }
    }

    /** Closes the listeners {@code config} does not have. */
    synchronized void closeOthers(ProxyConfig config) {
        List<String> kept = config.listeners().stream().map(Listener::name).toList();
        bound.entrySet().removeIf(entry -> {
            if (kept.contains(entry.getKey())) {
                return false;
            }
            LOG.info("closing listener {}", entry.getKey());
            entry.getValue().close();
            return true;
        });
        metrics.retireListenersOtherThan(bound.keySet());
    }

    /** Closes every listener; their addresses stay in {@link #addresses}. */
    synchronized void closeAll() {
        bound.values().forEach(ListenerSockets::close);
    }

    /** Closes every listener, and {@link #addresses} is empty from now on. */
    synchronized void closeAndForgetAll() {
        closeAll();
        bound.clear();
    }

    /** A listener bound now: its name as written, its address, and how many sockets listen there. */
    record Held(String name, InetSocketAddress address, int sockets) {}

    synchronized List<Held> held() {
        return bound.entrySet().stream()
                .map(entry -> new Held(entry.getKey(), entry.getValue().address(), entry.getValue().count()))
                .toList();
    }

    synchronized List<InetSocketAddress> addresses() {
        return bound.values().stream().map(ListenerSockets::address).toList();
    }
}
