package io.snigate.connect;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import io.netty.util.NetUtil;
import io.snigate.config.Delivery;
import io.snigate.core.PipelineNames;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Sends a PROXY protocol header to an upstream, ahead of the client's bytes, with Netty's
 * {@code HAProxyMessageEncoder}: the client's address, and where the client was going (its
 * original destination, or the address it connected to on the proxy). In v2 the SNI goes in an
 * {@code AUTHORITY} TLV. An IPv4 pair is sent as IPv4; a pair of mixed families as IPv6, the IPv4
 * side IPv4-mapped.
 */
public final class ProxyHeaderSender {
    private static final byte TLV_AUTHORITY = 0x02;

    private ProxyHeaderSender() {}

    /** Writes (without flushing) the header to {@code upstream}, before anything else written to it. */
    public static void send(Channel upstream, Delivery.ProxyProtocolVersion version, InetSocketAddress client,
            InetSocketAddress destination, String sni) {
        boolean ipv4 = client.getAddress() instanceof Inet4Address && destination.getAddress() instanceof Inet4Address;
        List<HAProxyTLV> tlvs = version == Delivery.ProxyProtocolVersion.V2 && sni != null
                ? List.of(new HAProxyTLV(TLV_AUTHORITY, Unpooled.copiedBuffer(sni, StandardCharsets.US_ASCII)))
                : List.of();
        HAProxyMessage header;
        try {
            header = new HAProxyMessage(
                    version == Delivery.ProxyProtocolVersion.V1 ? HAProxyProtocolVersion.V1 : HAProxyProtocolVersion.V2,
                    HAProxyCommand.PROXY,
                    ipv4 ? HAProxyProxiedProtocol.TCP4 : HAProxyProxiedProtocol.TCP6,
                    text(client.getAddress(), ipv4), text(destination.getAddress(), ipv4),
                    client.getPort(), destination.getPort(), tlvs);
        } catch (RuntimeException refused) {
            tlvs.forEach(HAProxyTLV::release); // the message would have owned them
            throw refused;
        }
        upstream.pipeline().addFirst(PipelineNames.PROXY_HEADER_ENCODER, HAProxyMessageEncoder.INSTANCE);
        upstream.write(header, upstream.voidPromise());
        upstream.pipeline().remove(PipelineNames.PROXY_HEADER_ENCODER);
    }

    private static String text(InetAddress address, boolean ipv4) {
        if (ipv4 || !(address instanceof Inet4Address)) {
            return NetUtil.toAddressString(address);
        }
        return "::ffff:" + address.getHostAddress();
    }
}
