package io.snigate.listen;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.PipelineNames;
import io.snigate.core.Reason;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.preread.PrereadHandler;
import io.snigate.proxyprotocol.ProxyHeaderGate;
import io.snigate.proxyprotocol.ProxyHeaderReceived;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import java.net.InetSocketAddress;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a client connection's pipeline is composed, for the connections of one
 * listener. At accept it starts the connection's record, applies the listener's client rules and
 * the connection limits and, on a transparent listener, finds where the client was going; then it adds the stages that follow,
 * by their {@link PipelineNames}: pre-read, then route (which hands on to connect and relay).
 *
 * <p>A reload may change the listener's settings; connections accepted after it use the new ones.
 */
@ChannelHandler.Sharable
final class ClientInitializer extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ClientInitializer.class);
    private final Supplier<ProxyConfig> config;
    private final ConnectionLimits limits;
    private final ConnectionObserver observer;
    private final ProxyMetrics metrics;
    private final ChannelHandler routeStage;
    private final OpenConnections clients;
    private volatile Listener listener;
    /** The listen address as written: the same for every config this initializer serves. */
    private final String name;
    private volatile int boundPort;

    ClientInitializer(Listener listener, Supplier<ProxyConfig> config, ConnectionLimits limits,
            ConnectionObserver observer, ProxyMetrics metrics, ChannelHandler routeStage, OpenConnections clients) {
        this.listener = listener;
        this.name = listener.name();
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

    /**
     * Composes the pipeline once the channel is registered, then leaves it, as Netty's
     * {@code ChannelInitializer} does, without the set of contexts being initialised that it keeps
     * against re-entry: a {@code ConcurrentHashMap} that every event loop updated twice a
     * connection, its size counter shared (performance page, "Trims of the accept").
     */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isRegistered()) {
            compose(ctx);
        }
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
        compose(ctx); // added before the channel was registered
        ctx.fireChannelRegistered();
    }

    private void compose(ChannelHandlerContext ctx) {
        try {
            initChannel((SocketChannel) ctx.channel());
        } catch (RuntimeException e) {
            LOG.warn("could not compose the pipeline of {}; closing it", ctx.channel(), e);
            ctx.close();
        } finally {
            if (!ctx.isRemoved()) {
                ctx.pipeline().remove(this);
            }
        }
    }

    private void initChannel(SocketChannel ch) {
        Listener current = listener;
        ConnectionRecord record = ConnectionRecord.attach(ch, name, observer);
        clients.add(ch);
        Listener.ProxyProtocol proxyProtocol = current.proxyProtocol();
        // Where an intercepted client was going is read first, so that the line of one refused
        // below says it; a refused client is refused as such, diverted or not.
        InetSocketAddress original = null;
        if (current.isTransparent()) {
            original = OriginalDestination.of(ch, current.originalDst(), boundPort);
            metrics.originalDestination(name, original != null);
            if (original != null) {
                record.destination(original, original.getPort());
            }
        } else {
            record.destination(null, boundPort);
        }
        // Like a firewall: before a byte is read, and never audited. Behind a PROXY header the
        // client is known only once the header is in (clientKnown); the peer must be trusted now.
        if (proxyProtocol == null && !current.clients().admits(record.client().getAddress())) {
            closeAtAccept(ch, record, Reason.CLIENT_NOT_ALLOWED);
            return;
        }
        if (current.isTransparent() && original == null) {
            closeAtAccept(ch, record, Reason.NO_ORIGINAL_DESTINATION);
            return;
        }
        if (proxyProtocol != null && !proxyProtocol.trusts(record.peer().getAddress())) {
            closeAtAccept(ch, record, Reason.PROXY_PROTOCOL_UNTRUSTED);
            return;
        }
        // Refused before it costs anything more than the accept; behind a PROXY header, the
        // client's own budget once the header is in.
        if (!limits.admit(record, proxyProtocol == null)) {
            closeAtAccept(ch, record, Reason.CONNECTION_LIMIT);
            return;
        }
        ProxyConfig settings = config.get();
        if (proxyProtocol != null) {
            ch.pipeline()
                    .addLast(PipelineNames.PROXY_HEADER, new ProxyHeaderGate(record, proxyProtocol.timeout().toMillis()))
                    .addLast(PipelineNames.PROXY_DECODER, new HAProxyMessageDecoder())
                    // Judged by the rules in force when the header comes: a reload may have changed them.
                    .addLast(PipelineNames.PROXY_RECEIVED, new ProxyHeaderReceived(record, named -> clientKnown(named, listener)));
        }
        ch.pipeline()
                .addLast(PipelineNames.PREREAD, new PrereadHandler(record, settings.limits().maxClientHelloBytes(),
                        settings.timeouts().preread().toMillis(), observer, proxyProtocol != null))
                .addLast(PipelineNames.ROUTE, routeStage);
    }

    /**
     * A PROXY header named the client: apply the listener's client rules and the client's budget
     * to it, or say why it may not go on.
     */
    private boolean clientKnown(ConnectionRecord record, Listener listener) {
        // The balancer vouches for the client it names only while it is trusted, and while the
        // listener takes headers at all: a reload may have removed its proxy_protocol.
        Reason refused = listener.refusalOf(record.peer().getAddress(), record.client().getAddress(), true);
        if (refused != null) {
            record.endedBecause(refused);
            return false;
        }
        if (!limits.admitClient(record)) {
            record.endedBecause(Reason.CONNECTION_LIMIT);
            return false;
        }
        return true;
    }

    private static void closeAtAccept(SocketChannel ch, ConnectionRecord record, Reason reason) {
        record.endedBecause(reason);
        ch.config().setAutoRead(false);
        ch.close();
    }
}
