package io.snigate.config;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Set;

/**
 * A NAT64 prefix of the network (RFC 6052): an IPv6 address inside it is how DNS64 spells an
 * IPv4 address for an IPv6-only host, and the NAT64 gateway connects to that IPv4 address. The
 * destination policy judges the IPv4 address it carries, so that a name whose A record is
 * private does not pass as a public IPv6 address.
 */
public record Nat64Prefix(Cidr range) {
    /** The prefix lengths RFC 6052 defines; the IPv4 address sits after the prefix, skipping bits 64 to 71. */
    private static final Set<Integer> LENGTHS = Set.of(32, 40, 48, 56, 64, 96);
    /** The byte of bits 64 to 71, which RFC 6052 keeps zero and out of the IPv4 address. */
    private static final int RESERVED_BYTE = 8;

    /**
     * Parses {@code prefix/length}.
     *
     * @throws IllegalArgumentException whose message says what is wrong but not where
     */
    public static Nat64Prefix parse(String text) {
        if (text.indexOf('/') < 0) {
            throw new IllegalArgumentException("\"" + text + "\" has no length; write the prefix like 64:ff9b::/96");
        }
        Cidr range = Cidr.parse(text);
        if (range.network().length != 16) {
            throw new IllegalArgumentException("\"" + text + "\" is " + (text.indexOf(':') >= 0
                    ? "an IPv4-mapped range" : "not an IPv6 prefix") + "; a NAT64 prefix is an IPv6 one, like 64:ff9b::/96");
        }
        byte[] network = range.network();
        boolean belowLoopback = Arrays.equals(network, 0, 8, new byte[8], 0, 8); // ::1, ::a.b.c.d, ::ffff:a.b.c.d
        boolean linkLocal = (network[0] & 0xff) == 0xfe && (network[1] & 0xc0) == 0x80;
        boolean multicast = (network[0] & 0xff) == 0xff;
        if (belowLoopback || linkLocal || multicast) {
            throw new IllegalArgumentException("\"" + text + "\" covers " + (belowLoopback ? "loopback and IPv4-mapped"
                    : linkLocal ? "link-local" : "multicast") + " addresses, where no NAT64 prefix is; write the"
                    + " prefix the network's DNS64 uses, like 64:ff9b::/96");
        }
        if (!LENGTHS.contains(range.prefixLength())) {
            throw new IllegalArgumentException("/" + range.prefixLength() + " is not a NAT64 prefix length;"
                    + " RFC 6052 allows /32, /40, /48, /56, /64 and /96");
        }
        return new Nat64Prefix(range);
    }

    /** The IPv4 address {@code address} carries, or null when it is not inside this prefix. */
    public InetAddress embeddedIpv4(InetAddress address) {
        if (!(address instanceof Inet6Address) || !range.contains(address)) {
            return null;
        }
        byte[] bytes = address.getAddress();
        byte[] ipv4 = new byte[4];
        int taken = 0;
        for (int i = range.prefixLength() / 8; taken < ipv4.length; i++) {
            if (i != RESERVED_BYTE) {
                ipv4[taken++] = bytes[i];
            }
        }
        try {
            return InetAddress.getByAddress(ipv4);
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    @Override
    public String toString() {
        return range.text();
    }
}
