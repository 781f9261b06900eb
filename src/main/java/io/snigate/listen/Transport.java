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
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

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
        Class<? extends DatagramChannel> datagramChannelClass) {

    /** Epoll when available, NIO otherwise; {@code why} says which and for what reason. */
    public static Transport select() {
        if (Boolean.getBoolean("snigate.forceNio")) {
            return nio("-Dsnigate.forceNio=true was set");
        }
        if (Epoll.isAvailable()) {
            return new Transport(
                    "epoll",
                    "the native epoll library loaded",
                    EpollIoHandler.newFactory(),
                    EpollServerSocketChannel.class,
                    EpollSocketChannel.class,
                    EpollDatagramChannel.class);
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
                NioDatagramChannel.class);
    }

    public MultiThreadIoEventLoopGroup newEventLoopGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
    }
}
