package io.snigate.core;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Set;

/** Facts about IP addresses that the config checks and the proxy's own checks share. */
public final class Addresses {
    private Addresses() {}

    /**
     * Whether dialing {@code target} would connect to a socket listening on {@code listening}:
     * the same address, or a wildcard listener and an address of this host (loopback, the
     * unspecified address, or one of {@code localAddresses}). An IPv4 wildcard listens on IPv4
     * only; the IPv6 one also takes IPv4 on a dual-stack host.
     */
    public static boolean reaches(InetSocketAddress target, InetSocketAddress listening, Set<InetAddress> localAddresses) {
        if (target.getPort() != listening.getPort()) {
            return false;
        }
        InetAddress to = embeddedIpv4(target.getAddress());
        InetAddress at = listening.getAddress();
        if (to.equals(at)) {
            return true;
        }
        boolean toSelf = to.isLoopbackAddress() || to.isAnyLocalAddress() || localAddresses.contains(to);
        boolean sameFamily = to.getClass() == at.getClass() || at instanceof Inet6Address;
        return (at.isAnyLocalAddress() && toSelf && sameFamily) || (to.isAnyLocalAddress() && at.isLoopbackAddress());
    }

    /**
     * The IPv4 address inside an IPv6 spelling of one, so that each spelling of 127.0.0.1 is
     * judged as 127.0.0.1: IPv4-compatible ({@code ::a.b.c.d}, but for {@code ::1} and {@code ::},
     * which are IPv6's own loopback and unspecified address), IPv4-mapped ({@code ::ffff:a.b.c.d},
     * which Java turns into IPv4 when it parses one, but not an {@code Inet6Address} built from
     * bytes), IPv4-translated ({@code ::ffff:0:a.b.c.d}, RFC 2765), NAT64 ({@code 64:ff9b::/96}),
     * and 6to4 ({@code 2002:a.b.c.d::/48}, whose relay is that IPv4 address); else the address itself.
     */
    public static InetAddress embeddedIpv4(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address;
        }
        byte[] b = address.getAddress();
        // ::/96 holds the IPv6 unspecified address and loopback too: those two are themselves.
        boolean compatible = isZero(b, 0, 12) && !(isZero(b, 12, 15) && (b[15] == 0 || b[15] == 1));
        boolean translated = isZero(b, 0, 8) && b[8] == (byte) 0xff && b[9] == (byte) 0xff && isZero(b, 10, 12);
        boolean nat64 = startsLikeNat64(b) && isZero(b, 4, 12);
        if (compatible || isIpv4Mapped(b) || translated || nat64) {
            return ipv4At(b, 12, address);
        }
        boolean sixToFour = b[0] == 0x20 && b[1] == 0x02;
        return sixToFour ? ipv4At(b, 2, address) : address;
    }

    /**
     * The IPv4 address an IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) carries, as a
     * dual-stack socket reports an IPv4 peer; any other address as it is.
     */
    public static InetAddress unmapped(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address;
        }
        byte[] b = address.getAddress();
        return isIpv4Mapped(b) ? ipv4At(b, 12, address) : address;
    }

    /** Whether the address bytes {@code b} are an IPv4-mapped IPv6 address, {@code ::ffff:a.b.c.d}. */
    public static boolean isIpv4Mapped(byte[] b) {
        return b.length == 16 && isZero(b, 0, 10) && b[10] == (byte) 0xff && b[11] == (byte) 0xff;
    }

    /**
     * Whether the IPv6 address bytes {@code b} begin as the NAT64 prefixes do, {@code 64:ff9b}:
     * the well-known {@code 64:ff9b::/96} and the local-use {@code 64:ff9b:1::/48}.
     */
    public static boolean startsLikeNat64(byte[] b) {
        return b[0] == 0 && b[1] == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b;
    }

    /** The IPv4 address in the four bytes of an IPv6 address's {@code b} from {@code from}; {@code address} if none. */
    private static InetAddress ipv4At(byte[] b, int from, InetAddress address) {
        try {
            return InetAddress.getByAddress(new byte[] {b[from], b[from + 1], b[from + 2], b[from + 3]});
        } catch (UnknownHostException impossible) {
            return address;
        }
    }

    /** Whether {@code bytes[from, to)} are all zero. */
    public static boolean isZero(byte[] bytes, int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
