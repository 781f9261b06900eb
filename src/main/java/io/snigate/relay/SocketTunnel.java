package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A tunnel whose upstream is an {@link UpstreamSocket}: the relay handler in the client's pipeline,
 * and the listener of the upstream socket. The rules are {@link Tunnel}'s: every byte is copied
 * with backpressure (the client is not read while the upstream's queue is over its high-water mark,
 * the upstream is not read while the client is not writable); a FIN is passed on once what came
 * before it is written; the tunnel closes once both sides have sent FIN, at once when either fails,
 * and on the idle and half-closed timeouts.
 */
final class SocketTunnel extends ChannelInboundHandlerAdapter implements UpstreamSocket.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(SocketTunnel.class);

    private final Channel client;
    private final UpstreamSocket upstream;
    private final ConnectionRecord record;
    private final Clock clock;
    private final RecvByteBufAllocator.Handle reads = RelayReads.allocator().newHandle();
    private boolean clientDoneSending, upstreamDoneSending;

    /** Built on the client's event loop, which the socket shares. */
    SocketTunnel(Channel client, UpstreamSocket upstream, ConnectionRecord record, long idleTimeoutMillis,
            long halfClosedTimeoutMillis) {
        this.client = client;
        this.upstream = upstream;
        this.record = record;
        this.clock = new Clock(idleTimeoutMillis, halfClosedTimeoutMillis);
        upstream.startRelay(this);
    }

    /** Starts reading the upstream; the client's bytes flow as soon as this is in its pipeline. */
    void start() {
        readUpstream();
    }

    // ---- client to upstream -------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf bytes = (ByteBuf) msg;
        clock.sawTraffic();
        record.addBytesFromClient(bytes.readableBytes());
        if (!bytes.hasMemoryAddress()) {
            // The kernel reads the bytes where they lie: a heap buffer is copied out first.
            ByteBuf direct = ctx.alloc().directBuffer(bytes.readableBytes()).writeBytes(bytes);
            bytes.release();
            bytes = direct;
        }
        upstream.write(bytes);
        if (!upstream.isWritable()) {
            client.config().setAutoRead(false);
        }
    }

    @Override
    public void upstreamWritable() {
        clock.sawTraffic(); // the receiver took what was queued for it: traffic, however slow
        if (!clientDoneSending) {
            Tunnel.resumeReading(client);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            doneSending(true);
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    // ---- upstream to client -------------------------------------------------

    private void readUpstream() {
        if (upstream.canRead() && !upstreamDoneSending && client.isWritable()) {
            upstream.read();
        }
    }

    @Override
    public ByteBuf readBuffer() {
        reads.reset(client.config());
        return reads.allocate(client.alloc());
    }

    @Override
    public void upstreamRead(ByteBuf bytes) {
        clock.sawTraffic();
        int n = bytes.readableBytes();
        reads.lastBytesRead(n);
        reads.readComplete();
        record.addBytesToClient(n);
        client.writeAndFlush(bytes, client.voidPromise());
        readUpstream();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (client.isWritable()) {
            clock.sawTraffic();
            readUpstream();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void upstreamDoneSending() {
        doneSending(false);
    }

    // ---- the end ------------------------------------------------------------

    /** One side sent FIN: pass it on once everything it sent before has been written. */
    private void doneSending(boolean fromClient) {
        if (fromClient) {
            clientDoneSending = true;
        } else {
            upstreamDoneSending = true;
        }
        if (clientDoneSending && upstreamDoneSending) {
            closeAfterWrites();
            return;
        }
        clock.halfClosed();
        if (fromClient) {
            upstream.shutdownOutput();
        } else {
            Tunnel.finAfterWrites(client, () -> close(Reason.CONNECTION_RESET));
        }
    }

    @Override
    public void upstreamFailed() {
        close(Reason.CONNECTION_RESET);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        clock.unlink();
        closeAfterWrites();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // As RelayHandler: an I/O error (a reset, most often) ends the tunnel; anything else is a bug.
        if (!(cause instanceof IOException)) {
            LOG.warn("closing tunnel for {} after an unexpected error", record.client(), cause);
        }
        close(Reason.CONNECTION_RESET);
    }

    /** Closes both sides now; {@code reason} is recorded unless an earlier one stands. */
    private void close(Reason reason) {
        if (reason != null) {
            record.endedBecause(reason);
        }
        client.close();
        upstream.close();
    }

    private void closeAfterWrites() {
        Tunnel.closeOnceWritten(client);
        upstream.closeAfterWrites();
    }

    /** The tunnel's timeouts; a {@link TunnelTimeouts} has to be a class of its own. */
    private final class Clock extends TunnelTimeouts {
        Clock(long idleTimeoutMillis, long halfClosedTimeoutMillis) {
            super(client.eventLoop(), idleTimeoutMillis, halfClosedTimeoutMillis);
        }

        @Override
        boolean isOpen() {
            return client.isOpen() || upstream.isOpen();
        }

        @Override
        void close(Reason reason) {
            SocketTunnel.this.close(reason);
        }
    }
}
