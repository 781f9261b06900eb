package io.snigate.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.channel.unix.Errors;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * A connection a {@link RingListener} accepted, as a Netty channel: the pipeline and its stages
 * see a {@code SocketChannel} as on any transport, while the channel asks the kernel nothing the
 * accept already said (Netty's own io_uring channel asks the address family and the local address
 * and sets {@code TCP_NODELAY}, which the accepted socket inherits from its listener, where
 * {@link RingListener} sets it), arms no {@code POLLRDHUP} and
 * reads with a {@code RECV} that the kernel polls for itself rather than a poll and then a
 * receive. Writes go one buffer at a time: this channel carries a ClientHello's answer (a TLS
 * alert) and, on the routes whose upstream is a channel, a relay.
 *
 * <p>Once it has handed its socket and its place on the ring to the relay's own socket
 * ({@link #handOver}), closing it leaves the descriptor to its new owner; otherwise closing it
 * closes the descriptor once no operation of its own names it. The rest of what a
 * {@code SocketChannel} is, {@link AcceptedSocketChannel} is.
 *
 * <p>A little over 300 lines: reads, writes, the hand-over and the close all turn on the same
 * operations in flight, which every completion updates; split, each connection would carry another
 * object and each completion another call.
 */
public final class RingClientChannel extends AcceptedSocketChannel {
    private static final short READ = 1, WRITE = 2, CANCEL = RingSocket.HANDED_OVER_CANCEL;
    /**
     * The buffer of a receive that waits for the socket to have something: the size a connection's
     * reads start at. Sized by the allocator's guess instead, an idle tunnel whose guess grew on a
     * large transfer would hold up to a megabyte while it waits.
     */
    private static final int WAITING_READ_BYTES = 2048;

    /** The socket to hand over to once no operation of the channel's is in flight; then the one handed to. */
    private RingSocket handOverTo, handedTo;
    private final RingClientConfig config;
    private final Handle handle = new Handle();
    private IoRegistration registration;
    private boolean open = true, closeFdWhenIdle, socketMayHaveMore;
    private long readId, writeId;
    private ByteBuf readBuffer;
    /** Whether the read in flight is sized by the allocator's guess, which its result then feeds. */
    private boolean guessedRead;
    /**
     * The buffer a send in flight reads from, retained until its completion: closing the channel
     * releases what it had still to write, and the kernel may not have finished with it yet.
     */
    private ByteBuf sending;
    private int inFlight;

    /** {@code local}: null when only the socket can tell (a wildcard or transparent listener). */
    RingClientChannel(int fd, InetSocketAddress local, InetSocketAddress remote) {
        super(fd, local, remote);
        this.config = new RingClientConfig(this);
    }

    @Override
    protected boolean ownsSocket() {
        return open && handedTo == null;
    }

    @Override
    protected AbstractUnsafe newUnsafe() {
        return new AbstractUnsafe() {
            @Override
            public void connect(SocketAddress remoteAddress, SocketAddress localAddress, ChannelPromise promise) {
                promise.setFailure(new UnsupportedOperationException("an accepted socket"));
            }
        };
    }

    /**
     * Gives the socket, and the channel's place on the ring with it, to {@code next} (the relay's
     * own socket) once no operation of the channel's is in flight: a read in flight is cancelled,
     * and what it read before the cancel took goes down the pipeline first. Then {@code next} is
     * ready (before this returns, when nothing was in flight), every completion on the ring for the
     * socket is {@code next}'s, and the channel only stands for the connection: closing it closes
     * nothing. Keeping the registration spares a deregistration, its task and promise, and a new
     * registration. A channel closed first hands nothing over. On the event loop, with auto-read off.
     */
    public void handOver(RingSocket next) {
        if (!open || registration == null || handOverTo != null || handedTo != null) {
            return;
        }
        handOverTo = next;
        if (readId != 0) {
            registration.submit(RingOps.cancel(readId, CANCEL));
        } else if (inFlight == 0) {
            handOverNow();
        }
    }

    private void handOverNow() {
        handedTo = handOverTo;
        handOverTo = null;
        handedTo.adopt(eventLoop(), registration);
    }

    @Override
    protected boolean isCompatible(EventLoop loop) {
        return loop instanceof IoEventLoop ioLoop && ioLoop.isCompatible(Handle.class);
    }

    @Override
    protected void doRegister(ChannelPromise promise) {
        Future<IoRegistration> registering = ((IoEventLoop) eventLoop()).register(handle);
        if (registering.isDone()) {
            registered(registering, promise); // on the loop's thread, at once: no listener to add and call
        } else {
            registering.addListener(done -> registered(registering, promise));
        }
    }

    private void registered(Future<IoRegistration> done, ChannelPromise promise) {
        if (done.isSuccess()) {
            registration = done.getNow();
            promise.setSuccess();
        } else {
            promise.setFailure(done.cause());
        }
    }

    @Override
    protected void doBeginRead() {
        if (readId != 0 || inputShutdown || registration == null || !open || handOverTo != null || handedTo != null) {
            return;
        }
        // A receive the kernel polls for first when the socket is likely empty (its first read,
        // or the last one took everything), into a small buffer; otherwise it tries at once, into
        // a buffer of the allocator's guess.
        guessedRead = socketMayHaveMore;
        if (guessedRead) {
            RecvByteBufAllocator.Handle allocHandle = unsafe().recvBufAllocHandle();
            allocHandle.reset(config);
            readBuffer = allocHandle.allocate(alloc());
        } else {
            readBuffer = alloc().directBuffer(WAITING_READ_BYTES);
        }
        inFlight++;
        readId = registration.submit(guessedRead
                ? RingOps.recv(fd, readBuffer, READ)
                : RingOps.recvPollFirst(fd, readBuffer, READ));
    }

    private void readDone(int res) {
        readId = 0;
        ByteBuf bytes = readBuffer;
        readBuffer = null;
        if (bytes == null) {
            return; // the loop stopped and released the buffer (Handle.close); a late completion
        }
        if (handOverTo != null) {
            if (res > 0) {
                bytes.writerIndex(bytes.writerIndex() + res);
                pipeline().fireChannelRead(bytes); // read before the cancel took: the new owner's
            } else {
                bytes.release(); // a FIN reads again for the new owner; after a reset, so does an end of stream
            }
            return;
        }
        if (res > 0 && open) {
            RecvByteBufAllocator.Handle allocHandle = unsafe().recvBufAllocHandle();
            if (guessedRead) {
                allocHandle.lastBytesRead(res);
                allocHandle.incMessagesRead(1);
            }
            bytes.writerIndex(bytes.writerIndex() + res);
            pipeline().fireChannelRead(bytes);
            if (guessedRead) {
                allocHandle.readComplete();
            }
            pipeline().fireChannelReadComplete(); // reads again while autoRead is on
            return;
        }
        bytes.release();
        if (res == RingOps.CANCELED || !open) {
            return;
        }
        if (res == 0) {
            inputShutdown = true;
            if (config.isAllowHalfClosure()) {
                pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
                pipeline().fireUserEventTriggered(ChannelInputShutdownReadComplete.INSTANCE);
            } else {
                unsafe().close(unsafe().voidPromise());
            }
            return;
        }
        pipeline().fireExceptionCaught(Errors.newIOException("recv", res)); // carries the errno
        unsafe().close(unsafe().voidPromise());
    }

    @Override
    protected Object filterOutboundMessage(Object msg) {
        if (msg instanceof ByteBuf bytes && !bytes.hasMemoryAddress()) {
            ByteBuf direct = alloc().directBuffer(bytes.readableBytes()).writeBytes(bytes);
            bytes.release();
            return direct;
        }
        return msg;
    }

    @Override
    protected void doWrite(ChannelOutboundBuffer in) {
        if (writeId != 0 || registration == null || handedTo != null) {
            return;
        }
        Object msg = in.current();
        if (msg == null) {
            return;
        }
        if (!(msg instanceof ByteBuf bytes) || !bytes.isReadable()) {
            in.remove();
            doWrite(in);
            return;
        }
        inFlight++;
        sending = bytes.retain();
        writeId = registration.submit(RingOps.send(fd, bytes, WRITE));
    }

    private void writeDone(int res) {
        writeId = 0;
        if (sending == null) {
            return; // the loop stopped and released it (Handle.close); a late completion
        }
        sending.release();
        sending = null;
        ChannelOutboundBuffer in = unsafe().outboundBuffer();
        if (in == null) {
            return;
        }
        if (res < 0) {
            in.remove(Errors.newIOException("send", res)); // carries the errno: EPIPE tells a FIN came first
            unsafe().close(unsafe().voidPromise());
            return;
        }
        in.removeBytes(res);
        if (!in.isEmpty() && open) {
            unsafe().flush();
        }
    }

    @Override
    protected void doClose() {
        open = false;
        handOverTo = null; // closed first: nothing is handed over
        if (handedTo != null) {
            return; // the descriptor is the relay's now
        }
        if (registration == null || inFlight == 0) {
            closeFd();
            return;
        }
        if (readId != 0) {
            registration.submit(RingOps.cancel(readId, CANCEL));
        }
        if (writeId != 0) {
            registration.submit(RingOps.cancel(writeId, CANCEL));
        }
        closeFdWhenIdle = true;
    }

    @Override
    protected void doDeregister() {
        if (registration != null && handedTo == null) { // handed over, the registration is the new owner's
            registration.cancel();
        }
        registration = null;
    }

    /** The channel's place on the ring: its operations' completions. */
    private final class Handle implements IoUringIoHandle {
        @Override
        public void handle(IoRegistration registration, IoEvent ioEvent) {
            IoUringIoEvent event = (IoUringIoEvent) ioEvent;
            short tag = event.data();
            if (tag == CANCEL) {
                return;
            }
            if (handedTo != null) {
                handedTo.handle(registration, ioEvent);
                return;
            }
            inFlight--;
            if (tag == READ) {
                socketMayHaveMore = (event.flags() & RingOps.SOCK_NONEMPTY) != 0;
                readDone(event.res());
            } else if (tag == WRITE) {
                writeDone(event.res());
            }
            if (closeFdWhenIdle && inFlight == 0) {
                closeFdWhenIdle = false;
                closeFd();
            } else if (handOverTo != null && inFlight == 0) {
                handOverNow();
            }
        }

        /** The event loop shuts down: it tears the ring down without waiting for late completions. */
        @Override
        public void close() {
            if (handedTo != null) {
                handedTo.close();
                return;
            }
            if (open) {
                unsafe().close(unsafe().voidPromise());
            }
            if (closeFdWhenIdle) {
                closeFdWhenIdle = false;
                closeFd();
            }
            if (readBuffer != null) {
                readBuffer.release();
                readBuffer = null;
            }
            if (sending != null) {
                sending.release();
                sending = null;
            }
        }

        @Override
        public void unregistered() {
            if (handedTo != null) {
                handedTo.unregistered();
            }
        }
    }

    @Override protected void doDisconnect() { doClose(); }
    @Override public boolean isOpen() { return open; }
    @Override public boolean isActive() { return open; }
    @Override public SocketChannelConfig config() { return config; }
}
