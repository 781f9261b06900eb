package io.snigate.listen;

import io.netty.channel.ChannelException;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.RawUnixChannelOption;
import io.snigate.config.Listener;
import io.snigate.transport.LinuxSocketOptions;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * Where an intercepted client was going. With TPROXY the accepted socket is bound to that
 * address, so it is the local address. With REDIRECT or DNAT the kernel rewrote the destination,
 * and its connection tracking keeps the original: {@code getsockopt(SOL_IP, SO_ORIGINAL_DST)}, or
 * {@code (SOL_IPV6, IP6T_SO_ORIGINAL_DST)} for IPv6, which Netty reads as a raw option on epoll
 * and io_uring sockets alike.
 */
final class OriginalDestination {
    private OriginalDestination() {}

    /**
     * The original destination of a connection accepted by a listener in {@code mode}, or null
     * when it has none: not a transparent listener, or a connection no rule diverted (someone
     * dialed the port directly). {@code boundPort} is the listener's own port.
     */
    static InetSocketAddress of(SocketChannel client, Listener.OriginalDst mode, int boundPort) {
        return switch (mode) {
            case NONE -> null;
            case TPROXY -> tproxied(client, boundPort);
            case REDIRECT -> redirected(client);
        };
    }

    /**
     * A TPROXY listener's socket is bound to where the client was going, its port included; one
     * at the listener's own port was dialed directly, as on a redirect listener, at whichever of
     * the host's addresses (one gained since the start too). The listener's port is never one
     * the firewall diverts.
     */
    private static InetSocketAddress tproxied(SocketChannel client, int boundPort) {
        InetSocketAddress local = client.localAddress();
        return local.getPort() == boundPort ? null : local;
    }

    private static InetSocketAddress redirected(SocketChannel client) {
        InetSocketAddress local = client.localAddress();
        InetSocketAddress original = null;
        // An IPv4 client of a dual-stack listener has an IPv4 conntrack entry: ask IPv4 first.
        if (local.getAddress() instanceof Inet4Address) {
            original = read(client, LinuxSocketOptions.ORIGINAL_DST_IPV4);
        }
        if (original == null) {
            original = read(client, LinuxSocketOptions.ORIGINAL_DST_IPV6);
        }
        // Once NAT is active in the namespace, a connection no rule touched still has a conntrack
        // entry, whose original destination is simply the proxy's own address.
        return original == null || original.equals(local) ? null : original;
    }

    private static InetSocketAddress read(SocketChannel client, RawUnixChannelOption option) {
        ByteBuffer sockaddr;
        try {
            sockaddr = client.config().getOption(option);
        } catch (ChannelException | UnsupportedOperationException e) {
            // ENOENT: no conntrack entry, so no redirection; ENOPROTOOPT: the other family.
            return null;
        }
        return sockaddr == null ? null : decode(sockaddr);
    }

    /** A {@code sockaddr_in} or {@code sockaddr_in6}: the port and address are in network order. */
    static InetSocketAddress decode(ByteBuffer sockaddr) {
        int base = sockaddr.position();
        int port = ((sockaddr.get(base + 2) & 0xff) << 8) | (sockaddr.get(base + 3) & 0xff);
        boolean ipv6 = sockaddr.remaining() >= 28 && (sockaddr.get(base) == 10 || sockaddr.get(base + 1) == 10);
        byte[] address = new byte[ipv6 ? 16 : 4];
        sockaddr.get(base + (ipv6 ? 8 : 4), address);
        try {
            // An IPv4-mapped IPv6 address comes back as the IPv4 address it maps.
            return new InetSocketAddress(InetAddress.getByAddress(address), port);
        } catch (UnknownHostException impossible) {
            return null;
        }
    }
}
