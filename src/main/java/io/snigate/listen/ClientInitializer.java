package io.snigate.listen;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.PipelineNames;
import io.snigate.core.Reason;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.preread.PrereadHandler;
import java.net.InetSocketAddress;
import java.util.function.Supplier;

/**
 * The one place where a client connection's pipeline is composed, for the connections of one
 * listener. At accept it starts the connection's record, applies the listener's client rules and
 * the connection limits and, on a transparent listener, finds where the client was going; then it adds the stages that follow,
 * by their {@link PipelineNames}: pre-read, then route (which hands on to connect and relay).
 *
 * <p>A reload may change the listener's settings; connections accepted after it use the new ones.
 */
final class ClientInitializer extends ChannelInitializer<SocketChannel> {
    private final Supplier<ProxyConfig> config;
    private final ConnectionLimits limits;
    private final ConnectionObserver observer;
    private final ProxyMetrics metrics;
    private final ChannelHandler routeStage;
    private final ChannelGroup clients;
    private volatile Listener listener;
    private volatile int boundPort;

    ClientInitializer(Listener listener, Supplier<ProxyConfig> config, ConnectionLimits limits,
            ConnectionObserver observer, ProxyMetrics metrics, ChannelHandler routeStage, ChannelGroup clients) {
        this.listener = listener;
        this.config = config;
        this.limits = limits;
        this.observer = observer;
        this.metrics = metrics;
        this.routeStage = routeStage;
        this.clients = clients;
    }

    Listener listener() {
        return listener;
    }

    void listener(Listener changed) {
        this.listener = changed;
    }

    /** The port the listener is bound to: a client that dialed it directly dialed this port. */
    void boundTo(InetSocketAddress address) {
        this.boundPort = address.getPort();
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        Listener current = listener;
        ConnectionRecord record = ConnectionRecord.attach(ch, current.name(), observer);
        clients.add(ch);
        if (!current.clients().admits(record.client().getAddress())) {
            // Like a firewall: before a byte is read, and never audited.
            closeAtAccept(ch, record, Reason.CLIENT_NOT_ALLOWED);
            return;
        }
        if (current.isTransparent()) {
            InetSocketAddress original = OriginalDestination.of(ch, current.originalDst());
            metrics.originalDestination(current.name(), original != null);
            if (original == null) {
                closeAtAccept(ch, record, Reason.NO_ORIGINAL_DESTINATION);
                return;
            }
            record.destination(original, original.getPort());
        } else {
            record.destination(null, boundPort);
        }
        if (!limits.admit(record)) {
            // Refused before it costs anything more than the accept.
            closeAtAccept(ch, record, Reason.CONNECTION_LIMIT);
            return;
        }
        ProxyConfig settings = config.get();
        ch.pipeline()
                .addLast(PipelineNames.PREREAD, new PrereadHandler(record, settings.limits().maxClientHelloBytes(),
                        settings.timeouts().preread().toMillis(), observer))
                .addLast(PipelineNames.ROUTE, routeStage);
    }

    private static void closeAtAccept(SocketChannel ch, ConnectionRecord record, Reason reason) {
        record.endedBecause(reason);
        ch.config().setAutoRead(false);
        ch.close();
    }
}
