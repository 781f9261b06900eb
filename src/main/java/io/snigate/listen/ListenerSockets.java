package io.snigate.listen;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.snigate.config.ConfigException;
import io.snigate.config.Listener;
import io.snigate.core.PipelineNames;
import io.snigate.transport.AcceptFailures;
import io.snigate.transport.RelayReads;
import io.snigate.transport.ReusePort;
import io.snigate.transport.RingListener;
import io.snigate.transport.RingSocket;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One listen address, bound once per event loop, every socket with {@code SO_REUSEPORT}: the
 * kernel spreads new connections over the sockets, and each connection lives on the loop whose
 * socket accepted it, so accepting takes no hand-off between threads (nginx's, HAProxy's and
 * Envoy's way of using all cores). On io_uring the sockets accept through the ring themselves
 * ({@link RingListener}); on epoll and NIO they are Netty's server channels.
 */
final class ListenerSockets {
    private static final Logger LOG = LoggerFactory.getLogger(ListenerSockets.class);
    private static final int BACKLOG = 4096;
    /** {@code -Dsnigate.accept=channel} accepts through Netty's server channel on io_uring too (for measurements). */
    private static final boolean ACCEPT_ON_RING = !"channel".equals(System.getProperty("snigate.accept"));

    /** Netty's server channels (epoll, NIO), or none. */
    private final List<Channel> sockets;
    /** The listeners that accept through the ring (io_uring), or none. */
    private final List<RingListener> rings;
    private final ClientInitializer initializer;

    private ListenerSockets(List<Channel> sockets, List<RingListener> rings, ClientInitializer initializer) {
        this.sockets = sockets;
        this.rings = rings;
        this.initializer = initializer;
    }

    /** How client connections are accepted on {@code transport}, for the start-up log. */
    static String accepts(Transport transport) {
        return ACCEPT_ON_RING && transport.name().equals("io_uring") ? "on the ring" : "by Netty's server channel";
    }

    /**
     * Binds {@code listener} on every loop of {@code workers}. Port 0 means the port the kernel
     * gives the first socket, which the others then share.
     */
    static ListenerSockets bind(Listener listener, EventLoopGroup workers, Transport transport,
            ClientInitializer initializer, String source) throws InterruptedException, ConfigException {
        InetSocketAddress address = listener.address().toResolvedLiteral();
        try {
            return ACCEPT_ON_RING && RingSocket.usableOn(workers.next())
                    ? bindRings(listener, workers, initializer, source)
                    : bindChannels(listener, workers, transport, initializer, source);
        } catch (InterruptedException | ConfigException e) {
            throw e;
        } catch (Exception e) { // Netty's bind throws the system call's IOException unchecked
            throw BindChecks.failed(source, listener.line(), "listen", address, e);
        }
    }

    private static ListenerSockets bindChannels(Listener listener, EventLoopGroup workers, Transport transport,
            ClientInitializer initializer, String source) throws InterruptedException, ConfigException {
        List<Channel> sockets = new ArrayList<>();
        InetSocketAddress address = listener.address().toResolvedLiteral();
        knownBeforeTheBind(initializer, address);
        try {
            for (var executor : workers) {
                EventLoop loop = (EventLoop) executor;
                ServerBootstrap bootstrap = ReusePort.on(new ServerBootstrap(), transport.serverChannelClass())
                        .group(loop, loop)
                        .channelFactory(transport.serverChannelFor(address))
                        .option(ChannelOption.SO_BACKLOG, BACKLOG)
                        .option(ChannelOption.SO_REUSEADDR, true)
                        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                        .childOption(ChannelOption.RECVBUF_ALLOCATOR, RelayReads.allocator())
                        // TCP_NODELAY is Netty's default already: setting it again costs a syscall.
                        .childHandler(initializer);
                Interception.prepare(bootstrap, listener);
                Channel socket = bootstrap.bind(address).sync().channel();
                sockets.add(socket);
                // Behind the acceptor, which the bind has added by now.
                socket.pipeline().addLast(PipelineNames.ACCEPT_FAILURES, new AcceptFailures());
                Interception.checkBound(socket, listener, source);
                address = (InetSocketAddress) socket.localAddress();
            }
        } catch (InterruptedException | ConfigException | RuntimeException e) {
            sockets.forEach(Channel::close);
            throw e;
        }
        initializer.boundTo(address);
        return new ListenerSockets(List.copyOf(sockets), List.of(), initializer);
    }

    /**
     * A socket accepts as soon as it is bound: its connections must know the listener's port by
     * then (a tproxy listener tells a direct connection by it). Port 0 is known only once bound.
     */
    private static void knownBeforeTheBind(ClientInitializer initializer, InetSocketAddress address) {
        if (address.getPort() != 0) {
            initializer.boundTo(address);
        }
    }

    private static ListenerSockets bindRings(Listener listener, EventLoopGroup workers, ClientInitializer initializer,
            String source) throws InterruptedException, ConfigException {
        List<RingListener> rings = new ArrayList<>();
        InetSocketAddress address = listener.address().toResolvedLiteral();
        knownBeforeTheBind(initializer, address);
        try {
            for (var executor : workers) {
                RingListener ring;
                try {
                    ring = RingListener.bind((EventLoop) executor, address, BACKLOG,
                            listener.originalDst() == Listener.OriginalDst.TPROXY, initializer, RelayReads.allocator());
                } catch (RingListener.NotTransparent e) {
                    throw Interception.notTransparent(listener, source);
                } catch (IOException e) {
                    throw new ChannelException(e); // as Netty's bind reports it: "Address already in use"
                }
                rings.add(ring);
                address = ring.address();
            }
        } catch (InterruptedException | ConfigException | RuntimeException e) {
            rings.forEach(RingListener::stop);
            throw e;
        }
        initializer.boundTo(address);
        return new ListenerSockets(List.of(), List.copyOf(rings), initializer);
    }

    ClientInitializer initializer() {
        return initializer;
    }

    /** The address bound, with the port the kernel chose for port 0. */
    InetSocketAddress address() {
        return rings.isEmpty() ? (InetSocketAddress) sockets.get(0).localAddress() : rings.get(0).address();
    }

    /** How many sockets this process listens with on the address: one per event loop. */
    int count() {
        return sockets.size() + rings.size();
    }

    /** Applies a reload's change of {@code original_dst} to every socket. */
    void change(Listener before, Listener after, String source) throws ConfigException {
        for (Channel socket : sockets) {
            Interception.change(socket, before, after, source);
        }
        for (RingListener ring : rings) {
            Interception.change(ring, before, after, source);
        }
    }

    /** Undoes {@link #change} when the rest of a reload fails. */
    void changeBack(Listener after, Listener before) {
        for (Channel socket : sockets) {
            Interception.changeBack(socket, after, before);
        }
        for (RingListener ring : rings) {
            Interception.changeBack(ring, after, before);
        }
    }

    void close() {
        sockets.forEach(Channel::close);
        rings.forEach(RingListener::stop);
    }
}
