package io.snigate.listen;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O transport: native epoll where the kernel and the bundled native library allow it,
 * the JDK's NIO otherwise. Every channel of one proxy uses the same transport, so that an
 * upstream connection can live on the event loop of the client connection it serves.
 */
public record Transport(
        String name,
        String why,
        IoHandlerFactory ioHandlerFactory,
        Class<? extends ServerChannel> serverChannelClass,
        Class<? extends SocketChannel> socketChannelClass,
        Class<? extends DatagramChannel> datagramChannelClass,
        Function<SocketProtocolFamily, SocketChannel> socketChannelFactory) {
    private static final Logger LOG = LoggerFactory.getLogger(Transport.class);

    /**
     * Epoll when available, NIO otherwise; {@code why} says which and for what reason. The
     * system property {@code snigate.transport} ({@code epoll}, {@code io_uring} or {@code nio})
     * asks for one; io_uring is opt-in (see the README's performance section).
     */
    public static Transport select() {
        String asked = System.getProperty("snigate.transport", "");
        if (Boolean.getBoolean("snigate.forceNio") || asked.equals("nio")) {
            return nio("asked for with -Dsnigate.transport=nio");
        }
        if (asked.equals("io_uring")) {
            if (IoUring.isAvailable()) {
                return new Transport(
                        "io_uring",
                        "asked for with -Dsnigate.transport=io_uring",
                        IoUringIoHandler.newFactory(),
                        IoUringServerSocketChannel.class,
                        IoUringSocketChannel.class,
                        IoUringDatagramChannel.class,
                        family -> new IoUringSocketChannel());
            }
            LOG.warn("io_uring was asked for but is unavailable ({}); falling back", IoUring.unavailabilityCause());
        }
        if (Epoll.isAvailable()) {
            return new Transport(
                    "epoll",
                    "the native epoll library loaded",
                    EpollIoHandler.newFactory(),
                    EpollServerSocketChannel.class,
                    EpollSocketChannel.class,
                    EpollDatagramChannel.class,
                    EpollSocketChannel::new);
        }
        Throwable cause = Epoll.unavailabilityCause();
        return nio("native epoll is unavailable: " + (cause == null ? "unknown cause" : cause));
    }

    private static Transport nio(String why) {
        return new Transport(
                "nio",
                why,
                NioIoHandler.newFactory(),
                NioServerSocketChannel.class,
                NioSocketChannel.class,
                NioDatagramChannel.class,
                family -> new NioSocketChannel(SelectorProvider.provider(), family));
    }

    /**
     * A client socket of the family {@code target} needs: an IPv4 target gets an IPv4 socket
     * rather than a dual-stack IPv6 one, which saves a setsockopt and the address conversions.
     */
    public SocketChannel newSocketChannel(InetSocketAddress target) {
        return socketChannelFactory.apply(
                target.getAddress() instanceof Inet4Address ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6);
    }

    public MultiThreadIoEventLoopGroup newEventLoopGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
    }
}
