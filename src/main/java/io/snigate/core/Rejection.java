package io.snigate.core;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends a connection that will not be forwarded: records the reason, tells the client what it
 * can understand (a fatal TLS alert, an HTTP error for a CONNECT, or nothing), then closes.
 *
 * <p>The close lingers, as nginx's {@code lingering_close} does: after the answer the proxy
 * shuts its sending side and discards what the client still sends until the client closes or
 * {@link #LINGER_MILLIS} pass. Closing a socket with unread input makes the kernel send a reset,
 * and a reset can destroy the alert before the client reads it.
 */
public final class Rejection {
    private static final Logger LOG = LoggerFactory.getLogger(Rejection.class);
    static final long LINGER_MILLIS = 2_000;

    private static final String CONNECT_BODY =
            "This port is a transparent TLS proxy, not an HTTP proxy: "
                    + "connect directly to the TLS server instead of sending CONNECT.\n";
    private static final byte[] CONNECT_RESPONSE =
            ("HTTP/1.1 405 Method Not Allowed\r\n"
                            + "Content-Type: text/plain; charset=utf-8\r\n"
                            + "Content-Length: " + CONNECT_BODY.length() + "\r\n"
                            + "Connection: close\r\n"
                            + "\r\n"
                            + CONNECT_BODY)
                    .getBytes(StandardCharsets.US_ASCII);

    private Rejection() {}

    /**
     * Ends {@code client} for {@code reason}. {@code tlsRecordVersion} is the record version the
     * client used, or 0 when it did not speak TLS (then no alert is sent). Must be called on the
     * channel's event loop, after the caller has released whatever it buffered.
     */
    public static void reject(Channel client, Reason reason, int tlsRecordVersion) {
        ConnectionRecord record = ConnectionRecord.of(client);
        if (record != null) {
            record.endedBecause(reason);
        }
        if (!client.isActive()) {
            client.close();
            return;
        }
        ByteBuf answer = answerFor(reason, tlsRecordVersion);
        if (answer == null && reason == Reason.PREREAD_TIMEOUT) {
            // A client that went silent for the whole pre-read timeout gets no more of our time.
            client.close();
            return;
        }
        // The answer is written before the pipeline changes: removing a stage can replay a FIN
        // the client already sent, and the lingering handler closes on it.
        ChannelFuture answered = client.writeAndFlush(answer == null ? Unpooled.EMPTY_BUFFER : answer);
        // The lingering handler goes in before the stages leave, so that bytes a removed stage
        // still held flow into it and are released there.
        ChannelPipeline pipeline = client.pipeline();
        LingeringClose lingering = new LingeringClose();
        pipeline.addLast(PipelineNames.LINGERING_CLOSE, lingering);
        for (ChannelHandler handler : pipeline.toMap().values()) {
            if (handler != lingering) {
                pipeline.remove(handler);
            }
        }
        answered.addListener((ChannelFutureListener) f -> {
                    if (f.isSuccess() && f.channel() instanceof DuplexChannel channel && !channel.isInputShutdown()) {
                        channel.shutdownOutput();
                        channel.config().setAutoRead(true);
                    } else {
                        // The client already stopped sending: nothing to linger for.
                        f.channel().close();
                    }
                });
        // Cancelled at the close: a flood of rejected clients that hang up at once holds their
        // channels, and the loops' timer queues, by the clients open, not by the rejection rate.
        Future<?> lingerEnds = client.eventLoop().schedule(() -> client.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
        client.closeFuture().addListener(closed -> lingerEnds.cancel(false));
    }

    /** The bytes a client gets for {@code reason}, or null for a silent close. */
    static ByteBuf answerFor(Reason reason, int tlsRecordVersion) {
        if (reason == Reason.CONNECT_REQUEST) {
            return Unpooled.wrappedBuffer(CONNECT_RESPONSE);
        }
        if (reason.sendsTlsAlert() && tlsRecordVersion != 0) {
            return tlsAlert(reason.tlsAlert(), tlsRecordVersion);
        }
        return null;
    }

    /** A fatal alert record (RFC 8446 §6), in the record version the client itself used. */
    static ByteBuf tlsAlert(int description, int tlsRecordVersion) {
        int version = Math.max(TlsVersions.TLS_1_0, Math.min(TlsVersions.TLS_1_2, tlsRecordVersion));
        byte[] record = {
            TlsRecord.CONTENT_TYPE_ALERT, (byte) (version >>> 8), (byte) version, 0, 2, TlsRecord.ALERT_LEVEL_FATAL,
            (byte) description
        };
        return Unpooled.wrappedBuffer(record);
    }

    /** Discards whatever the rejected client still sends, and closes once it stops sending. */
    static final class LingeringClose extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            ReferenceCountUtil.release(evt);
            if (evt instanceof ChannelInputShutdownEvent) {
                // Behind whatever is still queued, such as the answer itself.
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }

        /**
         * Closes, the reason being already recorded: an I/O error (a reset, most often) is the
         * client leaving, which is what the lingering waits for, and is not said; the rest is said
         * as every stage says it ({@link StageFailure}).
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            StageFailure.reasonOf(cause, null, LOG, "closing rejected " + ctx.channel());
            ctx.close();
        }
    }
}
