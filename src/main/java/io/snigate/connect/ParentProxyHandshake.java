package io.snigate.connect;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.PipelineNames;
import io.snigate.core.Reason;
import io.snigate.core.StageFailure;
import io.snigate.relay.UpstreamLink;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks a parent HTTP proxy for a tunnel: {@code CONNECT host:port HTTP/1.1} on a freshly
 * connected channel, then its answer up to the blank line (CRLF or, as RFC 9112 lets a recipient
 * accept, bare LF). Interim 1xx answers are skipped (RFC 9110 §15.2). A 2xx answer completes the
 * promise and the channel is the tunnel; any other fails it with
 * {@link Reason#PARENT_PROXY_REFUSED} (the status goes in the record), and a parent that closes
 * before a status line (at once, as HAProxy's {@code http-request reject} does), or answers what
 * is not HTTP/1.x, with {@link Reason#UPSTREAM_UNREACHABLE}. The connect timeout covers it all.
 */
final class ParentProxyHandshake extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ParentProxyHandshake.class);
    /** Far above a real proxy's answer to CONNECT. */
    private static final int MAX_ANSWER_BYTES = 8192;

    private final ConnectionRecord record;
    private final Promise<UpstreamLink> tunnel;
    private ByteBuf answer;
    /** How far {@link #answer} was searched for its blank line, from its reader index. */
    private int searched;

    private ParentProxyHandshake(ConnectionRecord record, Promise<UpstreamLink> tunnel) {
        this.record = record;
        this.tunnel = tunnel;
    }

    /** Starts the handshake on a connected {@code parent}; {@code tunnel} completes with it. */
    static void start(Channel parent, String authority, String authorization, ConnectionRecord record,
            Promise<UpstreamLink> tunnel) {
        ParentProxyHandshake handshake = new ParentProxyHandshake(record, tunnel);
        parent.pipeline().addFirst(PipelineNames.PARENT_PROXY_HANDSHAKE, handshake);
        String request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n"
                + (authorization == null ? "" : "Proxy-Authorization: " + authorization + "\r\n") + "\r\n";
        parent.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
        parent.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (answer == null) {
            answer = ctx.alloc().buffer(256);
        }
        answer.writeBytes(in);
        in.release();
        int end;
        int status;
        while (true) {
            // Empty lines before a status line are skipped (RFC 9112 §2.2), as some parents send after a 1xx.
            int emptyLineBytes = 0;
            while (emptyLineBytes < answer.readableBytes()
                    && isLineEnd(answer.getByte(answer.readerIndex() + emptyLineBytes))) {
                emptyLineBytes++;
            }
            if (emptyLineBytes > 0) {
                answer.skipBytes(emptyLineBytes).discardReadBytes(); // what was skipped takes no room
                searched = 0;
            }
            end = blankLine();
            if (end < 0) {
                if (answer.readableBytes() > MAX_ANSWER_BYTES) {
                    fail(ctx, Reason.UPSTREAM_UNREACHABLE);
                } else {
                    ctx.read();
                }
                return;
            }
            status = statusOf(answer);
            // 101 is no interim answer to CONNECT: it is final, and refused.
            if (status < 100 || status > 199 || status == 101) {
                break;
            }
            answer.skipBytes(end); // an interim answer: the final one follows
            answer.discardReadBytes();
            searched = 0;
        }
        if (status > 0) {
            record.parentStatus(status);
        }
        if (status < 200 || status > 299) {
            fail(ctx, status > 0 ? Reason.PARENT_PROXY_REFUSED : Reason.UPSTREAM_UNREACHABLE);
        } else if (answer.readableBytes() > end) {
            // A TLS server says nothing before the ClientHello: bytes after the answer are no tunnel.
            fail(ctx, Reason.UPSTREAM_UNREACHABLE);
        } else {
            release();
            ctx.pipeline().remove(this);
            tunnel.trySuccess(new UpstreamLink.OfChannel(ctx.channel()));
        }
    }

    private static boolean isLineEnd(byte b) {
        return b == '\r' || b == '\n';
    }

    private static final byte[] HTTP_1 = "HTTP/1.".getBytes(StandardCharsets.US_ASCII);

    /** The status of {@code HTTP/1.x NNN ...}, or -1 when the answer is not one. */
    private static int statusOf(ByteBuf answer) {
        int at = answer.readerIndex();
        if (answer.readableBytes() < 12) {
            return -1;
        }
        for (int i = 0; i < HTTP_1.length; i++) {
            if (answer.getByte(at + i) != HTTP_1[i]) {
                return -1;
            }
        }
        byte minor = answer.getByte(at + 7);
        if (minor < '0' || minor > '9' || answer.getByte(at + 8) != ' ') {
            return -1;
        }
        int status = 0;
        for (int i = 9; i < 12; i++) {
            byte digit = answer.getByte(at + i);
            if (digit < '0' || digit > '9') {
                return -1;
            }
            status = status * 10 + (digit - '0');
        }
        return status;
    }

    private void fail(ChannelHandlerContext ctx, Reason reason) {
        release();
        tunnel.tryFailure(new UpstreamException(reason, null));
        ctx.close();
    }

    /**
     * The parent's FIN (an upstream channel allows half-closure, so it comes as an event, not as
     * the channel's end): it will answer no more. A status line it sent before is kept, and a
     * refusal in it is one.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (!(event instanceof ChannelInputShutdownEvent)) {
            ctx.fireUserEventTriggered(event);
            return;
        }
        int status = answer == null ? -1 : statusOf(answer);
        if (status > 0) {
            record.parentStatus(status);
        }
        fail(ctx, status > 0 && (status < 200 || status > 299) ? Reason.PARENT_PROXY_REFUSED : Reason.UPSTREAM_UNREACHABLE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        release();
        tunnel.tryFailure(new UpstreamException(Reason.UPSTREAM_UNREACHABLE, null));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // An I/O error or an answer Netty cannot decode is the parent's; the dial fails cleanly
        // whatever the cause.
        fail(ctx, StageFailure.reasonOf(cause, Reason.UPSTREAM_UNREACHABLE, LOG,
                "parent proxy handshake for " + record.client()));
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }

    private void release() {
        if (answer != null) {
            answer.release();
            answer = null;
        }
    }

    /**
     * The length of {@link #answer}'s head up to and with the line feed that ends its blank line
     * ({@code \n\n} or {@code \n\r\n}), from the reader index, or -1; each byte is looked at once
     * however the answer arrives.
     */
    private int blankLine() {
        int start = answer.readerIndex();
        for (int i = start + Math.max(searched, 1); i < answer.writerIndex(); i++) {
            if (answer.getByte(i) == '\n' && (answer.getByte(i - 1) == '\n'
                    || i - 2 >= start && answer.getByte(i - 1) == '\r' && answer.getByte(i - 2) == '\n')) {
                return i + 1 - start;
            }
        }
        searched = answer.readableBytes();
        return -1;
    }
}
