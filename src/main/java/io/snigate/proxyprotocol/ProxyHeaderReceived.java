package io.snigate.proxyprotocol;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.PipelineNames;
import io.snigate.core.ProxyHeaderTaken;
import io.snigate.core.Reason;
import io.snigate.core.StageFailure;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes the PROXY header Netty's decoder parsed: its source becomes the connection's client (the
 * socket's own remote address stays as the peer), then the header stages leave the pipeline and
 * whatever followed the header flows on to the pre-read. A v2 {@code LOCAL} or v1 {@code UNKNOWN}
 * header is the balancer's own connection, which the PROXY protocol says to accept with the
 * socket's endpoints: a frontend on a UNIX socket sends it before its clients' bytes, and a health
 * check that speaks TLS before its ClientHello; one closed before a byte is a health check. After
 * a header that ends the connection, nothing flows on.
 */
public final class ProxyHeaderReceived extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyHeaderReceived.class);
    private final ConnectionRecord record;
    private final Predicate<ConnectionRecord> clientKnown;

    /**
     * @param clientKnown asked once the header has named the client, before the pre-read sees a
     *     byte, whether the connection may go on; when not, it has recorded why, and the
     *     connection is closed
     */
    public ProxyHeaderReceived(ConnectionRecord record, Predicate<ConnectionRecord> clientKnown) {
        this.record = record;
        this.clientKnown = clientKnown;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HAProxyMessage header)) {
            // What followed a header that ended the connection: the pre-read never sees it.
            ReferenceCountUtil.release(msg);
            return;
        }
        // v2 LOCAL, or v1 UNKNOWN, which the PROXY protocol gives the same meaning (the proxy's own
        // connection, its health checks among them).
        boolean local = header.command() == HAProxyCommand.LOCAL
                || header.protocolVersion() == HAProxyProtocolVersion.V1 && header.proxiedProtocol() == HAProxyProxiedProtocol.UNKNOWN;
        try {
            if (!local && carriesAddresses(header)) {
                InetSocketAddress source = addressOf(header.sourceAddress(), header.sourcePort());
                if (source != null) {
                    record.proxiedFor(source);
                    record.proxiedTo(addressOf(header.destinationAddress(), header.destinationPort()));
                }
            }
        } finally {
            ReferenceCountUtil.release(header);
        }
        if (!clientKnown.test(record)) {
            ctx.close();
            return;
        }
        // The pre-read's timeout runs from here. The decoder leaves by itself once this returns,
        // and passes on what followed the header in the same read (a ClientHello) to the stage
        // after this one.
        ctx.fireUserEventTriggered(local ? ProxyHeaderTaken.LOCAL : ProxyHeaderTaken.PROXIED);
        ctx.pipeline().remove(PipelineNames.PROXY_HEADER);
        ctx.pipeline().remove(this);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // The decoder refused the header (it closes the connection itself); nothing goes further.
        record.endedBecause(StageFailure.reasonOf(cause, Reason.PROXY_PROTOCOL_INVALID, LOG,
                "closing " + ctx.channel().remoteAddress() + " in its PROXY header's stage"));
        ctx.close();
    }

    /** Whether the header names TCP addresses: not a v1 {@code UNKNOWN}, nor a family other than TCP. */
    private static boolean carriesAddresses(HAProxyMessage header) {
        HAProxyProxiedProtocol protocol = header.proxiedProtocol();
        return protocol == HAProxyProxiedProtocol.TCP4 || protocol == HAProxyProxiedProtocol.TCP6;
    }

    private static InetSocketAddress addressOf(String ip, int port) {
        byte[] address = NetUtil.createByteArrayFromIpAddressString(ip);
        try {
            return address == null ? null : new InetSocketAddress(InetAddress.getByAddress(address), port);
        } catch (UnknownHostException impossible) {
            return null;
        }
    }
}
