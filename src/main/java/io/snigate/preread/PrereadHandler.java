package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.core.ClientHelloEvent;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.ProxyHeaderTaken;
import io.snigate.core.Reason;
import io.snigate.core.Rejection;
import io.snigate.core.TlsRecord;
import io.snigate.transport.EpollHalfClose;
import io.snigate.transport.RingSocket;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stage two of a connection: buffers what the client sends until one whole ClientHello is there,
 * in whole TLS records (however it was cut into TCP segments and records), classifies it, and
 * either refuses the connection or fires a {@link ClientHelloEvent}, the hello's facts being in
 * the connection's {@link ConnectionRecord}.
 *
 * <p>It consumes nothing: when the next stage removes it from the pipeline, every byte it
 * buffered goes on to the next handler exactly as received, as Netty's own
 * {@code SslClientHelloHandler} does.
 */
public final class PrereadHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(PrereadHandler.class);
    private final ConnectionRecord record;
    private final int maxClientHelloBytes;
    private final long timeoutMillis;
    private final ConnectionObserver observer;

    private ByteBuf buffered;
    private ScheduledFuture<?> timeout;
    private boolean decided;
    private boolean inputShutdownAfterDecision;
    /** The PROXY header was a v2 {@code LOCAL} or a v1 {@code UNKNOWN}: the balancer's own connection. */
    private boolean balancersOwn;

    private final boolean afterProxyHeader;

    public PrereadHandler(
            ConnectionRecord record, int maxClientHelloBytes, long timeoutMillis, ConnectionObserver observer) {
        this(record, maxClientHelloBytes, timeoutMillis, observer, false);
    }

    /**
     * @param afterProxyHeader the connection starts with a PROXY header: the timeout runs from
     *     {@link ProxyHeaderTaken}, not from the accept
     */
    public PrereadHandler(ConnectionRecord record, int maxClientHelloBytes, long timeoutMillis,
            ConnectionObserver observer, boolean afterProxyHeader) {
        this.record = record;
        this.maxClientHelloBytes = maxClientHelloBytes;
        this.timeoutMillis = timeoutMillis;
        this.observer = observer;
        this.afterProxyHeader = afterProxyHeader;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (!afterProxyHeader) {
            startClock(ctx);
        }
    }

    private void startClock(ChannelHandlerContext ctx) {
        timeout = ctx.executor().schedule(
                () -> reject(ctx, Reason.PREREAD_TIMEOUT, 0), timeoutMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        buffered = buffered == null
                ? in
                : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), buffered, in);
        if (!decided) {
            classify(ctx, false);
        } else {
            // Sending on before the upstream answered (no TLS client does, but 0-RTT early data):
            // make it wait, so that a connection being dialed holds at most one read more.
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // Swallowed: the next stage has nothing to do until the ClientHello is complete.
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ProxyHeaderTaken taken) {
            balancersOwn = taken == ProxyHeaderTaken.LOCAL;
            startClock(ctx);
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent) {
            EpollHalfClose.peerFinished(ctx.channel()); // the answer may still have to be written
            if (decided) {
                inputShutdownAfterDecision = true;
            } else {
                classify(ctx, true);
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!decided) {
            classify(ctx, true);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof OutOfMemoryError) {
            // No direct memory for this connection's next read: refused as over a budget, in one
            // line (under memory pressure many connections meet it at once).
            LOG.warn("closing {}: {}", ctx.channel(), cause.toString());
            record.endedBecause(Reason.CONNECTION_LIMIT);
            if (!decided) {
                decide(ctx);
                releaseBuffered();
            }
            ctx.close();
        } else if (!(cause instanceof IOException)) {
            ctx.fireExceptionCaught(cause);
        } else if (!decided) {
            // Reset by the client before the ClientHello was complete.
            reject(ctx, Reason.CLIENT_CLOSED, 0);
        } else {
            // Reset while its upstream is being dialed (on epoll the channel reads on meanwhile):
            // the connect stage finds the client gone and closes what it dialed.
            ctx.close();
        }
    }

    private void classify(ChannelHandlerContext ctx, boolean endOfStream) {
        ByteBuf bytes = buffered == null ? Unpooled.EMPTY_BUFFER : buffered;
        // A ClientHello that parses, forwarded or not, leaves its facts in the record for the log.
        PrereadVerdict verdict = ClientHelloParser.parse(bytes, maxClientHelloBytes, endOfStream, record);
        switch (verdict.status()) {
            case NEED_MORE -> {
                if (endOfStream) {
                    reject(ctx, Reason.MALFORMED, 0);
                }
            }
            case REJECT -> reject(ctx, verdict.reason(), tlsRecordVersion(bytes));
            case COMPLETE -> accept(ctx);
        }
    }

    private void accept(ChannelHandlerContext ctx) {
        decide(ctx);
        // On epoll reading goes on while routing and connecting: a TLS client sends nothing more
        // before the server answers, and pausing and resuming would cost two epoll_ctl calls on
        // every connection. Whatever does arrive is buffered here, and pauses reading (channelRead).
        // On io_uring pausing costs nothing, and a read left waiting would only be cancelled when
        // the relay takes the socket off the channel (relay.HandOver). The ring's channel then
        // hears nothing until the relay reads: a client that hangs up while its upstream is being
        // dialed is noticed once the dial ends, as HAProxy without abortonclose does (a dial that
        // timed out asks the socket: transport.Hangups); a read or a poll left armed would cost
        // every connection one.
        if (RingSocket.usableOn(ctx.channel().eventLoop())) {
            ctx.channel().config().setAutoRead(false);
        }
        ctx.fireUserEventTriggered(ClientHelloEvent.INSTANCE);
    }

    private void reject(ChannelHandlerContext ctx, Reason reason, int tlsRecordVersion) {
        if (decided) {
            return;
        }
        if (reason == Reason.CLIENT_CLOSED && balancersOwn && buffered == null) {
            reason = Reason.HEALTH_CHECK; // the balancer's own connection, closed before any byte
        }
        decide(ctx);
        releaseBuffered();
        Rejection.reject(ctx.channel(), reason, tlsRecordVersion);
    }

    private void decide(ChannelHandlerContext ctx) {
        decided = true;
        if (timeout != null) {
            timeout.cancel(false);
        }
        observer.on(ConnectionEvent.PREREAD_DONE, record, System.nanoTime() - record.acceptedAtNanos());
    }

    /** The record version of a TLS opener, so that an alert can answer in kind; 0 if not TLS. */
    private static int tlsRecordVersion(ByteBuf bytes) {
        int at = bytes.readerIndex();
        if (bytes.readableBytes() >= 3 && bytes.getByte(at) == TlsRecord.CONTENT_TYPE_HANDSHAKE
                && bytes.getByte(at + 1) == TlsRecord.VERSION_MAJOR) {
            return bytes.getUnsignedShort(at + 1);
        }
        return 0;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
        ByteBuf bytes = buffered;
        buffered = null;
        if (bytes == null) {
            return;
        }
        if (!ctx.channel().isActive()) {
            bytes.release();
            return;
        }
        ctx.fireChannelRead(bytes);
        ctx.fireChannelReadComplete();
        if (inputShutdownAfterDecision) {
            ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
    }

    private void releaseBuffered() {
        if (buffered != null) {
            buffered.release();
            buffered = null;
        }
    }
}
