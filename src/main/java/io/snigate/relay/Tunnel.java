package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import java.io.IOException;
import java.nio.channels.NotYetConnectedException;

/**
 * The two channels of one forwarded connection, and when to close them: a side that has stopped
 * sending (FIN) has its half-close passed on to the other, and the tunnel closes once both sides
 * have stopped sending, or at once when either side fails or the tunnel sits idle.
 */
final class Tunnel extends TunnelTimeouts {
    final Channel client;
    final Channel upstream;
    final ConnectionRecord record;
    private final RetryWatch retries;
    private boolean clientDoneSending;
    private boolean upstreamDoneSending;
    /** What was queued when the tunnel closed has been taken off the counts. */
    private boolean cut;

    /** A tunnel between two channels of one event loop; built on that loop's thread. */
    Tunnel(Channel client, Channel upstream, ConnectionRecord record, HelloRetryCheck retryCheck, long idleTimeoutMillis,
            long halfClosedTimeoutMillis) {
        super(client.eventLoop(), idleTimeoutMillis, halfClosedTimeoutMillis);
        this.client = client;
        this.upstream = upstream;
        this.record = record;
        this.retries = RetryWatch.of(retryCheck, client.eventLoop(), this);
        record.finishAfterTheClose(client.eventLoop());
    }

    @Override
    boolean isOpen() {
        return client.isOpen() || upstream.isOpen();
    }

    /** Both sides closed: the clock has nothing more to watch. */
    void ended() {
        retries.release();
        unlink();
    }

    /** What of {@code bytes}, read on {@code side}, goes on now ({@link RetryWatch#passOn}). */
    ByteBuf retryChecked(Channel side, ByteBuf bytes, boolean endOfStream) {
        return retries.passOn(side == upstream, bytes, endOfStream);
    }

    boolean checksRetries() {
        return retries.watching();
    }

    /**
     * The reason {@code cause}, on {@code side}, ends the tunnel with: a reset, except for a
     * client that had sent FIN before it (read already, or told by the failed send's EPIPE,
     * {@link BrokenPipe}). That client ended the conversation itself and closed its socket (as a
     * TLS client does after its close_notify), and what the upstream still sent met a reset.
     */
    Reason failureOf(Channel side, Throwable cause) {
        if (side == client && BrokenPipe.is(cause)) {
            // Its FIN came first: the writes still queued, failed next as closed, are no reset either.
            clientDoneSending = true;
        }
        return side == client && clientDoneSending ? null : Reason.CONNECTION_RESET;
    }

    Channel peerOf(Channel side) {
        return side == client ? upstream : client;
    }

    /**
     * Lets {@code side} read again. A side that already sent FIN has nothing more to read, and
     * asking epoll to watch it again fails (epoll_ctl ENOENT), so it is left alone.
     */
    static void resumeReading(Channel side) {
        if (!((SocketChannel) side).isInputShutdown()) {
            side.config().setAutoRead(true);
        }
    }

    /** {@code side} sent FIN: pass it on once everything it sent before has been written. */
    void doneSending(Channel side) {
        if (side == client && retries.holdingClient()) {
            ByteBuf held = retryChecked(side, Unpooled.EMPTY_BUFFER, true);
            if (held == null) {
                return; // refused: a hello cut short by the FIN is no hello
            }
            record.addBytesFromClient(held.readableBytes());
            upstream.write(held, upstream.voidPromise());
        }
        if (side == client) {
            clientDoneSending = true;
        } else {
            upstreamDoneSending = true;
        }
        if (clientDoneSending && upstreamDoneSending) {
            closeAfterFlush();
            return;
        }
        halfClosed();
        finAfterWrites(peerOf(side), () -> close(Reason.CONNECTION_RESET));
    }

    /** Sends {@code peer} a FIN once what is queued for it is written; {@code failed} runs if that write fails. */
    private static void finAfterWrites(Channel peer, Runnable failed) {
        // With everything written already the FIN goes at once; shutdownOutput() drops writes still
        // queued (on io_uring, a write in flight counts), so otherwise it waits behind an empty write.
        if (nothingQueued(peer)) {
            shutdownOutput(peer);
            return;
        }
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                shutdownOutput(peer);
            } else {
                failed.run();
            }
        });
    }

    /** Sends {@code peer} a FIN; nothing is queued for it by now. */
    private static void shutdownOutput(Channel peer) {
        // The peer's own FIN now ends the tunnel, so Netty closes on it instead of shutting the
        // input first: that shutdown(SHUT_RD) would meet a socket already in TIME_WAIT and fail
        // with ENOTCONN, an exception built and dropped on every connection.
        ((SocketChannel) peer).config().setAllowHalfClosure(false);
        // On the native transports the socket is shut down directly: Netty's shutdownOutput()
        // builds an exception with its stack trace for writes that could still be queued, and
        // none can be here (the relay writes nothing more to this side). The socket records the
        // shutdown, so the channel's isOutputShutdown() says so all the same.
        if (peer instanceof UnixChannel unix && unix.fd() instanceof Socket socket) {
            try {
                socket.shutdown(false, true);
                return;
            } catch (IOException | NotYetConnectedException e) {
                // Not connected any more (a reset peer's ENOTCONN is Netty's unchecked exception):
                // Netty's own path below fails the same way and closes the output in its books;
                // the read side sees the reset.
            }
        }
        ((SocketChannel) peer).shutdownOutput();
    }

    @Override
    long relayedBytes() {
        return record.bytesFromClient() + record.bytesToClient();
    }

    @Override
    long queuedBytes() {
        return queued(client) + queued(upstream);
    }

    /**
     * Closes both sides now; {@code reason} is recorded unless an earlier one stands. A reset on
     * one side reaches the other as a reset ({@link Reason#resetsThePeer}).
     */
    @Override
    void close(Reason reason) {
        retries.release();
        if (reason != null) {
            record.endedBecause(reason);
            record.finishAfterTheClose(null); // the first reason stands: nothing to wait for
            if (reason.resetsThePeer()) {
                resetOnClose(client);
                resetOnClose(upstream);
            }
        }
        // What a side still had queued is dropped: it is reset, as a FIN would tell it that the
        // stream was whole, and those bytes were not relayed. Once: the client's close fails its
        // queued writes, which closes the tunnel again while the upstream is still open.
        if (!cut) {
            cut = true;
            cutShort(client);
            cutShort(upstream);
        }
        client.close();
        upstream.close();
    }

    private void cutShort(Channel side) {
        long unsent = unsent(side);
        if (unsent > 0) {
            resetOnClose(side);
            if (side == client) {
                record.addBytesToClient(-unsent);
            } else {
                record.addBytesFromClient(-unsent);
            }
        }
    }

    /**
     * The bytes still queued for {@code side} as it closes, flushed or not: {@link #queued}, after
     * marking what was not yet flushed as flushed, which is harmless only because the side is
     * about to close.
     */
    static long unsent(Channel side) {
        ChannelOutboundBuffer queue = side.unsafe().outboundBuffer();
        if (queue == null) {
            return 0;
        }
        queue.addFlush();
        return queued(side);
    }

    /**
     * The flushed bytes waiting for {@code side}'s socket: what their buffers hold unread. Not
     * Netty's pending size, which adds an estimate per entry and keeps a partly written entry's
     * whole size, so that a reader draining one large entry would show no progress.
     */
    static long queued(Channel side) {
        ChannelOutboundBuffer queue = side.unsafe().outboundBuffer();
        if (queue == null || queue.totalPendingWriteBytes() == 0) {
            return 0;
        }
        long[] queued = {0};
        try {
            queue.forEachFlushedMessage(message -> {
                if (message instanceof ByteBuf bytes) {
                    queued[0] += bytes.readableBytes();
                }
                return true;
            });
        } catch (Exception cannotHappen) { // the processor above throws nothing
            throw new IllegalStateException(cannotHappen);
        }
        return queued[0];
    }

    /**
     * {@code side}'s close sends a reset (SO_LINGER 0), not a FIN: on the native transports by the
     * socket itself, as io_uring's client channel has no such option (its config would ignore it).
     */
    static void resetOnClose(Channel side) {
        if (!side.isOpen()) {
            return;
        }
        try {
            if (side instanceof UnixChannel unix && unix.fd() instanceof Socket socket) {
                socket.setSoLinger(0);
            } else {
                side.config().setOption(ChannelOption.SO_LINGER, 0);
            }
        } catch (IOException | ChannelException closedMeanwhile) {
            // its close sends what the kernel has left to send
        }
    }

    /** Closes both sides once what is queued on each has been written. */
    void closeAfterFlush() {
        if (!client.isOpen() || nothingQueued(client)) {
            record.finishAfterTheClose(null); // no write left to fail: the record finishes at the close
        }
        closeOnceWritten(client);
        closeOnceWritten(upstream);
    }

    /** Whether {@code side} is open with nothing waiting in its outbound buffer. */
    private static boolean nothingQueued(Channel side) {
        ChannelOutboundBuffer queued = side.unsafe().outboundBuffer(); // null once closed
        return queued != null && queued.totalPendingWriteBytes() == 0;
    }

    /**
     * Closes {@code side} now when nothing waits to be written to it, which costs no empty write,
     * promise or listener; else behind an empty write.
     */
    private static void closeOnceWritten(Channel side) {
        if (!side.isOpen() || nothingQueued(side)) {
            side.close();
        } else {
            side.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
