package io.snigate.relay;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.socket.DuplexChannel;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The two channels of one forwarded connection, and when to close them: a side that has stopped
 * sending (FIN) has its half-close passed on to the other, and the tunnel closes once both sides
 * have stopped sending, or at once when either side fails or the tunnel sits idle.
 */
final class Tunnel {
    final Channel client;
    final Channel upstream;
    final ConnectionRecord record;
    private final long halfClosedTimeoutMillis;
    private boolean clientDoneSending;
    private boolean upstreamDoneSending;

    Tunnel(Channel client, Channel upstream, ConnectionRecord record, long halfClosedTimeoutMillis) {
        this.client = client;
        this.upstream = upstream;
        this.record = record;
        this.halfClosedTimeoutMillis = halfClosedTimeoutMillis;
    }

    Channel peerOf(Channel side) {
        return side == client ? upstream : client;
    }

    /**
     * Lets {@code side} read again. A side that already sent FIN has nothing more to read, and
     * asking epoll to watch it again fails (epoll_ctl ENOENT), so it is left alone.
     */
    static void resumeReading(Channel side) {
        if (!((DuplexChannel) side).isInputShutdown()) {
            side.config().setAutoRead(true);
        }
    }

    /** {@code side} sent FIN: pass it on once everything it sent before has been written. */
    void doneSending(Channel side) {
        if (side == client) {
            clientDoneSending = true;
        } else {
            upstreamDoneSending = true;
        }
        if (clientDoneSending && upstreamDoneSending) {
            closeAfterFlush();
            return;
        }
        if (halfClosedTimeoutMillis > 0) {
            // A peer that never closes its side must not hold the tunnel, and two sockets, forever.
            ScheduledFuture<?> halfClosedTimer = client.eventLoop().schedule(
                    () -> close(Reason.HALF_CLOSED_TIMEOUT), halfClosedTimeoutMillis, TimeUnit.MILLISECONDS);
            client.closeFuture().addListener(f -> halfClosedTimer.cancel(false));
        }
        Channel peer = peerOf(side);
        // shutdownOutput() drops writes still queued, so it waits behind an empty write.
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                ((DuplexChannel) peer).shutdownOutput();
            } else {
                close(Reason.CONNECTION_RESET);
            }
        });
    }

    /** Closes both sides now; {@code reason} is recorded unless an earlier one stands. */
    void close(Reason reason) {
        if (reason != null) {
            record.endedBecause(reason);
        }
        client.close();
        upstream.close();
    }

    /** Closes both sides once what is queued on each has been written. */
    void closeAfterFlush() {
        client.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        upstream.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
}
