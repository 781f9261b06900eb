package io.snigate.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.unix.Errors;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A listening socket on one io_uring event loop that accepts through the ring, one {@code ACCEPT}
 * at a time, and hands each connection to the pipeline as a {@link RingClientChannel}: what
 * Netty's server channel and {@code ServerBootstrap} do, without a child channel that asks the
 * kernel again what the accept already said.
 */
public final class RingListener extends RingSocket {
    static final short ACCEPT = 1;
    private static final Logger LOG = LoggerFactory.getLogger(RingListener.class);
    private static final long ACCEPT_PAUSE_MILLIS = 1_000;
    private static final int EINTR = 4, EAGAIN = 11, ECONNABORTED = 103;

    private final EventLoop loop;
    private final Socket socket;
    private final InetSocketAddress local;
    private final ChannelHandler childHandler;
    private final RecvByteBufAllocator reads;
    private final ByteBuf sockaddr = RingOps.newAcceptSockaddr();
    private final Promise<Void> registered;
    private long acceptId;
    /** Whether {@code IP_TRANSPARENT} is set: a connection's local address is then where it was going. */
    private volatile boolean transparent;

    private RingListener(EventLoop loop, Socket socket, InetSocketAddress local, ChannelHandler childHandler,
            RecvByteBufAllocator reads) {
        super(socket.intValue());
        this.loop = loop;
        this.registered = loop.newPromise();
        this.socket = socket;
        this.local = local;
        this.childHandler = childHandler;
        this.reads = reads;
    }

    /**
     * Binds {@code address} with {@code SO_REUSEPORT} (one listener per loop), {@code IP_TRANSPARENT}
     * for a TPROXY listener, and starts accepting on {@code loop}; each connection gets
     * {@code childHandler} and reads through {@code reads}.
     *
     * @throws NotTransparent when {@code transparent} and the process may not set it
     */
    public static RingListener bind(EventLoop loop, InetSocketAddress address, int backlog, boolean transparent,
            ChannelHandler childHandler, RecvByteBufAllocator reads) throws IOException, InterruptedException {
        boolean ipv6 = address.getAddress() instanceof Inet6Address;
        Socket socket = new Socket(RingOps.newListener(ipv6));
        try {
            socket.setReuseAddress(true);
            socket.setReusePort(true);
            // Every accepted socket inherits it: without it a relayed answer's second small write
            // waits for the client's delayed ACK, about 40 ms per exchange (Nagle's algorithm).
            socket.setTcpNoDelay(true);
            if (transparent) {
                // Before listen(): a listening member of the port's SO_REUSEPORT group (a restart
                // beside the running process) that is not transparent yet can be picked by TPROXY
                // for a connection it cannot take, which the firewall's rules then refuse.
                try {
                    setTransparent(socket, ipv6, true);
                } catch (IOException refused) {
                    throw new NotTransparent(refused);
                }
            }
            socket.bind(address);
            socket.listen(backlog);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        RingListener listener = new RingListener(loop, socket, socket.localAddress(), childHandler, reads);
        listener.transparent = transparent;
        loop.execute(() -> listener.register(loop));
        listener.registered.sync(); // throws what the ring refused with; the socket is closed by then
        return listener;
    }

    /** The address bound, with the port the kernel chose for port 0. */
    public InetSocketAddress address() {
        return local;
    }

    /** Sets or clears {@code IP_TRANSPARENT} (TPROXY) on the listening socket (a reload's change). */
    public void transparent(boolean transparent) throws IOException {
        setTransparent(socket, local.getAddress() instanceof Inet6Address, transparent);
        this.transparent = transparent;
    }

    private static void setTransparent(Socket socket, boolean ipv6, boolean transparent) throws IOException {
        IntegerUnixChannelOption option = LinuxSocketOptions.transparent(ipv6);
        socket.setIntOpt(option.level(), option.optname(), transparent ? 1 : 0);
    }

    /** The process may not make a listener transparent (it lacks {@code CAP_NET_ADMIN}). */
    public static final class NotTransparent extends IOException {
        NotTransparent(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** Stops accepting: the pending accept is cancelled and the socket closed, on its loop. */
    public void stop() {
        try {
            loop.execute(this::close);
        } catch (RejectedExecutionException stopped) {
            // The loop has ended (the process is stopping): it closed its sockets as it did.
        }
    }

    @Override
    protected void ringReady() {
        registered.setSuccess(null);
        acceptNext();
    }

    @Override
    protected void ringRefused(Throwable cause) {
        registered.setFailure(cause);
    }

    /** A failure of one connection only (it was reset while queued), not of accepting. */
    private static boolean passing(int res) {
        return res == -ECONNABORTED || res == -EINTR || res == -EAGAIN;
    }

    private void acceptNext() {
        if (isClosing()) {
            return;
        }
        acceptId = submit(RingOps.accept(fd, sockaddr, ACCEPT));
    }

    @Override
    protected void completed(short tag, int res, int flags) {
        acceptId = 0;
        if (res < 0 && res != RingOps.CANCELED && !isClosing() && !passing(res)) {
            // Out of descriptors or memory, most likely: every accept would fail at once again.
            // Like Netty's ServerBootstrap, pause a second rather than spin.
            AcceptFailures.failed(local, Errors.newIOException("accept", res)); // the errno's words
            loop.schedule(this::acceptNext, ACCEPT_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
            return;
        }
        if (res >= 0) {
            if (loop.isShuttingDown()) {
                closeDescriptor(res); // nothing would serve it
                return;
            }
            // Served also when the listener is stopping: its accept completed before the cancel
            // could take it, and the client is connected. A drain serves it as it serves every
            // open connection; closed here, it would be refused, which a restart's hand-over
            // promises no client is.
            // A wildcard or transparent listener's connections are addressed to more than its address.
            InetSocketAddress knownLocal = transparent || local.getAddress().isAnyLocalAddress() ? null : local;
            RingClientChannel child = new RingClientChannel(res, knownLocal, RingOps.acceptedPeer(sockaddr));
            child.config().setAllowHalfClosure(true);
            child.config().setRecvByteBufAllocator(reads);
            child.pipeline().addLast(childHandler);
            loop.register(child);
        }
        if (!isClosing()) {
            acceptNext();
        }
    }

    /** Logged, and the listener goes on accepting: closing it would refuse every client after. */
    @Override
    protected void completionThrew(short tag, Throwable thrown) {
        if (thrown instanceof OutOfMemoryError) {
            LOG.warn("accepting on {}: {}; accepting the next connection", AcceptFailures.named(local), thrown.toString());
        } else {
            LOG.error("accepting on {} threw; accepting the next connection", AcceptFailures.named(local), thrown);
        }
        if (!isClosing() && acceptId == 0) {
            acceptNext();
        }
    }

    @Override
    protected void cancelInFlight() {
        cancel(acceptId);
    }

    @Override
    protected void released() {
        sockaddr.release();
    }
}
