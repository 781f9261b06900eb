package io.snigate.listen;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.snigate.admin.AdminServer;
import io.snigate.config.ConfigException;
import io.snigate.config.HostPort;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.connect.AddressLookups;
import io.snigate.connect.ConnectStage;
import io.snigate.connect.CountedDnsCache;
import io.snigate.connect.DestinationPolicy;
import io.snigate.connect.Resolvers;
import io.snigate.connect.UpstreamDials;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.Reason;
import io.snigate.core.Version;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.route.RouteHandler;
import io.snigate.route.RouteTable;
import io.snigate.transport.EventLoops;
import io.snigate.transport.Transport;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy: its listeners ({@link BoundListeners}), its event loops and the admin endpoint. The
 * life of a connection is put together stage by stage, each connection's pipeline by
 * {@link ClientInitializer}:
 *
 * <ol>
 *   <li><b>accept</b> — a listener accepts; its {@link ClientInitializer} starts the record, reads
 *       the original destination on a transparent listener, and applies the connection limits;
 *   <li><b>pre-read</b> — {@code PrereadHandler} buffers and classifies the ClientHello;
 *   <li><b>route</b> — {@link RouteHandler} consults the current {@link RouteTable};
 *   <li><b>connect</b> — {@link ConnectStage} resolves and dials the upstream;
 *   <li><b>relay</b> — the pre-read and route handlers leave the pipeline, the buffered bytes go
 *       upstream, and both sides relay until done;
 *   <li><b>close and log</b> — when the client channel closes, its record becomes an access-log
 *       line and metrics.
 * </ol>
 *
 * A connection that fails any stage is refused by {@link io.snigate.core.Rejection}.
 */
public final class ProxyServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyServer.class);
    /** How long {@link #close()} waits for each group of event loops to stop. */
    private static final Duration LOOPS_STOP_WAIT = Duration.ofSeconds(10);

    private final AtomicReference<ActiveConfig> active;
    private final AtomicReference<DestinationPolicy> destinationPolicy =
            new AtomicReference<>(DestinationPolicy.beforeStart());
    private final ProxyMetrics metrics;
    private final Transport transport;
    private final EventLoopGroup workers;
    private final EventLoopGroup adminLoop;
    private final AddressLookups lookups;
    private final CountedDnsCache dnsCache;
    private final BoundListeners listeners;
    private final PortSharing portSharing;
    /** Every open client connection, so that a drain can wait for them and a reload judge them again. */
    private final OpenConnections clients = new OpenConnections();
    private AdminServer adminServer;
    private Channel admin;
    private volatile boolean ready;
    /** Set once by {@link #drain}, under this object's lock, as {@link #reload} reads it. */
    private boolean draining;

    /** @param accessLog where the access log's lines go; it must not block an event loop */
    public ProxyServer(ProxyConfig config, ProxyMetrics metrics, Consumer<String> accessLog, Transport transport) {
        this(config, metrics, accessLog, null, transport);
    }

    /**
     * @param alsoTold null, or told of every connection's events after the proxy's own observers
     *     (a benchmark's clock)
     */
    public ProxyServer(ProxyConfig config, ProxyMetrics metrics, Consumer<String> accessLog, ConnectionObserver alsoTold,
            Transport transport) {
        this.active = new AtomicReference<>(new ActiveConfig(config));
        this.metrics = metrics;
        this.transport = transport;
        this.workers = transport.newEventLoopGroup(Runtime.getRuntime().availableProcessors());
        this.adminLoop = transport.forAdmin().newEventLoopGroup(1);
        this.dnsCache = new CountedDnsCache();
        dnsCache.keepConfigured(config);
        metrics.registerDnsCache(dnsCache::size);
        this.lookups = Resolvers.lookups(config, transport, dnsCache);
        ConnectionStages stages = new ConnectionStages(active::get, metrics, accessLog, alsoTold, transport, lookups,
                destinationPolicy::get);
        this.listeners = new BoundListeners(workers, transport, metrics,
                listener -> new ClientInitializer(listener, () -> active.get().config(), stages.limits, stages.observer,
                        metrics, stages.routeHandler, clients),
                () -> active.get().config().source());
        this.portSharing = new PortSharing(listeners, metrics, new PortListeners(Path.of("/proc")),
                () -> active.get().config().source());
    }

    /**
     * Binds every listener and the admin endpoint; the proxy is ready when this returns.
     *
     * @throws ConfigException when the config asks for what this process cannot do here (a
     *     transparent listener without the capability or the native transport it needs)
     */
    public ProxyServer start() throws InterruptedException, ConfigException {
        ProxyConfig config = active.get().config();
        LOG.info("transport: {} ({}); clients accepted {}; direct upstreams: {}", transport.name(), transport.why(),
                ListenerSockets.accepts(transport), UpstreamDials.directUpstreams(transport));
        Interception.checkPossible(config, transport);
        metrics.registerBuildInfo(Version.current(), transport.name());
        for (Listener listener : config.listeners()) {
            listeners.bind(listener);
        }
        metrics.registerRoutes(RouteTable.labelsOf(config));
        ConfigNotices.publish(config, metrics);
        destinationPolicy.set(DestinationPolicy.forListeners(listenAddresses(), config.nat64Prefixes()));
        InetSocketAddress adminAddress = config.admin().toResolvedLiteral();
        BindChecks.warnIfServed(adminAddress, "admin", config.source());
        portSharing.beforeAdminBind(adminAddress);
        try {
            adminServer = new AdminServer(metrics.registry(), () -> ready, this::loopsRun, portSharing::answersMetrics);
            admin = adminServer.bind(adminLoop, transport.forAdmin(), adminAddress);
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) { // Netty's bind throws the system call's IOException unchecked
            throw BindChecks.failed(config.source(), config.adminLine(), "serve admin", adminAddress, e);
        }
        LOG.info("admin endpoint on http://{}/ (/metrics, /healthz, /readyz)", HostPort.format(adminAddress()));
        portSharing.start(adminAddress());
        ready = true;
        return this;
    }

    /**
     * Swaps in a new, already validated config. Connections already routed keep their upstream,
     * unless the new config refuses them ({@link OpenConnections#closeRefused}); connections still
     * in pre-read use the new table when they are routed. Listen addresses that appear are bound
     * and those that disappear are closed (their open connections go on).
     *
     * @return false, changing nothing, once the proxy is draining: a stopping proxy binds no
     *     listener again
     * @throws InterruptedException if interrupted while binding
     * @throws ConfigException if a new listen address cannot be bound (its address, the reason and
     *     the fix), or the config asks what this process cannot do; the config is then not swapped
     */
    public synchronized boolean reload(ProxyConfig config) throws InterruptedException, ConfigException {
        if (draining) {
            return false;
        }
        Interception.checkPossible(config, transport);
        listeners.apply(config);
        // The new routes' meters exist before any connection can be routed by them: one that
        // ended first would make them on its event loop, under the registry's lock.
        List<String> routeLabels = RouteTable.labelsOf(config);
        metrics.registerRoutes(routeLabels);
        ActiveConfig next = new ActiveConfig(config);
        ProxyConfig previous = active.getAndSet(next).config();
        metrics.retireRoutesOtherThan(routeLabels);
        ConfigNotices.publish(config, metrics);
        dnsCache.keepConfigured(config);
        ConfigNotices.untilRestart(previous, config);
        listeners.closeOthers(config);
        destinationPolicy.set(DestinationPolicy.forListeners(listenAddresses(), config.nat64Prefixes()));
        if (config.policy().recheckOnReload()) {
            clients.closeRefused(config, next.routes(), destinationPolicy.get());
        }
        return true;
    }

    /**
     * Graceful drain: stop accepting, turn /readyz to 503, let open connections finish for up to
     * {@code timeout}, then close what remains. Blocks the calling thread, never an event loop.
     */
    public void drain(Duration timeout) throws InterruptedException {
        ready = false;
        synchronized (this) {
            draining = true;
            portSharing.close();
            listeners.closeAndForgetAll();
            InetSocketAddress adminAddress = admin == null ? null : adminAddress();
            if (adminAddress != null && portSharing.sharedWithAnother(adminAddress)) {
                // The process taking over answers scrapes and probes alone from now: two
                // processes answering in turn would make counters step back and forth.
                adminServer.close();
                LOG.info("admin {}: closed, as another process listens there too (a restart handing over)",
                        HostPort.format(adminAddress));
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        LOG.info("draining {} open connections for up to {} ms", clients.size(), timeout.toMillis());
        while (!clients.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        if (!clients.isEmpty()) {
            LOG.info("drain timeout: closing {} connections still open", clients.size());
            clients.closeAll(Reason.DRAIN_TIMEOUT);
        }
    }

    /**
     * Whether every event loop still runs: a loop whose thread an error ended would leave its
     * connections frozen and its listen sockets taking connections nobody accepts, so /healthz
     * says so and the liveness probe restarts the process. (At a stop the loops shut down too,
     * in the last moment before the process exits.)
     */
    private boolean loopsRun() {
        for (EventExecutor loop : workers) {
            if (loop.isShuttingDown()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Refuses a config this process could not run, as a start or a reload would: a transparent
     * listener or an upstream mark without the capability or the native transport they need, a
     * listen or admin address it may not bind. {@code --check} asks it, so that a reload's check
     * fails where the reload itself would.
     */
    public static void checkRunnable(ProxyConfig config, Transport transport) throws ConfigException {
        Interception.checkPossible(config, transport);
        BindChecks.checkBindable(config);
    }

    /** The watch for other processes on the listen addresses, for a test that looks at once. */
    PortSharing portSharing() {
        return portSharing;
    }

    /** The worker loops, for a test that ends one. */
    EventLoopGroup workers() {
        return workers;
    }

    public int openConnections() {
        return clients.size();
    }

    /** The listen addresses bound, as the reload or drain under way leaves them. */
    public synchronized List<InetSocketAddress> listenAddresses() {
        return listeners.addresses();
    }

    public InetSocketAddress adminAddress() {
        return (InetSocketAddress) admin.localAddress();
    }

    public ProxyConfig currentConfig() {
        return active.get().config();
    }

    public boolean ready() {
        return ready;
    }

    public Transport transport() {
        return transport;
    }

    @Override
    public void close() {
        ready = false;
        synchronized (this) {
            draining = true;
            portSharing.close();
            listeners.closeAll();
        }
        // Closed, and their closing finished, before the event loops stop: a close still queued
        // on a stopped loop would be lost.
        clients.closeNow();
        if (adminServer != null) {
            adminServer.close();
        }
        lookups.close();
        EventLoops.stop(workers, "worker", LOOPS_STOP_WAIT);
        EventLoops.stop(adminLoop, "admin", LOOPS_STOP_WAIT);
    }
}
