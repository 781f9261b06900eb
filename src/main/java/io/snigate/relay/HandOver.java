package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import io.netty.util.concurrent.Future;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import io.snigate.core.StageFailure;
import io.snigate.transport.RingClientChannel;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a client's socket off its Netty channel once the upstream is an {@link UpstreamSocket},
 * so that both sides of the tunnel are driven on the ring ({@link SocketTunnel}). A channel
 * snigate accepted on the ring hands over its place on the ring with the socket ({@link
 * RingClientChannel#handOver}); Netty's own channel leaves the ring first ({@code deregister}).
 * Either completes once none of the channel's operations is in flight; what it reads meanwhile,
 * the ClientHello the pre-read held included, and a FIN, are kept here for the tunnel. From then
 * on the channel only stands for the connection: the tunnel closes it once both sockets are closed
 * (handed over or deregistered, it closes no descriptor, and its close future ends the record),
 * and closing it from outside (a drain, a stop) ends the tunnel.
 */
final class HandOver extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(HandOver.class);

    private final Channel client;
    private final UpstreamSocket upstream;
    private final ConnectionRecord record;
    private final HelloRetryCheck retryCheck;
    private final long idleTimeoutMillis, halfClosedTimeoutMillis;
    private final List<ByteBuf> held = new ArrayList<>(1);
    private boolean clientDoneSending, over;

    HandOver(Channel client, UpstreamSocket upstream, ConnectionRecord record, HelloRetryCheck retryCheck,
            long idleTimeoutMillis, long halfClosedTimeoutMillis) {
        this.client = client;
        this.upstream = upstream;
        this.record = record;
        this.retryCheck = retryCheck;
        this.idleTimeoutMillis = idleTimeoutMillis;
        this.halfClosedTimeoutMillis = halfClosedTimeoutMillis;
    }

    /** Takes the socket off the channel; in the client's pipeline, after the stages before the relay have left. */
    void start() {
        client.config().setAutoRead(false);
        if (client instanceof RingClientChannel ring) {
            if (!ring.isOpen()) { // it hands nothing over, and its inactive event has passed
                abandon(Reason.CONNECTION_RESET);
                return;
            }
            ClientSocket.takeOver(ring, this::relay); // closed meanwhile, its inactive event abandons
            return;
        }
        EventLoop loop = client.eventLoop();
        Socket socket = (Socket) ((UnixChannel) client).fd(); // io_uring's channels hold a Socket
        client.deregister().addListener(done -> deregistered(done, loop, socket));
    }

    private void deregistered(Future<?> done, EventLoop loop, Socket socket) {
        if (over) {
            return; // closed meanwhile
        }
        if (!done.isSuccess() || !client.isOpen()) {
            abandon(Reason.CONNECTION_RESET);
            return;
        }
        ClientSocket.adopt(socket, loop, this::relay, refused -> abandon(Reason.CONNECTION_RESET));
    }

    private void relay(ClientSocket socket) {
        // Closed while the socket was being registered: a ring channel's close ran abandon; Netty's
        // deregistered channel fires no inactive event, so its close shows only as not open.
        if (over || !client.isOpen()) {
            if (!over) {
                abandon(null);
            }
            socket.close();
            return;
        }
        over = true;
        client.pipeline().remove(this); // an idle tunnel should not keep it
        SocketTunnel tunnel = new SocketTunnel(client, socket, upstream, record, retryCheck,
                idleTimeoutMillis, halfClosedTimeoutMillis);
        tunnel.start(held, clientDoneSending);
    }

    /**
     * The connection ends before the tunnel stands: the upstream and the channel close;
     * {@code reason} is recorded unless null or an earlier one stands.
     */
    private void abandon(Reason reason) {
        if (over) {
            return;
        }
        over = true;
        if (reason != null) {
            record.endedBecause(reason);
        }
        held.forEach(ByteBuf::release);
        held.clear();
        upstream.close();
        client.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf bytes = (ByteBuf) msg;
        if (over) {
            bytes.release();
            return;
        }
        if (!bytes.hasMemoryAddress()) {
            // The kernel reads the bytes where they lie: a heap buffer is copied out first.
            ByteBuf heap = bytes;
            try {
                bytes = ctx.alloc().directBuffer(heap.readableBytes()).writeBytes(heap);
            } finally {
                heap.release(); // Netty does not release a message whose read threw
            }
        }
        held.add(bytes);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            clientDoneSending = true;
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        abandon(null); // the client went away: its record says how
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // An I/O error (a reset, most often) ends the tunnel; so does a bug.
        abandon(StageFailure.reasonOf(cause, Reason.CONNECTION_RESET, LOG, "closing tunnel for " + record.client()));
    }
}
