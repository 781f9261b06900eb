package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.Promise;
import io.snigate.transport.RingOps;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * The upstream side of a tunnel on io_uring without a Netty channel: a socket whose connect,
 * sends, receives, shutdown and close this handle submits to its event loop's ring itself. An
 * upstream channel costs each connection six more system calls, two poll operations, a pipeline,
 * an outbound buffer and promises (performance page, "Below the floor"). This keeps what the relay
 * needs of a channel: a write queue with water marks, one receive at a time, a FIN once the queue
 * is written, and a close.
 *
 * <p>The close is submitted only once no operation naming the socket is left, cancelled ones
 * included. The kernel runs a shutdown on an io-wq worker and looks the descriptor number up only
 * there; a socket closed before that would have its number, by then another connection's socket,
 * shut down (performance page, "Closing a socket driven by hand").
 */
public final class UpstreamSocket implements IoUringIoHandle, UpstreamLink {
    // What each completion is for, in the user data's 16 bits.
    private static final short NODELAY = 1, CONNECT = 2, SEND = 3, POLL = 4, RECV = 5, SHUTDOWN = 6, CLOSE = 7,
            CANCEL = 8;
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
    private final int fd;
    private final ArrayDeque<ByteBuf> toSend = new ArrayDeque<>(2);
    private IoRegistration registration;
    private Promise<UpstreamSocket> connecting;
    private ByteBuf sockaddr; // read by the kernel until the connect completes
    private Listener listener;
    private ByteBuf receiving;
    private Runnable whenClosed;
    private long connectId, sendId, pollId, recvId; // 0 when that operation is not in flight
    /** Operations naming {@link #fd} not yet completed. */
    private int onSocket;
    private int queuedBytes;
    private boolean aboveHighWater, shutdownAsked, shutdownSubmitted, closeWhenWritten, closing, closeSubmitted, released;

    private UpstreamSocket(InetSocketAddress remote, int fd) {
        this.remote = remote;
        this.fd = fd;
    }

    /** Whether sockets can be driven on {@code loop}'s ring: io_uring. */
    public static boolean usableOn(EventLoop loop) {
        return loop instanceof IoEventLoop ioLoop && ioLoop.isCompatible(UpstreamSocket.class);
    }

    /**
     * Opens a socket on {@code loop} (which must be {@link #usableOn usable}, and the caller on it)
     * and connects it to {@code target}; {@code connected} completes with it, or fails with the
     * cause. Closing the returned socket abandons the connect.
     */
    public static UpstreamSocket connect(EventLoop loop, InetSocketAddress target, int mark,
            Promise<UpstreamSocket> connected) {
        int fd;
        try {
            fd = RingOps.newSocket(target);
        } catch (RuntimeException e) {
            connected.tryFailure(e);
            return null;
        }
        UpstreamSocket socket = new UpstreamSocket(target, fd);
        socket.connecting = connected;
        try {
            if (mark != 0) {
                new Socket(fd).setIntOpt(1, 36, mark); // SOL_SOCKET, SO_MARK
            }
        } catch (IOException e) {
            socket.closeNow();
            connected.tryFailure(e);
            return socket;
        }
        ((IoEventLoop) loop).register(socket).addListener(registered -> {
            if (!registered.isSuccess()) {
                socket.closeNow();
                connected.tryFailure(registered.cause());
                return;
            }
            socket.registration = (IoRegistration) registered.getNow();
            if (socket.closing) {
                socket.closeWhenIdle(); // abandoned before it was registered
            } else {
                socket.submitConnect();
            }
        });
        return socket;
    }

    private void submitConnect() {
        sockaddr = ByteBufAllocator.DEFAULT.directBuffer(RingOps.SOCKADDR_AND_OPTION_BYTES);
        int length = RingOps.writeSockaddr(sockaddr, remote);
        onSocket += 2;
        registration.submit(RingOps.noDelayThen(fd, sockaddr, NODELAY)); // its failure cancels the connect
        connectId = registration.submit(RingOps.connect(fd, sockaddr, length, CONNECT));
    }

    // ---- what the relay asks ------------------------------------------------

    /** Starts relaying: {@code listener} hears from the socket from now on. */
    void startRelay(Listener listener) {
        this.listener = listener;
    }

    /** Whether a read can be asked for: relaying, none under way, not closing. */
    boolean canRead() {
        return listener != null && pollId == 0 && recvId == 0 && !closing;
    }

    /**
     * Reads once the socket is readable: a poll first, then a receive into the listener's buffer.
     * A receive submitted at once would hold its buffer for as long as the upstream stays silent,
     * a buffer on every idle tunnel.
     */
    void read() {
        onSocket++;
        pollId = registration.submit(RingOps.pollIn(fd, POLL));
    }

    /** Queues {@code bytes} (direct, with a memory address) to be sent; the socket owns them. */
    void write(ByteBuf bytes) {
        if (closing || shutdownAsked) {
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

    // ---- UpstreamLink -----------------------------------------------------------

    @Override
    public InetSocketAddress remoteAddress() {
        return remote;
    }

    @Override
    public InetSocketAddress localAddress() {
        return closing ? null : new Socket(fd).localAddress();
    }

    @Override
    public void whenClosed(Runnable action) {
        if (released) {
            action.run();
        } else {
            whenClosed = action;
        }
    }

    /** Cancels what is in flight and closes the socket once nothing names it. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        if (registration == null) {
            return; // registering: closed once registered
        }
        for (long id : new long[] {connectId, sendId, pollId, recvId}) {
            if (id != 0) {
                registration.submit(RingOps.cancel(id, CANCEL));
            }
        }
        closeWhenIdle();
    }

    boolean isOpen() {
        return !closing;
    }

    // ---- the ring ---------------------------------------------------------------

    @Override
    public void handle(IoRegistration ignored, IoEvent ioEvent) {
        IoUringIoEvent event = (IoUringIoEvent) ioEvent;
        int res = event.res();
        short tag = event.data();
        if (tag != CLOSE && tag != CANCEL) {
            onSocket--;
        }
        switch (tag) {
            case CONNECT -> connected(res);
            case SEND -> sent(res);
            case POLL -> readable(res);
            case RECV -> received(res);
            case SHUTDOWN -> failedIfNegative(res);
            case CLOSE -> registration.cancel(); // unregistered() follows once nothing is in flight
            default -> { } // NODELAY (a failure cancels the linked connect), CANCEL
        }
        if (closing) {
            closeWhenIdle();
        }
    }

    private void connected(int res) {
        connectId = 0;
        sockaddr.release();
        sockaddr = null;
        if (res < 0) {
            connecting.tryFailure(new ConnectException("connect to " + remote + " failed: errno " + -res));
            close();
        } else if (closing || !connecting.trySuccess(this)) {
            close(); // abandoned meanwhile
        }
        connecting = null;
    }

    /** Sends the oldest queued bytes; once none are left, the FIN or the close that was asked for. */
    private void sendNext() {
        if (closing) {
            return;
        }
        ByteBuf head = toSend.peek();
        if (head != null) {
            onSocket++;
            sendId = registration.submit(RingOps.send(fd, head, SEND));
        } else if (closeWhenWritten) {
            close();
        } else if (shutdownAsked && !shutdownSubmitted) {
            shutdownSubmitted = true;
            onSocket++;
            registration.submit(RingOps.shutdownOutput(fd, SHUTDOWN));
        }
    }

    private void sent(int res) {
        sendId = 0;
        if (closing) {
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

    private void readable(int res) {
        pollId = 0;
        if (closing) {
            return;
        }
        if (res < 0) {
            failedIfNegative(res);
            return;
        }
        receiving = listener.readBuffer();
        onSocket++;
        recvId = registration.submit(RingOps.recv(fd, receiving, RECV));
    }

    private void received(int res) {
        recvId = 0;
        ByteBuf bytes = receiving;
        receiving = null;
        if (closing || res <= 0) {
            bytes.release();
            if (res == 0 && !closing) {
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
        if (res < 0 && res != RingOps.CANCELED && !closing && listener != null) {
            listener.upstreamFailed();
        }
    }

    private void closeWhenIdle() {
        if (onSocket == 0 && !closeSubmitted) {
            closeSubmitted = true;
            registration.submit(RingOps.close(fd, CLOSE));
        }
    }

    /** The socket never reached the ring: closed by the system call. */
    private void closeNow() {
        closing = true;
        closeSubmitted = true;
        try {
            new Socket(fd).close();
        } catch (IOException ignored) {
            // a socket that never connected; nothing is left to undo
        }
        released();
    }

    /** The ring holds no more of this socket's operations: what they used can go. */
    @Override
    public void unregistered() {
        released();
    }

    private void released() {
        released = true;
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
