package io.snigate.proxyprotocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * The first stage of a connection to a listener with {@code proxy_protocol}: it lets through only
 * a whole, well-formed PROXY header (v1 or v2), within the listener's timeout, and then hands the
 * bytes to Netty's {@code HAProxyMessageDecoder}, which parses it, and to {@link ProxyHeaderReceived}.
 *
 * <p>What Netty's decoder does not do is done here: a timeout (the decoder waits forever); an
 * immediate refusal of bytes that cannot start a header (the decoder reads anything without the v2
 * signature as a v1 line of up to 108 bytes); a bound on a v2 header's size; and the v2 CRC32C
 * check. A header the decoder still refuses makes it close the connection: that close passes
 * through here, and is recorded as {@link Reason#PROXY_PROTOCOL_INVALID}.
 */
public final class ProxyHeaderGate extends ChannelDuplexHandler {
    private final ConnectionRecord record;
    private final long timeoutMillis;
    private ByteBuf buffered;
    private ScheduledFuture<?> timeout;
    private boolean passed;

    public ProxyHeaderGate(ConnectionRecord record, long timeoutMillis) {
        this.record = record;
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        timeout = ctx.executor().schedule(() -> refuse(ctx, Reason.PROXY_PROTOCOL_TIMEOUT), timeoutMillis,
                TimeUnit.MILLISECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (passed || !(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        buffered = buffered == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), buffered, in);
        ProxyHeaders.Check check = ProxyHeaders.check(buffered);
        switch (check) {
            case NEED_MORE -> {}
            case VALID -> {
                passed = true;
                timeout.cancel(false);
                ByteBuf header = buffered;
                buffered = null;
                ctx.fireChannelRead(header);
            }
            default -> refuse(ctx, Reason.PROXY_PROTOCOL_INVALID);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (!passed && evt instanceof ChannelInputShutdownEvent) {
            refuse(ctx, hungUpBeforeAHeader());
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!passed && cause instanceof IOException) {
            refuse(ctx, hungUpBeforeAHeader());
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    /**
     * A trusted peer (no other gets this far) that closed, by FIN or reset, before a whole header:
     * with nothing sent, a balancer's check that only opens a connection (an AWS NLB's TCP check,
     * HAProxy's {@code check} without {@code send-proxy}), which a balancer's own connections never
     * do otherwise; with part of one, a header that never came whole.
     */
    private Reason hungUpBeforeAHeader() {
        return buffered == null || !buffered.isReadable() ? Reason.HEALTH_CHECK : Reason.PROXY_PROTOCOL_INVALID;
    }

    /**
     * A close while the header is with the decoder behind this stage: the decoder refused it. (Once
     * the header is taken, {@link ProxyHeaderReceived} removes this stage.)
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (passed) {
            record.endedBecause(Reason.PROXY_PROTOCOL_INVALID);
        }
        ctx.close(promise);
    }

    private void refuse(ChannelHandlerContext ctx, Reason reason) {
        record.endedBecause(reason);
        release();
        ctx.channel().config().setAutoRead(false);
        ctx.close();
    }

    private void release() {
        if (buffered != null) {
            ReferenceCountUtil.release(buffered);
            buffered = null;
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
        release();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        release();
        ctx.fireChannelInactive();
    }
}
