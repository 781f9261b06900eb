package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.snigate.transport.RelayReads;
import io.snigate.transport.RingOps;
import java.io.IOException;
import java.util.ArrayDeque;

/**
 * One floor connection whose upstream side is not a Netty channel: this handler sits in the
 * client channel's pipeline and owns the upstream socket as an io_uring handle, submitting the
 * socket option, connect, send, receive and close to the event loop's ring itself. No second
 * pipeline, outbound buffer, promise, channel config or address lookup; the same system calls a C
 * proxy makes for that side ({@code socket}, then ring operations). It answers one question: how
 * much of the Netty floor is the second channel (performance page, "Below the floor"). io_uring
 * and IPv4 upstreams only; {@code NettyFloor} uses it with {@code -Dsnigate.floor.upstream=handle}.
 */
final class HandleUpstream extends ChannelInboundHandlerAdapter implements IoUringIoHandle {
    // What each completion is for, in the user data's 16 bits.
    private static final short NODELAY = 1, CONNECT = 2, SEND = 3, RECV = 4, SHUTDOWN = 5, CLOSE = 6, CANCEL = 7;
    /** The writes held before the client is paused, and the level at which it reads again. */
    private static final int HIGH_WATER = 64 * 1024, LOW_WATER = 32 * 1024;

    private final BenchRing.Target target;
    private final ArrayDeque<ByteBuf> toSend = new ArrayDeque<>(2);
    private Channel client;
    private RecvByteBufAllocator.Handle reads;
    private IoRegistration registration;
    private int fd = -1;
    private int queuedBytes;
    private ByteBuf receiving;
    private long connectId, sendId, recvId; // 0 when that operation is not in flight
    /** Operations naming {@link #fd} not yet completed: the close waits for none (see {@link #closeWhenIdle}). */
    private int onSocket;
    private boolean connected, clientDone, upstreamDone, closing, closeSubmitted;

    HandleUpstream(BenchRing.Target target) {
        this.target = target;
    }

    // ---- the client's channel ---------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf bytes = (ByteBuf) msg;
        if (closing) {
            bytes.release();
            return;
        }
        if (!bytes.hasMemoryAddress()) {
            ByteBuf direct = ctx.alloc().directBuffer(bytes.readableBytes()).writeBytes(bytes);
            bytes.release();
            bytes = direct;
        }
        toSend.add(bytes);
        queuedBytes += bytes.readableBytes();
        if (fd < 0) {
            dial(ctx.channel());
        } else if (connected && sendId == 0) {
            sendNext();
        }
        if (queuedBytes >= HIGH_WATER || !connected) {
            client.config().setAutoRead(false);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            clientDone = true;
            if (upstreamDone) {
                closeBoth();
            } else if (connected && sendId == 0) {
                sendNext(); // nothing queued: passes the FIN on
            } else if (fd < 0) {
                closeBoth();
            }
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && connected && !upstreamDone && !closing && recvId == 0) {
            receive();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closeBoth();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        closeBoth();
    }

    // ---- the upstream socket ----------------------------------------------

    private void dial(Channel client) {
        this.client = client;
        this.reads = RelayReads.allocator().newHandle();
        fd = RingOps.newSocket(target.address);
        ((IoEventLoop) client.eventLoop()).register(this).addListener(registered -> {
            if (!registered.isSuccess()) {
                new Socket(fd).close();
                closeBoth();
                return;
            }
            registration = (IoRegistration) registered.getNow();
            // Linked: the connect is submitted only once the option is set, and cancelled if it failed.
            onSocket += 2;
            registration.submit(BenchRing.noDelayThen(fd, target, NODELAY));
            connectId = registration.submit(BenchRing.connect(fd, target, CONNECT));
        });
    }

    @Override
    public void handle(IoRegistration ignored, IoEvent ioEvent) {
        IoUringIoEvent event = (IoUringIoEvent) ioEvent;
        int res = event.res();
        short tag = event.data();
        if (tag != CLOSE && tag != CANCEL) {
            onSocket--;
        }
        switch (tag) {
            case NODELAY -> {
                if (res < 0) {
                    System.err.println("HandleUpstream: setsockopt(TCP_NODELAY) failed: " + res);
                }
            }
            case CONNECT -> connected(res);
            case SEND -> sent(res);
            case RECV -> received(res);
            case SHUTDOWN -> {
                if (res < 0) {
                    closeBoth();
                }
            }
            case CLOSE -> registration.cancel(); // unregistered() follows once nothing is in flight
            default -> { }
        }
        if (closing) {
            closeWhenIdle();
        }
    }

    private void connected(int res) {
        connectId = 0;
        if (closing) {
            return;
        }
        if (res < 0 || !client.isActive()) {
            closeBoth();
            return;
        }
        connected = true;
        sendNext();
        receive();
        if (!clientDone) {
            client.config().setAutoRead(true);
        }
    }

    /** Sends the oldest held bytes, or passes the client's FIN on once nothing is held. */
    private void sendNext() {
        if (closing) {
            return; // its close is submitted, and the socket's number may soon be another's
        }
        ByteBuf head = toSend.peek();
        if (head != null) {
            onSocket++;
            sendId = registration.submit(RingOps.send(fd, head, SEND));
        } else if (clientDone) {
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
            closeBoth();
            return;
        }
        ByteBuf head = toSend.peek();
        head.skipBytes(res);
        queuedBytes -= res;
        if (!head.isReadable()) {
            toSend.poll().release();
        }
        if (queuedBytes < LOW_WATER && !clientDone) {
            client.config().setAutoRead(true);
        }
        sendNext();
    }

    private void receive() {
        if (closing) {
            return;
        }
        reads.reset(client.config());
        receiving = reads.allocate(client.alloc());
        onSocket++;
        recvId = registration.submit(RingOps.recv(fd, receiving, RECV));
    }

    private void received(int res) {
        recvId = 0;
        ByteBuf bytes = receiving;
        receiving = null;
        if (closing || res <= 0) {
            bytes.release();
            if (!closing) {
                if (res == 0) {
                    upstreamDoneSending();
                } else {
                    closeBoth();
                }
            }
            return;
        }
        bytes.writerIndex(bytes.writerIndex() + res);
        reads.lastBytesRead(res);
        reads.readComplete();
        client.writeAndFlush(bytes, client.voidPromise());
        if (client.isWritable()) {
            receive();
        }
    }

    /** The upstream's FIN: passed on to the client once what came before is written, as the floor does. */
    private void upstreamDoneSending() {
        upstreamDone = true;
        if (clientDone) {
            closeBoth();
            return;
        }
        SocketChannel peer = (SocketChannel) client;
        peer.config().setAllowHalfClosure(false); // the client's own FIN then closes its channel
        if (nothingQueued(peer)) {
            shutdownClientOutput();
        } else {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFuture f) -> {
                if (f.isSuccess()) {
                    shutdownClientOutput();
                } else {
                    closeBoth();
                }
            });
        }
    }

    private static boolean nothingQueued(Channel side) {
        return side.unsafe().outboundBuffer() != null && side.unsafe().outboundBuffer().totalPendingWriteBytes() == 0;
    }

    private void shutdownClientOutput() {
        try {
            ((Socket) ((UnixChannel) client).fd()).shutdown(false, true);
        } catch (IOException e) {
            closeBoth();
        }
    }

    /** Closes the client once its queue is written, and the upstream socket once what is in flight is cancelled or done. */
    private void closeBoth() {
        if (closing) {
            return;
        }
        closing = true;
        if (client != null && client.isOpen()) {
            if (nothingQueued(client)) {
                client.close();
            } else {
                client.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }
        if (registration == null) {
            unregistered(); // not dialled, or the registration failed and closed the socket
            return;
        }
        for (long id : new long[] {connectId, sendId, recvId}) {
            if (id != 0) {
                registration.submit(RingOps.cancel(id, CANCEL));
            }
        }
        closeWhenIdle();
    }

    /**
     * Closes the socket once no operation naming it is left. An operation the kernel runs on its
     * io-wq workers (a shutdown, always) looks the number up only when a worker takes it: submitted
     * before a close, it can run after it, on whichever socket got the number next
     * ({@link ShutdownRace}).
     */
    private void closeWhenIdle() {
        if (onSocket == 0 && !closeSubmitted) {
            closeSubmitted = true;
            registration.submit(RingOps.close(fd, CLOSE));
        }
    }

    /** The ring holds no more of this socket's operations: what they used can go. */
    @Override
    public void unregistered() {
        ByteBuf held;
        while ((held = toSend.poll()) != null) {
            held.release();
        }
        if (receiving != null) {
            receiving.release();
            receiving = null;
        }
    }

    /** The event loop is shutting down with this handle still registered. */
    @Override
    public void close() {
        if (!closing) {
            closing = true;
            try {
                new Socket(fd).close();
            } catch (IOException ignored) {
                // the loop is going away with it
            }
        }
    }
}
