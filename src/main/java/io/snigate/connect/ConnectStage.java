package io.snigate.connect;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ConnectTimeoutException;
import io.netty.util.concurrent.Future;
import io.snigate.config.Delivery;
import io.snigate.config.Timeouts;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import io.snigate.core.Rejection;
import io.snigate.relay.Relay;
import io.snigate.relay.UpstreamLink;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteHandler;
import io.snigate.transport.Hangups;
import java.net.InetSocketAddress;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connects an allowed connection to its upstream and starts the relay, or ends it with the
 * reason the network gave.
 */
public final class ConnectStage implements RouteHandler.Dialer {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectStage.class);

    private final UpstreamConnector connector;
    /** The timeouts in force: read once per connection, so that all three come from one config. */
    private final Supplier<Timeouts> timeouts;
    private final ConnectionObserver observer;
    private final OwnUpstreams ownUpstreams;
    private final OwnHellos ownHellos = new OwnHellos();
    private final BooleanSupplier interceptsOwnTraffic;
    private final BiFunction<ConnectionRecord, ByteBufAllocator, HelloRetryCheck> retryChecks;

    public ConnectStage(
            UpstreamConnector connector,
            OwnUpstreams ownUpstreams,
            BooleanSupplier interceptsOwnTraffic,
            Supplier<Timeouts> timeouts,
            BiFunction<ConnectionRecord, ByteBufAllocator, HelloRetryCheck> retryChecks,
            ConnectionObserver observer) {
        this.connector = connector;
        this.ownUpstreams = ownUpstreams;
        this.interceptsOwnTraffic = interceptsOwnTraffic;
        this.timeouts = timeouts;
        this.retryChecks = retryChecks;
        this.observer = observer;
    }

    @Override
    public void dial(ChannelHandlerContext ctx, ConnectionRecord record, RouteDecision decision) {
        Channel client = ctx.channel();
        if (ownUpstreams.isOwnConnection(record.client(), record.originalDst())
                || !ownHellos.admit(decision, record, client)) {
            Rejection.reject(client, Reason.LOOP_DETECTED, record.recordVersion());
            return;
        }
        long started = System.nanoTime();
        Timeouts now = timeouts.get();
        long idle = now.idle().toMillis();
        long halfClosed = now.halfClosed().toMillis();
        Future<UpstreamLink> dialing = connector.connect(
                client.eventLoop(), decision, record, now.connect().toMillis(), Relay::pendingUpstreamHandler);
        // A client closed while its upstream is dialed takes the dial with it, as an address a
        // reload refused must not be reached (ConnectionRecord.upstreamDial).
        record.upstreamDial(dialing);
        if (!client.isOpen()) {
            dialing.cancel(false); // closed before the dial began: its close has been heard
        }
        dialing.addListener((Future<UpstreamLink> connected) -> {
            record.upstreamDial(null);
            if (connected.isCancelled()) {
                return; // the client's close, whose reason is recorded
            }
            try {
                connected(client, record, decision, connected, started, idle, halfClosed);
            } catch (RuntimeException | OutOfMemoryError unexpected) {
                // A promise's listener that throws is logged by Netty and forgotten: the
                // client would stay open with no timer, and what was dialed with it. No
                // direct memory is over a budget, as in the pre-read; anything else a bug.
                if (unexpected instanceof OutOfMemoryError) {
                    LOG.warn("closing {}: {}", client, unexpected.toString());
                    record.endedBecause(Reason.CONNECTION_LIMIT);
                } else {
                    LOG.warn("closing {} after an unexpected error", client, unexpected);
                    record.endedBecause(Reason.INTERNAL_ERROR);
                }
                if (connected.isSuccess()) {
                    connected.getNow().close();
                }
                client.close();
            }
        });
    }

    private void connected(Channel client, ConnectionRecord record, RouteDecision decision,
            Future<UpstreamLink> connected, long started, long idle, long halfClosed) {
        if (!connected.isSuccess()) {
            Reason reason = connected.cause() instanceof UpstreamException e
                    ? e.reason()
                    : Reason.UPSTREAM_UNREACHABLE;
            if ((reason == Reason.UPSTREAM_TIMEOUT || reason == Reason.DNS_FAILURE) && ranOutOfTime(connected.cause())
                    && Hangups.hungUp(client)) {
                // Reset while its upstream was dialed, which a client channel on io_uring does
                // not notice before now: the client's leaving, not the upstream's timeout.
                record.endedBecause(Reason.CLIENT_CLOSED);
                client.close();
                return;
            }
            Rejection.reject(client, reason, record.recordVersion());
            return;
        }
        UpstreamLink upstream = connected.getNow();
        if (!client.isActive()) {
            upstream.close();
            return;
        }
        record.upstream(upstream.remoteAddress());
        Delivery.ProxyProtocolVersion header = decision.delivery().sendProxyProtocol();
        if (header != null) { // the connector gave a channel for it
            // The address the client dialed, as far as it is known here: where it was going,
            // where the balancer in front says it was going, or this proxy.
            InetSocketAddress destination = record.wentTo() != null ? record.wentTo()
                    : (InetSocketAddress) client.localAddress();
            ProxyHeaderSender.send(((UpstreamLink.OfChannel) upstream).channel(), header, record.client(),
                    destination, record.sni());
        }
        if (interceptsOwnTraffic.getAsBoolean()) {
            ownUpstreams.add(upstream, client);
        }
        observer.on(ConnectionEvent.UPSTREAM_CONNECTED, record, System.nanoTime() - started);
        Relay.start(client, upstream, record, retryChecks.apply(record, client.alloc()), idle, halfClosed);
    }

    /** Whether the stage's budget ran out ({@link DialAttempt#budget}), a wait a client may leave in. */
    private static boolean ranOutOfTime(Throwable cause) {
        return cause instanceof UpstreamException e && e.getCause() instanceof ConnectTimeoutException;
    }
}
