package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.Socket;
import io.snigate.transport.RingOps;
import io.snigate.transport.RingSocket;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * The upstream side of a tunnel on io_uring without a Netty channel: a {@link RingSocket} whose
 * connect, sends, receives and shutdown the relay submits to its event loop's ring. An upstream
 * channel costs each connection six more system calls, a pipeline, an outbound buffer and
 * promises (performance page, "The upstream as a socket"). This keeps what the relay needs of a
 * channel: a write queue with water marks, one read at a time, a FIN once the queue is written,
 * and a close that waits for the socket's last operation ({@link RingSocket}).
 */
public final class UpstreamSocket extends RingSocket implements UpstreamLink {
    // What each completion is for, in the user data's 16 bits.
    private static final short NODELAY = 1, CONNECT = 2, SEND = 3, POLL = 4, RECV = 5;
    /** Queued bytes at which the client stops being read, and the level at which it reads again. */
    static final int HIGH_WATER = 64 * 1024, LOW_WATER = 32 * 1024;

    /** What the relay hears from its upstream socket, on the event loop. */
    interface Listener {
        /** The socket is readable: the buffer to receive into, which the socket owns until it hands it back. */
        ByteBuf readBuffer();

        /** Bytes arrived; the listener owns them. */
        void upstreamRead(ByteBuf bytes);

        /** The upstream sent FIN. */
        void upstreamDoneSending();

        /** An operation failed (a reset, most often): the tunnel ends. */
        void upstreamFailed();

        /** The write queue fell below the low-water mark. */
        void upstreamWritable();
    }

    private final InetSocketAddress remote;
    private final ArrayDeque<ByteBuf> toSend = new ArrayDeque<>(2);
    private final int mark;
    private final Consumer<UpstreamSocket> connected;
    private final Consumer<Throwable> connectFailed;
    private ByteBuf sockaddr; // read by the kernel until the connect completes
    private Listener listener;
    private ByteBuf receiving;
    private Runnable whenClosed;
    private long connectId, sendId, pollId, recvId; // 0 when that operation is not in flight
    private int queuedBytes;
    private boolean aboveHighWater, shutdownAsked, shutDown, closeWhenWritten;

    private UpstreamSocket(int fd, InetSocketAddress remote, int mark, Consumer<UpstreamSocket> connected,
            Consumer<Throwable> connectFailed) {
        super(fd);
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
                new Socket(fd).setIntOpt(1, 36, mark); // SOL_SOCKET, SO_MARK
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

    // ---- what the relay asks ------------------------------------------------

    /** Starts relaying: {@code listener} hears from the socket from now on. */
    void startRelay(Listener listener) {
        this.listener = listener;
    }

    /** Whether a read can be asked for: relaying, none under way, not closing. */
    boolean canRead() {
        return listener != null && pollId == 0 && recvId == 0 && !isClosing();
    }

    /**
     * Reads once the socket is readable: a poll first, then a receive into the listener's buffer.
     * A receive submitted at once would hold its buffer for as long as the upstream stays silent,
     * a buffer on every idle tunnel.
     */
    void read() {
        pollId = submit(RingOps.pollIn(fd, POLL));
    }

    /** Queues {@code bytes} (direct, with a memory address) to be sent; the socket owns them. */
    void write(ByteBuf bytes) {
        if (isClosing() || shutdownAsked) {
            bytes.release();
            return;
        }
        toSend.add(bytes);
        queuedBytes += bytes.readableBytes();
        aboveHighWater |= queuedBytes >= HIGH_WATER;
        if (sendId == 0) {
            sendNext();
        }
    }

    /** False from the high-water mark until the queue is back below the low one. */
    boolean isWritable() {
        return !aboveHighWater;
    }

    /** Sends FIN once what is queued has been sent. */
    void shutdownOutput() {
        shutdownAsked = true;
        if (sendId == 0) {
            sendNext();
        }
    }

    /** Closes once what is queued has been sent. */
    void closeAfterWrites() {
        closeWhenWritten = true;
        if (sendId == 0) {
            sendNext();
        }
    }

    boolean isOpen() {
        return !isClosing();
    }

    // ---- UpstreamLink -----------------------------------------------------------

    @Override
    public InetSocketAddress remoteAddress() {
        return remote;
    }

    @Override
    public InetSocketAddress localAddress() {
        return isClosing() ? null : new Socket(fd).localAddress();
    }

    @Override
    public void whenClosed(Runnable action) {
        if (isReleased()) {
            action.run();
        } else {
            whenClosed = action;
        }
    }

    @Override
    protected void cancelInFlight() {
        cancel(connectId);
        cancel(sendId);
        cancel(pollId);
        cancel(recvId);
    }

    // ---- completions ------------------------------------------------------------

    @Override
    protected void completed(short tag, int res) {
        switch (tag) {
            case CONNECT -> connectDone(res);
            case SEND -> sent(res);
            case POLL -> readable(res);
            case RECV -> received(res);
            default -> { } // NODELAY: a failure cancels the linked connect
        }
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
            connectFailed.accept(new ConnectException("connect to " + remote + " failed: errno " + -res));
        } else {
            connected.accept(this);
        }
    }

    /** Sends the oldest queued bytes; once none are left, the FIN or the close that was asked for. */
    private void sendNext() {
        if (isClosing()) {
            return;
        }
        ByteBuf head = toSend.peek();
        if (head != null) {
            sendId = submit(RingOps.send(fd, head, SEND));
        } else if (closeWhenWritten) {
            close();
        } else if (shutdownAsked && !shutDown) {
            shutDown = true;
            shutdownOutputNow();
        }
    }

    private void sent(int res) {
        sendId = 0;
        if (isClosing()) {
            return;
        }
        if (res < 0) {
            failedIfNegative(res);
            return;
        }
        ByteBuf head = toSend.peek();
        head.skipBytes(res);
        queuedBytes -= res;
        if (!head.isReadable()) {
            toSend.poll().release();
        }
        if (aboveHighWater && queuedBytes < LOW_WATER) {
            aboveHighWater = false;
            listener.upstreamWritable();
        }
        sendNext();
    }

    /**
     * The FIN, by the system call rather than the ring: io_uring runs a shutdown on an io-wq worker
     * that looks the descriptor number up only when it takes it, later than anything else this
     * socket submits, and a socket closed meanwhile would have its number's next owner shut down.
     */
    private void shutdownOutputNow() {
        try {
            new Socket(fd).shutdown(false, true);
        } catch (IOException notConnected) {
            listener.upstreamFailed(); // the tunnel ends as on a failed send
        }
    }

    private void readable(int res) {
        pollId = 0;
        if (isClosing()) {
            return;
        }
        if (res < 0) {
            failedIfNegative(res);
            return;
        }
        receiving = listener.readBuffer();
        recvId = submit(RingOps.recv(fd, receiving, RECV));
    }

    private void received(int res) {
        recvId = 0;
        ByteBuf bytes = receiving;
        receiving = null;
        if (isClosing() || res <= 0) {
            bytes.release();
            if (res == 0 && !isClosing()) {
                listener.upstreamDoneSending();
            } else {
                failedIfNegative(res);
            }
            return;
        }
        bytes.writerIndex(bytes.writerIndex() + res);
        listener.upstreamRead(bytes);
    }

    private void failedIfNegative(int res) {
        if (res < 0 && res != RingOps.CANCELED && !isClosing() && listener != null) {
            listener.upstreamFailed();
        }
    }

    @Override
    protected void released() {
        ByteBuf held;
        while ((held = toSend.poll()) != null) {
            held.release();
        }
        if (receiving != null) {
            receiving.release();
            receiving = null;
        }
        if (sockaddr != null) {
            sockaddr.release();
            sockaddr = null;
        }
        if (whenClosed != null) {
            Runnable action = whenClosed;
            whenClosed = null;
            action.run();
        }
    }
}
