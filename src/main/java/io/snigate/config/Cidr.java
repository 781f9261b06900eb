package io.snigate.config;

import io.netty.util.NetUtil;
import io.snigate.core.Addresses;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/** An address range such as {@code 10.0.0.0/8} or {@code fd00::/8}. */
public record Cidr(byte[] network, int prefixLength, String text) {

    /** The bits in front of the IPv4 address in {@code ::ffff:a.b.c.d}. */
    private static final int MAPPED_PREFIX = 96;

    /**
     * Parses {@code address/prefix}; a bare address is a range of one. An IPv4-mapped range
     * ({@code ::ffff:10.1.0.0/112}) is the IPv4 range it spells ({@code 10.1.0.0/16}): a dual-stack
     * socket's IPv4 peer is judged as an IPv4 address, so the mapped form would never match.
     *
     * @throws IllegalArgumentException whose message says what is wrong but not where
     */
    public static Cidr parse(String text) {
        if (text.indexOf('%') >= 0) {
            // Netty's parser would drop the zone, and the range would hold the address on every interface.
            throw new IllegalArgumentException("\"" + text + "\" has a zone (%...), which a range cannot hold;"
                    + " write the range alone, like fe80::/10");
        }
        int slash = text.indexOf('/');
        String address = slash < 0 ? text : text.substring(0, slash);
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(address);
        if (bytes == null) {
            throw new IllegalArgumentException("\"" + address + "\" is not an IP address; write a range like"
                    + " 10.0.0.0/8 or fd00::/8");
        }
        if (NetUtil.isValidIpV4Address(address)) {
            HostPort.refuseLeadingZeros(address);
        }
        int bits = bytes.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            String prefixText = text.substring(slash + 1);
            if (prefixText.isEmpty() || prefixText.length() > 3 || !prefixText.chars().allMatch(Character::isDigit)) {
                throw new IllegalArgumentException("prefix length \"" + prefixText + "\" is not a number");
            }
            prefix = Integer.parseInt(prefixText);
            if (prefix > bits) {
                throw new IllegalArgumentException("prefix length " + prefix + " is more than " + bits);
            }
        }
        if (Addresses.isIpv4Mapped(bytes)) {
            if (prefix < MAPPED_PREFIX) {
                throw new IllegalArgumentException("an IPv4-mapped range needs a prefix length of at least "
                        + MAPPED_PREFIX + "; write the IPv4 range itself, like 10.0.0.0/8");
            }
            bytes = Arrays.copyOfRange(bytes, 12, 16);
            prefix -= MAPPED_PREFIX;
        }
        byte[] network = mask(bytes, prefix);
        if (!Arrays.equals(network, bytes)) {
            // As nginx warns: bits past the prefix say nothing, and were likely meant to.
            throw new IllegalArgumentException("\"" + text + "\" has bits set past its /" + prefix + "; write the range's"
                    + " first address (" + rangeText(network, prefix) + "), or the one address (" + address + ")");
        }
        return new Cidr(network, prefix, text);
    }

    private static String rangeText(byte[] network, int prefix) {
        try {
            return NetUtil.toAddressString(InetAddress.getByAddress(network)) + "/" + prefix;
        } catch (UnknownHostException impossible) {
            return "?";
        }
    }


    /** Whether {@code address} is in this range (an IPv4 address never is in an IPv6 range). */
    public boolean contains(InetAddress address) {
        byte[] bytes = address.getAddress();
        return bytes.length == network.length && Arrays.equals(mask(bytes, prefixLength), network);
    }

    /** The first {@code prefix} bits of {@code address}, the rest zero: the network it is in. */
    public static InetAddress network(InetAddress address, int prefix) {
        try {
            return InetAddress.getByAddress(mask(address.getAddress(), prefix));
        } catch (UnknownHostException impossible) {
            return address;
        }
    }

    private static byte[] mask(byte[] bytes, int prefix) {
        byte[] masked = bytes.clone();
        for (int i = 0; i < masked.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            masked[i] &= (byte) (0xff << (8 - keep));
        }
        return masked;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Cidr cidr && cidr.prefixLength == prefixLength && Arrays.equals(cidr.network, network);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(network) + prefixLength;
    }

    @Override
    public String toString() {
        return text;
    }
}
