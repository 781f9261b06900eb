package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.snigate.transport.LinuxSocketOptions;
import io.snigate.transport.RingOps;
import io.snigate.transport.RingSocket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.function.Consumer;

/**
 * The upstream side of a tunnel on io_uring without a Netty channel: a {@link RelaySocket} that
 * opens its socket and connects it through the ring ({@link #connect}).
 */
public final class UpstreamSocket extends RelaySocket implements UpstreamLink {
    // What each completion is for, in the user data's 16 bits (RelaySocket's own tags are above).
    private static final short NODELAY = 1, CONNECT = 2;

    private final InetSocketAddress remote;
    private final int mark;
    private final Consumer<UpstreamSocket> connected;
    private final Consumer<Throwable> connectFailed;
    private ByteBuf sockaddr; // read by the kernel until the connect completes
    private long connectId; // 0 when no connect is in flight
    private InetSocketAddress local; // null until asked

    private UpstreamSocket(int fd, InetSocketAddress remote, int mark, Consumer<UpstreamSocket> connected,
            Consumer<Throwable> connectFailed) {
        super(fd, null);
        this.remote = remote;
        this.mark = mark;
        this.connected = connected;
        this.connectFailed = connectFailed;
    }

    /**
     * Opens a socket on {@code loop} (one {@link RingSocket#usableOn usable}, and the caller on
     * its thread) and connects it to {@code target}, with {@code SO_MARK} set to {@code mark}
     * unless 0; then, on the loop, {@code connected} runs with it or {@code failed} with the cause
     * (neither once it is closed before it connected). Closing the returned socket abandons the
     * connect; null, after {@code failed}, when not even the socket could be made.
     */
    public static UpstreamSocket connect(EventLoop loop, InetSocketAddress target, int mark,
            Consumer<UpstreamSocket> connected, Consumer<Throwable> failed) {
        int fd;
        try {
            fd = RingOps.newSocket(target);
        } catch (RuntimeException e) {
            failed.accept(e);
            return null;
        }
        UpstreamSocket socket = new UpstreamSocket(fd, target, mark, connected, failed);
        socket.register(loop);
        return socket;
    }

    @Override
    protected void ringReady() {
        if (mark != 0) {
            try {
                socket().setIntOpt(LinuxSocketOptions.SOL_SOCKET, LinuxSocketOptions.SO_MARK, mark);
            } catch (IOException e) {
                close();
                connectFailed.accept(e);
                return;
            }
        }
        sockaddr = ByteBufAllocator.DEFAULT.directBuffer(RingOps.SOCKADDR_AND_OPTION_BYTES);
        int length = RingOps.writeSockaddr(sockaddr, remote);
        submit(RingOps.noDelayThen(fd, sockaddr, NODELAY)); // its failure cancels the connect
        connectId = submit(RingOps.connect(fd, sockaddr, length, CONNECT));
    }

    @Override
    protected void ringRefused(Throwable cause) {
        connectFailed.accept(cause);
    }

    // ---- UpstreamLink -----------------------------------------------------------

    @Override
    public InetSocketAddress remoteAddress() {
        return remote;
    }

    /** Asked once: the this-host check and the loop check of a transparent listener both ask. */
    @Override
    public InetSocketAddress localAddress() {
        if (local == null && !isClosing()) {
            local = socket().localAddress();
        }
        return local;
    }

    @Override
    protected void cancelInFlight() {
        cancel(connectId);
        super.cancelInFlight();
    }

    @Override
    protected void completedOther(short tag, int res) {
        if (tag == CONNECT) {
            connectDone(res);
        } // NODELAY: a failure cancels the linked connect
    }

    private void connectDone(int res) {
        connectId = 0;
        sockaddr.release();
        sockaddr = null;
        if (isClosing()) {
            return; // abandoned meanwhile: whoever closed it has moved on
        }
        if (res < 0) {
            close();
            connectFailed.accept(new DialFailed(remote, -res));
        } else {
            connected.accept(this);
        }
    }

    @Override
    protected void released() {
        if (sockaddr != null) {
            sockaddr.release();
            sockaddr = null;
        }
        super.released();
    }
}
