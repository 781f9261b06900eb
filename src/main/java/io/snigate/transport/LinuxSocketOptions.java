package io.snigate.transport;

import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.channel.unix.RawUnixChannelOption;

/**
 * The Linux socket options that neither the JDK nor Netty names on every transport: their levels
 * and numbers ({@code <bits/in.h>}, {@code <asm-generic/socket.h>},
 * {@code <linux/netfilter_ipv4.h>}, {@code <linux/netfilter_ipv6/ip6_tables.h>}), written once,
 * and the Netty channel options made of them.
 */
public final class LinuxSocketOptions {
    public static final int SOL_IP = 0;
    public static final int SOL_SOCKET = 1;
    public static final int SOL_IPV6 = 41;
    public static final int IP_TRANSPARENT = 19;
    public static final int IPV6_TRANSPARENT = 75;
    public static final int SO_MARK = 36;
    public static final int SO_ORIGINAL_DST = 80;
    public static final int IP6T_SO_ORIGINAL_DST = 80;

    /** {@code SO_MARK}: Netty names it for epoll only, io_uring takes it raw. */
    public static final IntegerUnixChannelOption MARK = new IntegerUnixChannelOption("SO_MARK", SOL_SOCKET, SO_MARK);
    /** Where a REDIRECT or DNAT rule's IPv4 connection was going: a {@code sockaddr_in}, 16 bytes. */
    public static final RawUnixChannelOption ORIGINAL_DST_IPV4 =
            new RawUnixChannelOption("SO_ORIGINAL_DST", SOL_IP, SO_ORIGINAL_DST, 16);
    /** Where a REDIRECT or DNAT rule's IPv6 connection was going: a {@code sockaddr_in6}, 28 bytes. */
    public static final RawUnixChannelOption ORIGINAL_DST_IPV6 =
            new RawUnixChannelOption("IP6T_SO_ORIGINAL_DST", SOL_IPV6, IP6T_SO_ORIGINAL_DST, 28);

    private static final IntegerUnixChannelOption TRANSPARENT_IPV4 =
            new IntegerUnixChannelOption("IP_TRANSPARENT", SOL_IP, IP_TRANSPARENT);
    private static final IntegerUnixChannelOption TRANSPARENT_IPV6 =
            new IntegerUnixChannelOption("IPV6_TRANSPARENT", SOL_IPV6, IPV6_TRANSPARENT);

    private LinuxSocketOptions() {}

    /**
     * What makes a listening socket accept connections addressed to other hosts (TPROXY):
     * {@code IPV6_TRANSPARENT} on a socket bound to an IPv6 address (a dual-stack one included),
     * {@code IP_TRANSPARENT} on an IPv4 one.
     */
    public static IntegerUnixChannelOption transparent(boolean ipv6) {
        return ipv6 ? TRANSPARENT_IPV6 : TRANSPARENT_IPV4;
    }
}
