package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.snigate.transport.RingOps;
import io.snigate.transport.RingSocket;
import java.io.IOException;
import java.nio.channels.NotYetConnectedException;
import java.util.ArrayDeque;

/**
 * One side of a tunnel on io_uring without a Netty channel: a {@link RingSocket} whose sends,
 * receives and FIN the relay submits to its event loop's ring. It keeps what the relay needs of a
 * channel: a write queue with water marks, one read at a time, a FIN once the queue is written, and
 * a close that waits for the socket's last operation. A channel costs each connection more system
 * calls, a pipeline, an outbound buffer and promises (performance page, "The upstream as a socket",
 * "The client side handed over").
 *
 * <p>About 400 lines: the write queue, the reads, the watch for a reset while paused, the FIN and
 * the close all turn on the same operations in flight, which every completion updates; split, each
 * side of a tunnel would be several objects and each completion a call between them.
 */
public abstract class RelaySocket extends RingSocket {
    // What each completion is for, in the user data's 16 bits; a subclass uses tags below 16.
    private static final short SEND = 16, POLL = 17, RECV = 18, HANG_UP = 19;
    /** Queued bytes at which the other side stops being read, and the level at which it reads again. */
    static final int HIGH_WATER = 64 * 1024, LOW_WATER = 32 * 1024;

    /** Made at the first write, then kept: a client whose server has not answered holds none. */
    private ArrayDeque<ByteBuf> toSend;
    private RelayListener listener;
    private ByteBuf receiving;
    private Runnable whenClosed;
    private long sendId, pollId, recvId, hangUpId; // 0 when that operation is not in flight
    /** The watch for a reset fired without an error: the peer's FIN, not read yet. */
    private boolean peerFinished;
    private int queuedBytes;
    private boolean aboveHighWater, shutdownAsked, closeWhenWritten;
    /** Netty's object for the descriptor, for the calls not made on the ring; see {@link #socket()}. */
    private Socket socket;

    /** {@code socket}: Netty's object for {@code fd} if one exists already, else null. */
    protected RelaySocket(int fd, Socket socket) {
        super(fd);
        this.socket = socket;
    }

    /**
     * Netty's object for the descriptor, made at the first call if none was given: its constructor
     * asks the kernel for the address family, a system call per socket that a client's channel
     * has made already.
     */
    protected final Socket socket() {
        if (socket == null) {
            socket = new Socket(fd);
        }
        return socket;
    }

    /** The descriptor for a read or a write by system call, which needs no address family: no system call to make. */
    private FileDescriptor descriptor() {
        return socket != null ? socket : new FileDescriptor(fd);
    }

    /** Starts relaying: {@code listener} hears from the socket from now on. */
    final void startRelay(RelayListener listener) {
        this.listener = listener;
    }

    /** Whether a read can be asked for: relaying, none under way, not closing. */
    final boolean canRead() {
        return listener != null && pollId == 0 && recvId == 0 && !isClosing();
    }

    /**
     * Reads once the socket is readable: a poll first, then a receive into the listener's buffer.
     * A receive submitted at once would hold its buffer for as long as the peer stays silent, a
     * buffer on every idle tunnel.
     */
    final void read() {
        pollId = submit(RingOps.pollIn(fd, POLL));
    }

    /**
     * Watches for the peer's reset while the socket is not read (its bytes wait for the other
     * side's queue to drain): nothing else would tell of it until the idle timeout, as epoll's
     * registration does. Armed at the first pause and left until it fires or the socket closes,
     * so that a transfer that pauses at every read asks for it once. io_uring's poll also fires on
     * the peer's FIN; after that it is not armed again (it would fire at once each time), and a
     * reset that follows the FIN in the same pause waits for the read.
     */
    final void watchWhilePaused() {
        if (hangUpId == 0 && !peerFinished && listener != null && !isClosing()) {
            hangUpId = submit(RingOps.pollHangUp(fd, HANG_UP));
        }
    }

    /** Queues {@code bytes} (direct, with a memory address) to be sent; the socket owns them. */
    final void write(ByteBuf bytes) {
        if (isClosing() || shutdownAsked) {
            bytes.release();
            return;
        }
        if (toSend == null) {
            toSend = new ArrayDeque<>(2);
        }
        toSend.add(bytes);
        queuedBytes += bytes.readableBytes();
        aboveHighWater |= queuedBytes >= HIGH_WATER;
        if (sendId == 0) {
            sendNext();
        }
    }

    /** Bytes queued to be sent and not sent yet. */
    final int queued() {
        return queuedBytes;
    }

    /**
     * The socket is closing with what is queued unsent: returns how much, once (the queue itself
     * is released when the socket has closed).
     */
    final int dropQueued() {
        int dropped = queuedBytes;
        queuedBytes = 0;
        return dropped;
    }

    /** False from the high-water mark until the queue is back below the low one. */
    final boolean isWritable() {
        return !aboveHighWater;
    }

    /**
     * Sends {@code bytes} (direct, with a memory address), then FIN. With nothing queued both go at
     * once by system calls, as a C proxy sends its last bytes and FIN in one turn: a send left to
     * the ring goes out at the loop's next submission and the FIN only at its completion, a turn or
     * more later, and a peer that read the bytes meanwhile sleeps and is woken again for the FIN
     * (performance page, "The last bytes and FIN together"). Bytes the socket does not take at once
     * are queued, the FIN after them.
     */
    final void writeAndShutdown(ByteBuf bytes) {
        if (isClosing() || shutdownAsked) {
            bytes.release();
            return;
        }
        if (sendId == 0 && (toSend == null || toSend.isEmpty())) {
            try {
                bytes.skipBytes(descriptor().writeAddress(bytes.memoryAddress(), bytes.readerIndex(), bytes.writerIndex()));
            } catch (IOException refused) {
                bytes.release();
                listener.failed(this, true, BrokenPipe.is(refused));
                return;
            }
            if (!bytes.isReadable()) {
                bytes.release();
                shutdownAsked = true;
                shutdownOutputNow();
                return;
            }
        }
        write(bytes);
        shutdownOutput();
    }

    /** Sends FIN once what is queued has been sent. */
    final void shutdownOutput() {
        shutdownAsked = true;
        if (sendId == 0) {
            sendNext();
        }
    }

    /** Closes once what is queued has been sent. */
    final void closeAfterWrites() {
        closeWhenWritten = true;
        if (sendId == 0) {
            sendNext();
        }
    }

    final boolean isOpen() {
        return !isClosing();
    }

    /** The close, when it comes, sends a reset (SO_LINGER 0), not a FIN. */
    final void resetOnClose() {
        if (!isClosing()) {
            try {
                socket().setSoLinger(0);
            } catch (IOException closedMeanwhile) {
                // its close sends what the kernel has left to send
            }
        }
    }

    /**
     * Runs {@code action} once nothing names the socket any more (at once if that is so now), after
     * those asked for before.
     */
    public final void whenClosed(Runnable action) {
        if (isReleased()) {
            action.run();
        } else if (whenClosed == null) {
            whenClosed = action;
        } else {
            Runnable before = whenClosed;
            whenClosed = () -> {
                before.run();
                action.run();
            };
        }
    }

    @Override
    protected void cancelInFlight() {
        cancel(sendId);
        cancel(pollId);
        cancel(recvId);
        cancel(hangUpId);
    }

    // ---- completions ------------------------------------------------------------

    @Override
    protected void completed(short tag, int res, int flags) {
        switch (tag) {
            case SEND -> sent(res);
            case POLL -> readable(res);
            case RECV -> received(res, flags);
            case HANG_UP -> hungUp(res);
            default -> completedOther(tag, res);
        }
    }

    /** A subclass's own operation completed. */
    protected abstract void completedOther(short tag, int res);

    /** Sends the oldest queued bytes; once none are left, the FIN or the close that was asked for. */
    private void sendNext() {
        if (isClosing()) {
            return;
        }
        ByteBuf head = toSend == null ? null : toSend.peek();
        if (head != null) {
            sendId = submit(RingOps.send(fd, head, SEND));
        } else if (closeWhenWritten) {
            close();
        } else if (shutdownAsked && !socket().isOutputShutdown()) { // Socket keeps that state
            shutdownOutputNow();
        }
    }

    private void sent(int res) {
        sendId = 0;
        if (isClosing()) {
            return;
        }
        if (res < 0) {
            failedIfNegative(res, true);
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
            compactHead();
            listener.writable(this);
        }
        sendNext();
    }

    /**
     * The other side is about to be read again, into a buffer of up to a megabyte: what is left of
     * a large head moves to a buffer of its size first, so that a receiver that takes a backlog
     * slowly does not pin two large buffers, the sent part of one beside the next.
     */
    private void compactHead() {
        ByteBuf head = toSend.peek();
        if (head != null && head.capacity() - head.readableBytes() > HIGH_WATER) {
            ByteBuf rest = head.alloc().directBuffer(head.readableBytes()).writeBytes(head);
            toSend.poll().release();
            toSend.addFirst(rest);
        }
    }

    /**
     * The FIN, by the system call rather than the ring: io_uring runs a shutdown on an io-wq worker
     * that looks the descriptor number up only when it takes it, later than anything else this
     * socket submits, and a socket closed meanwhile would have its number's next owner shut down.
     * On a socket its peer has reset, shutdown(2) answers ENOTCONN, which Netty throws unchecked.
     */
    private void shutdownOutputNow() {
        try {
            socket().shutdown(false, true);
        } catch (IOException | NotYetConnectedException notConnected) {
            listener.failed(this, true, false); // the tunnel ends as on a failed send
        }
    }

    /**
     * The watch fired: a pending error is a reset, and ends the tunnel as a failed read would.
     * Without one, the peer's FIN (or both directions closed in order), which the reads see.
     */
    private void hungUp(int res) {
        hangUpId = 0;
        if (res < 0 || isClosing()) {
            return;
        }
        int error;
        try {
            error = socket().getSoError();
        } catch (IOException unreadable) {
            error = -1;
        }
        if (error != 0) {
            listener.failed(this, false, false);
        } else {
            peerFinished = true;
        }
    }

    private void readable(int res) {
        pollId = 0;
        if (isClosing()) {
            return;
        }
        if (res < 0) {
            failedIfNegative(res, false);
            return;
        }
        receiving = listener.readBuffer(this);
        recvId = submit(RingOps.recv(fd, receiving, RECV));
    }

    private void received(int res, int flags) {
        recvId = 0;
        ByteBuf bytes = receiving;
        receiving = null;
        if (isClosing() || res <= 0) {
            bytes.release();
            if (res == 0 && !isClosing()) {
                listener.doneSending(this);
            } else {
                failedIfNegative(res, false);
            }
            return;
        }
        bytes.writerIndex(bytes.writerIndex() + res);
        if ((flags & RingOps.SOCK_NONEMPTY) != 0 && bytes.isWritable()) {
            receivedMore(bytes);
        } else {
            listener.bytesRead(this, bytes);
        }
    }

    /**
     * A receive that left room in its buffer and still the socket is not empty: what is left is
     * most often the peer's FIN (a server that answers and closes), so it is read at once by the
     * system call, and a FIN goes to the listener with the bytes before it rather than a poll and a
     * receive later.
     */
    private void receivedMore(ByteBuf bytes) {
        int more;
        try {
            more = descriptor().readAddress(bytes.memoryAddress(), bytes.writerIndex(), bytes.capacity());
        } catch (IOException reset) {
            listener.bytesRead(this, bytes);
            if (!isClosing()) {
                listener.failed(this, false, false);
            }
            return;
        }
        if (more < 0) { // end of stream
            listener.lastBytesRead(this, bytes);
            return;
        }
        bytes.writerIndex(bytes.writerIndex() + more);
        listener.bytesRead(this, bytes);
    }

    /** The tunnel ends with the socket: over a budget without memory, else as a bug. */
    @Override
    protected void completionThrew(short tag, Throwable thrown) {
        super.completionThrew(tag, thrown);
        if (listener == null) {
            return;
        }
        listener.threw(this, thrown);
    }

    private void failedIfNegative(int res, boolean sending) {
        if (res < 0 && res != RingOps.CANCELED && !isClosing() && listener != null) {
            listener.failed(this, sending, sending && BrokenPipe.is(res));
        }
    }

    @Override
    protected void released() {
        ByteBuf held;
        while (toSend != null && (held = toSend.poll()) != null) {
            held.release();
        }
        if (receiving != null) {
            receiving.release();
            receiving = null;
        }
        if (whenClosed != null) {
            Runnable action = whenClosed;
            whenClosed = null;
            action.run();
        }
    }
}
