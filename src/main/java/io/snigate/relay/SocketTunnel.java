package io.snigate.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.RecvByteBufAllocator;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import io.snigate.transport.RelayReads;
import java.util.List;

/**
 * A tunnel whose two sides are {@link RelaySocket}s on one io_uring event loop: the client's socket
 * handed over by its channel ({@link HandOver}), and an {@link UpstreamSocket}. The rules are
 * {@link Tunnel}'s: every byte is copied with backpressure (a side is not read while the other's
 * queue is over its high-water mark); a FIN is passed on once what came before it is sent; the
 * tunnel closes once both sides have sent FIN, at once when either fails, and on the idle and
 * half-closed timeouts. The client's channel is closed last, once both sockets are: its close
 * future ends the connection's record; closed from outside, it ends the tunnel.
 */
final class SocketTunnel extends TunnelTimeouts implements RelayListener {
    private final Channel channel;
    private final RelaySocket client;
    private final RelaySocket upstream;
    private final ConnectionRecord record;
    private final RecvByteBufAllocator.Handle clientReads, upstreamReads;
    private boolean clientDoneSending, upstreamDoneSending;
    private final RetryWatch retries;

    /** Built on the event loop the sockets share. */
    SocketTunnel(Channel channel, RelaySocket client, UpstreamSocket upstream, ConnectionRecord record,
            HelloRetryCheck retryCheck, long idleTimeoutMillis, long halfClosedTimeoutMillis) {
        super(channel.eventLoop(), idleTimeoutMillis, halfClosedTimeoutMillis);
        this.channel = channel;
        this.client = client;
        this.upstream = upstream;
        this.record = record;
        this.retries = RetryWatch.of(retryCheck, channel.eventLoop(), this);
        this.clientReads = channel.unsafe().recvBufAllocHandle(); // the channel reads no more: its handle goes on
        this.upstreamReads = RelayReads.allocator().newHandle();
        client.startRelay(this);
        upstream.startRelay(this);
        // The channel closes once both sockets are closed; closed first (a drain, a stop), it ends the tunnel.
        client.whenClosed(() -> upstream.whenClosed(channel::close));
        // Closed from outside for a reason that resets (Relay.cut), both sockets reset.
        channel.closeFuture().addListener(closed -> close(record.reason()));
    }

    /**
     * Sends {@code first} (what the client sent before the relay, the ClientHello first) to the
     * upstream, passes on the client's FIN if it came already, and starts reading both sides.
     */
    void start(List<ByteBuf> first, boolean clientSentFin) {
        for (ByteBuf bytes : first) {
            bytesRead(client, bytes);
        }
        first.clear();
        if (clientSentFin) {
            doneSending(client);
        }
        readFrom(client);
        readFrom(upstream);
    }

    private void markDoneSending(RelaySocket side) {
        if (side == client) {
            clientDoneSending = true;
        } else {
            upstreamDoneSending = true;
        }
    }

    private void cutShort(RelaySocket side) {
        int unsent = side.dropQueued(); // once: the channel's close calls close again
        if (unsent > 0) {
            side.resetOnClose();
            if (side == client) {
                record.addBytesToClient(-unsent);
            } else {
                record.addBytesFromClient(-unsent);
            }
        }
    }

    private RelaySocket peerOf(RelaySocket side) {
        return side == client ? upstream : client;
    }

    private void readFrom(RelaySocket side) {
        boolean done = side == client ? clientDoneSending : upstreamDoneSending;
        if (side.canRead() && !done) {
            if (peerOf(side).isWritable()) {
                side.read();
            } else {
                side.watchWhilePaused();
            }
        }
    }

    @Override
    public ByteBuf readBuffer(RelaySocket side) {
        RecvByteBufAllocator.Handle reads = side == client ? clientReads : upstreamReads;
        reads.reset(channel.config());
        return reads.allocate(channel.alloc());
    }

    @Override
    public void bytesRead(RelaySocket side, ByteBuf bytes) {
        read(side, bytes);
        if (retries.watching() && (bytes = retries.passOn(side == upstream, bytes, false)) == null) {
            readFrom(side); // held for the second hello, or refused and closing
            return;
        }
        relayed(side, bytes);
        peerOf(side).write(bytes);
        readFrom(side);
    }

    /** As {@link #bytesRead} and then {@link #doneSending}, but the bytes and the FIN go on together. */
    @Override
    public void lastBytesRead(RelaySocket side, ByteBuf bytes) {
        read(side, bytes);
        if (retries.watching() && (bytes = retries.passOn(side == upstream, bytes, true)) == null) {
            return; // refused: a hello cut short by the FIN is no hello
        }
        relayed(side, bytes);
        if (side == client ? upstreamDoneSending : clientDoneSending) {
            peerOf(side).write(bytes);
            doneSending(side);
            return;
        }
        markDoneSending(side);
        halfClosed();
        peerOf(side).writeAndShutdown(bytes);
    }

    private void read(RelaySocket side, ByteBuf bytes) {
        sawTraffic();
        RecvByteBufAllocator.Handle reads = side == client ? clientReads : upstreamReads;
        reads.lastBytesRead(bytes.readableBytes());
        reads.readComplete();
    }

    /** Counts what goes on: a retried hello the check held counts once it passes, one it refused never. */
    private void relayed(RelaySocket side, ByteBuf bytes) {
        if (side == client) {
            record.addBytesFromClient(bytes.readableBytes());
        } else {
            record.addBytesToClient(bytes.readableBytes());
        }
    }

    @Override
    public void writable(RelaySocket side) {
        sawTraffic(); // the receiver took what was queued for it: traffic, however slow
        readFrom(peerOf(side));
    }

    /** {@code side}'s peer sent FIN: pass it on once everything it sent before has been sent. */
    @Override
    public void doneSending(RelaySocket side) {
        if (side == client && retries.holdingClient()) {
            lastBytesRead(side, Unpooled.EMPTY_BUFFER); // what is held goes on before the FIN, or is refused
            return;
        }
        markDoneSending(side);
        if (clientDoneSending && upstreamDoneSending) {
            client.closeAfterWrites();
            upstream.closeAfterWrites();
            return;
        }
        halfClosed();
        peerOf(side).shutdownOutput();
    }

    /**
     * As with a client channel ({@link Tunnel#failureOf}): a failure on either side ends the
     * tunnel as {@code connection_reset}, except a send refused by a client that had sent FIN
     * before its reset, which ended the conversation itself.
     */
    @Override
    public void failed(RelaySocket side, boolean sending, boolean peerClosedFirst) {
        boolean clientClosedFirst = side == client && sending && (clientDoneSending || peerClosedFirst);
        close(clientClosedFirst ? null : Reason.CONNECTION_RESET);
    }

    @Override
    public void threw(RelaySocket side, Throwable thrown) {
        close(thrown instanceof OutOfMemoryError ? Reason.CONNECTION_LIMIT : Reason.INTERNAL_ERROR);
    }

    @Override
    boolean isOpen() {
        return client.isOpen() || upstream.isOpen();
    }

    @Override
    long relayedBytes() {
        return record.bytesFromClient() + record.bytesToClient();
    }

    @Override
    long queuedBytes() {
        return client.queued() + upstream.queued();
    }

    /**
     * Closes both sides now; {@code reason} is recorded unless null or an earlier one stands. A
     * reset on one side reaches the other as a reset ({@link Reason#resetsThePeer}).
     */
    @Override
    void close(Reason reason) {
        if (reason != null) {
            record.endedBecause(reason);
            if (reason.resetsThePeer()) {
                client.resetOnClose();
                upstream.resetOnClose();
            }
        }
        // What a side still had queued is dropped: it is reset, as a FIN would tell it that the
        // stream was whole, and those bytes were not relayed.
        cutShort(client);
        cutShort(upstream);
        retries.release();
        unlink();
        client.close();
        upstream.close();
    }
}
