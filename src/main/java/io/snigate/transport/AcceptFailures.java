package io.snigate.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.NetUtil;
import io.snigate.core.SystemWords;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * On a Netty server channel (the proxy's listeners on epoll and NIO, the admin endpoint): Netty's
 * acceptor passes a failed accept (out of descriptors, most often) on after pausing accepting for
 * 1 s; said here as the ring's listener says it ({@link #failed}), in one line, instead of at the
 * pipeline's tail with a stack trace.
 */
@ChannelHandler.Sharable
public final class AcceptFailures extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(AcceptFailures.class);
    /**
     * Loaded with this class (the admin endpoint's bind loads it), not at the first failed accept:
     * out of descriptors, a class file not loaded yet cannot be opened from a folder, as the tests
     * run (a jar is open already).
     */
    @SuppressWarnings("unused")
    private static final Class<?> WORDS = SystemWords.class;

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            failed(ctx.channel().localAddress(), cause);
        } else {
            LOG.warn("accepting on {} paused for 1 s after an unexpected error", named(ctx.channel().localAddress()),
                    cause);
        }
    }

    /**
     * Accepting on {@code local} failed and is paused for 1 s, said in the system's words (Netty's
     * epoll acceptor wraps them in "accept(..) failed with error(-24)"), and out of descriptors as
     * that: "the process is out of file descriptors (Too many open files)". The ring's listener and
     * Netty's channels say it in one line.
     */
    static void failed(SocketAddress local, Throwable cause) {
        if (LOG.isWarnEnabled()) {
            LOG.warn("accepting on {} failed: {}; trying again in 1 s", named(local), SystemWords.plainly(cause));
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
