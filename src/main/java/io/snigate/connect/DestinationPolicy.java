package io.snigate.connect;

import io.snigate.config.Cidr;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Where a DNS-resolved upstream may be dialed. A client controls the SNI name, and through a DNS
 * name it controls, the address: without this policy a {@code $sni} route is a door from the
 * internet into the proxy's network (the loopback interface, RFC 1918 ranges, cloud metadata at
 * 169.254.169.254) and a way to make the proxy dial itself in a loop.
 *
 * <p>So a {@code $sni} upstream may only be dialed at a public address, or at one inside its
 * route's {@code allow_destinations}; and no DNS-resolved upstream may be dialed at one of the
 * proxy's own listen sockets. The check is made on the very address then dialed: there is no
 * second lookup between the check and the connect for a rebinding DNS server to exploit.
 */
public final class DestinationPolicy {
    private final List<InetSocketAddress> listeners;
    private final Set<InetAddress> localAddresses;

    private DestinationPolicy(List<InetSocketAddress> listeners, Set<InetAddress> localAddresses) {
        this.listeners = List.copyOf(listeners);
        this.localAddresses = Set.copyOf(localAddresses);
    }

    /**
     * The policy for a proxy bound to {@code listeners}. Enumerates the host's interfaces, so it is
     * built off the event loops, at start and at each reload.
     */
    public static DestinationPolicy forListeners(List<InetSocketAddress> listeners) {
        Set<InetAddress> local = new HashSet<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                local.addAll(Collections.list(nic.getInetAddresses()));
            }
        } catch (SocketException e) {
            // Without the list, wildcard listeners still match loopback and the listen address itself.
        }
        return new DestinationPolicy(listeners, local);
    }

    /** May a {@code $sni} upstream be dialed at {@code target}? */
    public boolean allowsSniDestination(InetSocketAddress target, List<Cidr> allowed) {
        if (isOwnListener(target)) {
            return false;
        }
        InetAddress address = embeddedIpv4(target.getAddress());
        return isPublic(address) || allowed.stream().anyMatch(range -> range.contains(address));
    }

    /** Is {@code target} one of this proxy's own listen sockets? Dialing it would be a loop. */
    public boolean isOwnListener(InetSocketAddress target) {
        InetAddress address = embeddedIpv4(target.getAddress());
        for (InetSocketAddress listener : listeners) {
            if (listener.getPort() != target.getPort()) {
                continue;
            }
            InetAddress bound = listener.getAddress();
            if (bound.equals(address)) {
                return true;
            }
            if (bound.isAnyLocalAddress()
                    && (address.isLoopbackAddress() || address.isAnyLocalAddress() || localAddresses.contains(address))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Public unicast: not loopback, unspecified, link-local, private (RFC 1918, RFC 6598 shared
     * address space, IPv6 unique local), multicast or broadcast.
     */
    static boolean isPublic(InetAddress address) {
        if (address.isLoopbackAddress() || address.isAnyLocalAddress() || address.isLinkLocalAddress()
                || address.isSiteLocalAddress() || address.isMulticastAddress()) {
            return false;
        }
        byte[] b = address.getAddress();
        if (address instanceof Inet4Address) {
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            boolean thisNetwork = first == 0;
            boolean sharedAddressSpace = first == 100 && (second & 0xc0) == 64; // 100.64.0.0/10
            boolean reserved = first >= 240; // 240.0.0.0/4 and 255.255.255.255
            return !thisNetwork && !sharedAddressSpace && !reserved;
        }
        boolean uniqueLocal = (b[0] & 0xfe) == 0xfc; // fc00::/7
        return !uniqueLocal;
    }

    /**
     * The IPv4 address inside an IPv4-compatible ({@code ::a.b.c.d}) or NAT64 ({@code 64:ff9b::/96})
     * IPv6 address, so that those spellings of 127.0.0.1 are judged as 127.0.0.1. (Java already
     * turns IPv4-mapped addresses, {@code ::ffff:a.b.c.d}, into IPv4 ones.)
     */
    static InetAddress embeddedIpv4(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address;
        }
        byte[] b = address.getAddress();
        boolean compatible = isZero(b, 0, 12) && !isZero(b, 12, 16);
        boolean nat64 = b[0] == 0 && b[1] == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b && isZero(b, 4, 12);
        if (!compatible && !nat64) {
            return address;
        }
        try {
            return InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
        } catch (UnknownHostException impossible) {
            return address;
        }
    }

    private static boolean isZero(byte[] bytes, int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
