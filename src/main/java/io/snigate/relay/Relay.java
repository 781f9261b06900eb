package io.snigate.relay;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.PipelineNames;
import io.snigate.core.Reason;

/**
 * Stage five: turns a client channel whose ClientHello is buffered, and a connected upstream
 * (a channel, or on io_uring a socket of its own), into one tunnel that relays every byte both
 * ways until both sides are done. With an upstream socket the client's socket leaves its channel
 * too ({@link HandOver}), and the tunnel drives both on the ring.
 */
public final class Relay {
    private Relay() {}

    /**
     * The handler to install on an upstream channel before it connects; {@link #start} binds it to
     * its tunnel. Until then it holds nothing: the upstream does not read before the relay starts.
     */
    public static ChannelHandler pendingUpstreamHandler() {
        return new PendingUpstream();
    }

    /**
     * Starts relaying between {@code client} and {@code upstream}. The client pipeline's pre-relay
     * stages leave it, the pre-read last: it holds the buffered ClientHello bytes, which then flow
     * to the upstream unchanged. {@code retryCheck}, if not null, sees the first bytes each way
     * ({@link HelloRetryCheck}).
     */
    public static void start(Channel client, UpstreamLink upstream, ConnectionRecord record, HelloRetryCheck retryCheck,
            long idleTimeoutMillis, long halfClosedTimeoutMillis) {
        ChannelPipeline pipeline = client.pipeline();
        if (upstream instanceof UpstreamSocket socket) {
            HandOver handOver = new HandOver(client, socket, record, retryCheck, idleTimeoutMillis, halfClosedTimeoutMillis);
            pipeline.addLast(PipelineNames.RELAY, handOver);
            removeStagesBeforeRelay(pipeline);
            handOver.start();
        } else {
            Channel channel = ((UpstreamLink.OfChannel) upstream).channel();
            Tunnel tunnel = new Tunnel(client, channel, record, retryCheck, idleTimeoutMillis, halfClosedTimeoutMillis);
            channel.pipeline().replace(PipelineNames.PENDING_UPSTREAM, PipelineNames.RELAY, new RelayHandler(tunnel));
            pipeline.addLast(PipelineNames.RELAY, new RelayHandler(tunnel));
            removeStagesBeforeRelay(pipeline);
            Tunnel.resumeReading(client);
            Tunnel.resumeReading(channel);
        }
    }

    /**
     * Ends {@code client}'s connection from outside (the drain's deadline, a reload's verdict) for
     * {@code reason}, recorded first. When the reason resets the peer the client's socket closes
     * with a reset, and its tunnel, if it has one, resets the upstream too.
     */
    public static void cut(Channel client, Reason reason) {
        ConnectionRecord record = ConnectionRecord.of(client);
        if (record != null) {
            record.endedBecause(reason);
        }
        // A client whose socket the relay took over (SocketTunnel) may have closed it already, and
        // its number may be another connection's by now: that tunnel resets its own sockets.
        if (ownsItsSocket(client.pipeline())) {
            if (reason.resetsThePeer()) {
                Tunnel.resetOnClose(client);
            }
        } else if (record != null) {
            // The socket tunnel ends at the channel's close and takes what it had queued off the
            // counts then: the line is written a task later, with them.
            record.finishAfterTheClose(client.eventLoop());
        }
        client.close();
    }

    /** Whether the channel's socket is still its own: before the relay, or relayed by the channel. */
    private static boolean ownsItsSocket(ChannelPipeline pipeline) {
        return pipeline.get(PipelineNames.RELAY) != null || pipeline.get(PipelineNames.PREREAD) != null
                || pipeline.get(PipelineNames.PROXY_HEADER) != null || pipeline.get(PipelineNames.LINGERING_CLOSE) != null;
    }

    private static void removeStagesBeforeRelay(ChannelPipeline pipeline) {
        for (String stage : PipelineNames.BEFORE_RELAY) {
            pipeline.remove(stage);
        }
    }

    /** Closes the upstream if it goes away before the relay starts; reads nothing. */
    private static final class PendingUpstream extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
