package io.snigate.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * On a Netty server channel (the proxy's listeners on epoll and NIO, the admin endpoint): Netty's
 * acceptor passes a failed accept (out of descriptors, most often) on after pausing accepting for
 * 1 s; said here as the ring's listener says it, in one line, instead of at the pipeline's tail
 * with a stack trace.
 */
@ChannelHandler.Sharable
public final class AcceptFailures extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(AcceptFailures.class);

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            LOG.warn("accepting on {} failed ({}); trying again in 1 s", named(ctx.channel().localAddress()),
                    cause.getMessage());
        } else {
            LOG.warn("accepting on {} paused for 1 s after an unexpected error", named(ctx.channel().localAddress()),
                    cause);
        }
    }

    /**
     * A listening address as the start-up lines print it ({@code 127.0.0.1:8443}, {@code [::]:8443}),
     * not with the leading slash of {@link InetSocketAddress#toString}. Netty's formatter, as
     * {@code config.HostPort.format} uses it: this package does not depend on config.
     */
    static String named(SocketAddress address) {
        return address instanceof InetSocketAddress inet ? NetUtil.toSocketAddressString(inet) : String.valueOf(address);
    }
}
