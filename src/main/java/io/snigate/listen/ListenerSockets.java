package io.snigate.listen;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.snigate.config.ConfigException;
import io.snigate.config.Listener;
import io.snigate.handover.ReusePort;
import io.snigate.relay.RelayReads;
import io.snigate.transport.Transport;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * One listen address, bound once per event loop, every socket with {@code SO_REUSEPORT}: the
 * kernel spreads new connections over the sockets, and each connection lives on the loop whose
 * socket accepted it, so accepting takes no hand-off between threads (nginx's, HAProxy's and
 * Envoy's way of using all cores).
 */
final class ListenerSockets {
    private final List<Channel> sockets;
    private final ClientInitializer initializer;

    private ListenerSockets(List<Channel> sockets, ClientInitializer initializer) {
        this.sockets = sockets;
        this.initializer = initializer;
    }

    /**
     * Binds {@code listener} on every loop of {@code workers}. Port 0 means the port the kernel
     * gives the first socket, which the others then share.
     */
    static ListenerSockets bind(Listener listener, EventLoopGroup workers, Transport transport,
            ClientInitializer initializer, String source) throws InterruptedException, ConfigException {
        List<Channel> sockets = new ArrayList<>();
        InetSocketAddress address = listener.address().toResolvedLiteral();
        try {
            for (var executor : workers) {
                EventLoop loop = (EventLoop) executor;
                ServerBootstrap bootstrap = ReusePort.on(new ServerBootstrap(), transport.serverChannelClass())
                        .group(loop, loop)
                        .channel(transport.serverChannelClass())
                        .option(ChannelOption.SO_BACKLOG, 4096)
                        .option(ChannelOption.SO_REUSEADDR, true)
                        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                        .childOption(ChannelOption.RECVBUF_ALLOCATOR, RelayReads.allocator())
                        // TCP_NODELAY is Netty's default already: setting it again costs a syscall.
                        .childHandler(initializer);
                Interception.prepare(bootstrap, listener);
                Channel socket = bootstrap.bind(address).sync().channel();
                sockets.add(socket);
                Interception.checkBound(socket, listener, source);
                address = (InetSocketAddress) socket.localAddress();
            }
        } catch (InterruptedException | ConfigException | RuntimeException e) {
            sockets.forEach(Channel::close);
            throw e;
        }
        initializer.boundTo(address);
        return new ListenerSockets(List.copyOf(sockets), initializer);
    }

    ClientInitializer initializer() {
        return initializer;
    }

    /** The address bound, with the port the kernel chose for port 0. */
    InetSocketAddress address() {
        return (InetSocketAddress) sockets.get(0).localAddress();
    }

    /** Applies a reload's change of {@code original_dst} to every socket. */
    void change(Listener before, Listener after, String source) throws ConfigException {
        for (Channel socket : sockets) {
            Interception.change(socket, before, after, source);
        }
    }

    /** Undoes {@link #change} when the rest of a reload fails. */
    void changeBack(Listener after, Listener before) {
        for (Channel socket : sockets) {
            Interception.changeBack(socket, after, before);
        }
    }

    void close() {
        sockets.forEach(Channel::close);
    }
}
