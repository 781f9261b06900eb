package io.snigate.transport;

import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.uring.IoUringIoOps;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A socket driven on an io_uring event loop without a Netty channel. The operations submitted
 * through {@link #submit} are counted until they complete, and {@link #close} submits the
 * socket's close only once none is left, cancelled ones included. The kernel runs some
 * operations (a shutdown, always) on an io-wq worker that looks the descriptor number up only when
 * it takes them: a close that ran first would let them land on whichever socket got the number
 * next, on any loop (performance page, "Closing a socket driven by hand"). A subclass submits no
 * such operation (the operations it does submit hold the socket from the moment the kernel reads
 * them), so the wait is a second line; and when the event loop shuts down, which does not wait
 * for late completions, the socket is closed at once by the system call.
 */
public abstract class RingSocket implements IoUringIoHandle {
    private static final Logger LOG = LoggerFactory.getLogger(RingSocket.class);
    /**
     * The tags of this class's own operations; a subclass tags its operations below
     * {@link #HANDED_OVER_CANCEL}.
     */
    private static final short CLOSE = 0x7ffe, CANCEL = 0x7fff;
    /**
     * The tag of a cancel that a {@link RingClientChannel} submitted for its last read and that may
     * complete after it handed its place on the ring to a socket ({@link #adopt}): never the socket's.
     */
    static final short HANDED_OVER_CANCEL = 0x7ffd;

    protected final int fd;
    private EventLoop loop;
    private IoRegistration registration;
    /** Operations naming {@link #fd} not yet completed. */
    private int inFlight;
    private boolean closing, closeSubmitted, released;

    protected RingSocket(int fd) {
        this.fd = fd;
    }

    /** Whether sockets can be driven on {@code loop}'s ring: io_uring. */
    public static boolean usableOn(EventLoop loop) {
        return loop instanceof IoEventLoop ioLoop && ioLoop.isCompatible(RingSocket.class);
    }

    /**
     * Registers with {@code loop}, whose thread the caller is on; then {@link #ringReady} runs,
     * or, if the ring refused, {@link #ringRefused} once the socket is closed.
     */
    protected final void register(EventLoop loop) {
        this.loop = loop;
        Future<IoRegistration> registering = ((IoEventLoop) loop).register(this);
        if (registering.isDone()) {
            registered(registering); // on the loop's thread, at once: no listener to add and call
        } else {
            registering.addListener(done -> registered(registering));
        }
    }

    private void registered(Future<IoRegistration> done) {
        if (!done.isSuccess()) {
            closeNow();
            ringRefused(done.cause());
            return;
        }
        registration = done.getNow();
        if (closing) {
            closeWhenIdle(); // closed while it was registering
        } else {
            ringReady();
        }
    }

    /**
     * Takes over {@code registration}, a channel's place on {@code loop}'s ring that the channel
     * handed over with its socket ({@link RingClientChannel#handOver}); then {@link #ringReady} runs.
     * On the loop's thread.
     */
    final void adopt(EventLoop loop, IoRegistration registration) {
        this.loop = loop;
        this.registration = registration;
        ringReady();
    }

    protected abstract void ringReady();

    protected abstract void ringRefused(Throwable cause);

    /** Submits {@code op}, which names this socket; returns its id, for {@link #cancel}. */
    protected final long submit(IoUringIoOps op) {
        inFlight++;
        return registration.submit(op);
    }

    /** Cancels the operation {@code id} (0: none); it then completes with {@link RingOps#CANCELED}. */
    protected final void cancel(long id) {
        if (id != 0) {
            registration.submit(RingOps.cancel(id, CANCEL));
        }
    }

    @Override
    public final void handle(IoRegistration ignored, IoEvent ioEvent) {
        IoUringIoEvent event = (IoUringIoEvent) ioEvent;
        short tag = event.data();
        if (tag == CLOSE) {
            registration.cancel(); // unregistered() follows once nothing is in flight
            return;
        }
        if (tag == CANCEL) {
            return;
        }
        inFlight--;
        try {
            completed(tag, event.res(), event.flags());
        } catch (RuntimeException | OutOfMemoryError thrown) {
            // Out of direct memory, a buffer for this socket could not be had: the socket's
            // connection ends, the loop and every other socket on it go on.
            completionThrew(tag, thrown);
        }
        if (closing) {
            closeWhenIdle();
        }
    }

    /**
     * The operation tagged {@code tag} completed with {@code res} (a negative errno on failure) and
     * the completion's {@code flags} ({@code IORING_CQE_F_*}).
     */
    protected abstract void completed(short tag, int res, int flags);

    /**
     * {@link #completed} threw {@code thrown}. Left to Netty, the loop would log it and sleep 100 ms,
     * every socket on it waiting, and this one would be left half-handled (an error would end the
     * loop's thread, and every socket on it with it): it is logged here and the socket closed. A
     * subclass ends what the socket is part of as well.
     */
    protected void completionThrew(short tag, Throwable thrown) {
        if (thrown instanceof OutOfMemoryError) {
            // One line per socket, no stack: under memory pressure many sockets meet it at once.
            LOG.warn("socket {}: {}; closing it", fd, thrown.toString());
        } else {
            LOG.error("completion tagged {} on socket {} threw; closing the socket", tag, fd, thrown);
        }
        close();
    }

    protected final boolean isClosing() {
        return closing;
    }

    /**
     * Cancels what is in flight ({@link #cancelInFlight}) and closes the socket once nothing names
     * it. Netty calls this again when the event loop shuts down, for a socket still open or still
     * waiting to close.
     */
    @Override
    public void close() {
        boolean first = !closing;
        closing = true;
        if (registration == null || closeSubmitted) {
            return; // registering (closed once registered), or closed
        }
        if (first) {
            cancelInFlight();
        }
        if (loop.isShuttingDown()) {
            // The loop tears its ring down without waiting for late completions: a close left
            // for them would never run. The operations still in flight hold the socket itself,
            // not its number, and the registration goes once they are done.
            closeSubmitted = true;
            closeFd();
            registration.cancel();
        } else {
            closeWhenIdle();
        }
    }

    /** {@link #cancel} every operation that may wait long: a connect, a poll, a receive, a send. */
    protected abstract void cancelInFlight();

    private void closeWhenIdle() {
        if (inFlight == 0 && !closeSubmitted) {
            closeSubmitted = true;
            registration.submit(RingOps.close(fd, CLOSE));
        }
    }

    /** Closes a socket that is not on the ring, by the system call. */
    protected final void closeNow() {
        closing = true;
        closeSubmitted = true;
        closeFd();
        release();
    }

    private void closeFd() {
        closeDescriptor(fd);
    }

    /** Closes {@code fd} by the system call; nothing of this package's may name it any more. */
    static void closeDescriptor(int fd) {
        try {
            new Socket(fd).close();
        } catch (IOException ignored) {
            // nothing is left to undo for a socket that will not close
        }
    }

    /** The ring holds no more of this socket's operations. */
    @Override
    public final void unregistered() {
        release();
    }

    private void release() {
        if (!released) {
            released = true;
            released();
        }
    }

    /** Nothing names the socket any more: what its operations used can go. Runs once. */
    protected abstract void released();

    protected final boolean isReleased() {
        return released;
    }
}
