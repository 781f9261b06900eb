package io.snigate.connect;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketChannelConfig;
import io.snigate.core.PipelineNames;
import io.snigate.relay.UpstreamSocket;
import io.snigate.transport.LinuxSocketOptions;
import io.snigate.transport.RelayReads;
import io.snigate.transport.RingSocket;
import io.snigate.transport.Transport;
import java.net.InetSocketAddress;
import java.util.function.Consumer;

/**
 * Which form one upstream connection takes: on io_uring, for a route that dials its upstream
 * itself, a socket the relay drives itself ({@link UpstreamSocket#connect}); otherwise a Netty
 * channel, made here as Netty's {@code Bootstrap} would without its per-connection options map,
 * resolver lookup and queued connect task. Both run on the loop the connection lives on, and
 * report on it.
 */
public final class UpstreamDials {
    /**
     * Whether a direct upstream on io_uring is a socket the relay drives itself (the default) or a
     * Netty channel ({@code -Dsnigate.upstream=channel}, as every upstream is on epoll and NIO).
     */
    private static final boolean SOCKETS = !"channel".equals(System.getProperty("snigate.upstream"));

    private UpstreamDials() {}

    /** How direct upstreams are made on {@code transport}, for the start-up log. */
    public static String directUpstreams(Transport transport) {
        return SOCKETS && transport.name().equals("io_uring") ? "sockets driven on the ring" : "channels";
    }

    /**
     * Whether an upstream on {@code loop} can be a socket: a direct route (no parent proxy, whose
     * handshake is a pipeline handler; no PROXY header, which Netty's encoder writes to a channel).
     */
    static boolean socketFits(EventLoop loop, boolean viaParent, boolean sendsProxyHeader) {
        return SOCKETS && !viaParent && !sendsProxyHeader && RingSocket.usableOn(loop);
    }

    /**
     * Connects a channel to {@code target} with {@code handler} in its pipeline; then
     * {@code connected} or {@code failed} runs. Returns the channel, to close to abandon it, or
     * null when no channel could be made ({@code failed} has run: no descriptor left, a socket
     * option refused).
     */
    static Channel channel(Transport transport, EventLoop loop, InetSocketAddress target, int mark,
            ChannelHandler handler, Consumer<Channel> connected, Consumer<Throwable> failed) {
        SocketChannel channel;
        try {
            channel = transport.newSocketChannel(target);
        } catch (ChannelException e) {
            failed.accept(e);
            return null;
        }
        try {
            SocketChannelConfig config = channel.config();
            config.setConnectTimeoutMillis(0); // the connector's budget is the only timeout
            config.setAutoRead(false);
            config.setAllowHalfClosure(true);
            config.setRecvByteBufAllocator(RelayReads.allocator());
            if (mark != 0) {
                config.setOption(LinuxSocketOptions.MARK, mark);
            }
        } catch (ChannelException e) {
            channel.unsafe().closeForcibly();
            failed.accept(e);
            return null;
        }
        channel.pipeline().addLast(PipelineNames.PENDING_UPSTREAM, handler);
        ChannelPromise attempt = channel.newPromise();
        loop.register(channel).addListener((ChannelFuture registered) -> {
            if (registered.isSuccess()) {
                channel.connect(target, attempt);
            } else {
                channel.unsafe().closeForcibly();
                attempt.setFailure(registered.cause());
            }
        });
        attempt.addListener((ChannelFuture done) -> {
            if (done.isSuccess()) {
                connected.accept(channel);
            } else {
                // A native channel whose connect failed stays open and registered (NIO's closes
                // itself); Netty's Bootstrap closes it too.
                channel.close();
                failed.accept(done.cause());
            }
        });
        return channel;
    }
}
