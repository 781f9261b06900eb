package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.snigate.core.Reason;
import io.snigate.core.StageFailure;
import io.snigate.transport.EpollHalfClose;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies what one side of a tunnel reads to the other side, with backpressure: when the other
 * side's outbound buffer passes its high-water mark, this side stops reading until that buffer
 * drains below the low-water mark. So a slow reader costs at most one write buffer, never an
 * unbounded queue.
 */
final class RelayHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RelayHandler.class);
    private final Tunnel tunnel;

    RelayHandler(Tunnel tunnel) {
        this.tunnel = tunnel;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Channel self = ctx.channel();
        tunnel.sawTraffic();
        if (msg instanceof ByteBuf bytes) {
            if (tunnel.checksRetries() && (msg = tunnel.retryChecked(self, bytes, false)) == null) {
                return; // held for a retried hello, or refused and closing
            }
            // What goes on: a retried hello the check held counts once it passes, one it refused never.
            int relayed = ((ByteBuf) msg).readableBytes();
            if (self == tunnel.client) {
                tunnel.record.addBytesFromClient(relayed);
            } else {
                tunnel.record.addBytesToClient(relayed);
            }
        }
        tunnel.peerOf(self).write(msg, tunnel.peerOf(self).voidPromise());
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Channel peer = tunnel.peerOf(ctx.channel());
        peer.flush();
        if (!peer.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            // The receiver took what was queued for it: that is traffic too, however slow.
            tunnel.sawTraffic();
            Tunnel.resumeReading(tunnel.peerOf(ctx.channel()));
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            EpollHalfClose.peerFinished(ctx.channel()); // the other way may still have to be written
            tunnel.doneSending(ctx.channel());
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // The other side may still wait for bytes queued for a client that does not read: the
        // clock keeps the tunnel until both sides are closed, and its timeouts still end it.
        if (!tunnel.isOpen()) {
            tunnel.ended();
        }
        Reason cut = tunnel.record.reason();
        if (cut != null && cut.resetsThePeer()) {
            tunnel.close(cut); // cut from outside (Relay.cut): the other side resets too
        } else {
            tunnel.closeAfterFlush();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // An I/O error on either side (a reset, most often) ends the whole tunnel; so does a bug,
        // which must not leave half a tunnel open.
        tunnel.close(StageFailure.reasonOf(cause, tunnel.failureOf(ctx.channel(), cause), LOG,
                "closing tunnel for " + tunnel.record.client()));
    }
}
