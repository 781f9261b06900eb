package io.snigate.connect;

import io.snigate.config.Cidr;
import io.snigate.config.Nat64Prefix;
import io.snigate.core.Addresses;
import io.snigate.core.Reason;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a DNS-resolved upstream may be dialed. A client controls the SNI name, and through a DNS
 * name it controls, the address: without this policy a {@code $sni} route is a door from the
 * internet into the proxy's network (the loopback interface, RFC 1918 ranges, cloud metadata at
 * 169.254.169.254) and a way to make the proxy dial itself in a loop.
 *
 * <p>So a {@code $sni} upstream may only be dialed at a public address that is not one of this
 * host's own, or at one inside its route's {@code allow_destinations}; and no DNS-resolved
 * upstream may be dialed at one of the proxy's own listen sockets. (A connection from the proxy to
 * the host's own public address stays on the host, where firewalls usually trust it: every service
 * of the host would be one SNI name away.) The check is made on the very address then dialed: there is no
 * second lookup between the check and the connect for a rebinding DNS server to exploit.
 */
public final class DestinationPolicy {
    private static final Logger LOG = LoggerFactory.getLogger(DestinationPolicy.class);

    /** Where the host's interfaces come from: the system's, or a test's. */
    @FunctionalInterface
    interface Interfaces {
        List<NetworkInterface> list() throws SocketException;
    }

    private final List<InetSocketAddress> listeners;
    private final Set<InetAddress> localAddresses;
    private final List<Nat64Prefix> nat64Prefixes;

    DestinationPolicy(List<InetSocketAddress> listeners, Set<InetAddress> localAddresses,
            List<Nat64Prefix> nat64Prefixes) {
        this.listeners = List.copyOf(listeners);
        this.localAddresses = Set.copyOf(localAddresses);
        this.nat64Prefixes = List.copyOf(nat64Prefixes);
    }

    /**
     * The policy for a proxy bound to {@code listeners}, on a network whose NAT64 prefixes besides
     * the well-known one are {@code nat64Prefixes}. Enumerates the host's interfaces, so it is
     * built off the event loops, at start and at each reload.
     */
    /**
     * The policy in force before the proxy's listeners are bound, when nothing is dialed yet: it
     * knows no listener and lists no interface (a list that fails would be said twice at a start).
     */
    public static DestinationPolicy beforeStart() {
        return new DestinationPolicy(List.of(), Set.of(), List.of());
    }

    public static DestinationPolicy forListeners(List<InetSocketAddress> listeners, List<Nat64Prefix> nat64Prefixes) {
        return forListeners(listeners, nat64Prefixes, () -> Collections.list(NetworkInterface.getNetworkInterfaces()));
    }

    static DestinationPolicy forListeners(List<InetSocketAddress> listeners, List<Nat64Prefix> nat64Prefixes,
            Interfaces interfaces) {
        Set<InetAddress> local = new HashSet<>();
        try {
            for (NetworkInterface nic : interfaces.list()) {
                local.addAll(Collections.list(nic.getInetAddresses()));
            }
        } catch (SocketException e) {
            // Without the list, wildcard listeners still match loopback and the listen address
            // itself, and non-public addresses stay refused; only the host's own public addresses
            // are no longer refused before a connect, which an operator needs to know.
            LOG.warn("cannot list this host's network interfaces ({}): a $sni upstream at one of this host's own"
                    + " public addresses is refused only once its connect shows it is this host", e.getMessage());
        }
        return new DestinationPolicy(listeners, local, nat64Prefixes);
    }

    /**
     * Why {@code target} may not be dialed, or null when it may.
     *
     * @param clientChosen whether the client's choices led to this address (a {@code $sni} name or
     *     its original destination): such an address must be public or within {@code allowed}
     * @return {@link Reason#LOOP_DETECTED} for one of the proxy's own listen sockets, whatever else
     *     is allowed; {@link Reason#FORBIDDEN_DESTINATION} for a client-chosen address that is not
     *     allowed and is not public or is one of this host's own
     */
    public Reason refusal(InetSocketAddress target, boolean clientChosen, List<Cidr> allowed) {
        if (isOwnListener(target)) {
            return Reason.LOOP_DETECTED;
        }
        if (!clientChosen) {
            return null;
        }
        InetAddress literal = target.getAddress();
        InetAddress address = judged(literal);
        // Allowed and public by the IPv4 address a NAT64 address carries (where the connection
        // goes, whatever IPv6 range holds the prefix); this host's by either spelling.
        if (inAny(allowed, address)) {
            return null;
        }
        boolean thisHost = localAddresses.contains(address) || localAddresses.contains(literal);
        return isPublic(address) && !thisHost ? null : Reason.FORBIDDEN_DESTINATION;
    }

    /**
     * Why a client-chosen upstream found to be this host itself may not be used, or null when it
     * may: the connect's source address equalled its destination, which Linux picks only for one
     * of the host's own addresses. That catches an address added after the list above was made (a
     * VRRP address after a failover, a rotated IPv6 temporary address) as {@link #refusal} would
     * have, had it been on the list.
     */
    public Reason refusalOfThisHost(InetSocketAddress target, List<Cidr> allowed) {
        InetAddress literal = target.getAddress();
        InetAddress address = judged(literal);
        Set<InetAddress> thisHost = address == literal ? Set.of(literal) : Set.of(literal, address);
        for (InetSocketAddress listener : listeners) {
            if (Addresses.reaches(target, listener, thisHost)) {
                return Reason.LOOP_DETECTED;
            }
        }
        return inAny(allowed, address) ? null : Reason.FORBIDDEN_DESTINATION;
    }

    private static boolean inAny(List<Cidr> ranges, InetAddress address) {
        for (Cidr range : ranges) {
            if (range.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The address judged for {@code address}: the IPv4 address inside an IPv4-compatible or NAT64
     * spelling of one (the well-known prefix's, or one of the network's {@code nat64_prefixes}),
     * else {@code address} itself.
     */
    private InetAddress judged(InetAddress address) {
        InetAddress ipv4 = Addresses.embeddedIpv4(address);
        if (ipv4 != address) {
            return ipv4;
        }
        InetAddress carried = carriedThroughNat64(address);
        return carried != null ? carried : address;
    }

    /** The IPv4 address {@code address} carries in one of the network's {@code nat64_prefixes}, or null. */
    private InetAddress carriedThroughNat64(InetAddress address) {
        for (int i = 0; i < nat64Prefixes.size(); i++) { // no iterator on a dial's path
            InetAddress carried = nat64Prefixes.get(i).embeddedIpv4(address);
            if (carried != null) {
                return carried;
            }
        }
        return null;
    }

    /**
     * Is {@code target} one of this proxy's own listen sockets, as written or through one of the
     * network's NAT64 prefixes? Dialing it would be a loop. (The port first: most dials are to
     * ports no listener has, and are answered without looking at the address.)
     */
    public boolean isOwnListener(InetSocketAddress target) {
        for (InetSocketAddress listener : listeners) {
            if (listener.getPort() != target.getPort()) {
                continue;
            }
            if (Addresses.reaches(target, listener, localAddresses)) {
                return true;
            }
            InetAddress carried = carriedThroughNat64(target.getAddress());
            if (carried != null
                    && Addresses.reaches(new InetSocketAddress(carried, target.getPort()), listener, localAddresses)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Public unicast: not loopback, unspecified, link-local, private (RFC 1918, RFC 6598 shared
     * address space, IPv6 unique local), multicast, broadcast, or one of the ranges that IANA's
     * special-purpose registries mark as reachable only locally (this network, IETF protocol
     * assignments, benchmarking, reserved, the local-use NAT64 prefix, discard-only, Teredo). The
     * documentation ranges count as public: they are never routed, so refusing them protects
     * nothing.
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
            int third = b[2] & 0xff;
            boolean thisNetwork = first == 0;
            boolean sharedAddressSpace = first == 100 && (second & 0xc0) == 64; // 100.64.0.0/10
            boolean protocolAssignments = first == 192 && second == 0 && third == 0; // 192.0.0.0/24
            boolean benchmarking = first == 198 && (second & 0xfe) == 18; // 198.18.0.0/15
            boolean reserved = first >= 240; // 240.0.0.0/4 and 255.255.255.255
            return !thisNetwork && !sharedAddressSpace && !protocolAssignments && !benchmarking && !reserved;
        }
        boolean uniqueLocal = (b[0] & 0xfe) == 0xfc; // fc00::/7
        boolean localUseNat64 = Addresses.startsLikeNat64(b) && b[4] == 0 && b[5] == 1; // 64:ff9b:1::/48
        boolean discardOnly = b[0] == 1 && Addresses.isZero(b, 1, 8); // 100::/64
        boolean inIetfBlock = b[0] == 0x20 && b[1] == 0x01 && b[2] == 0; // 2001:0::/24 holds the next two
        // Teredo (2001::/32) hides the host it reaches (its IPv4 address is obfuscated): nothing
        // about it says where the connection goes. Benchmarking (2001:2::/48), as 198.18.0.0/15.
        boolean teredo = inIetfBlock && b[3] == 0;
        boolean benchmarking = inIetfBlock && b[3] == 2 && b[4] == 0 && b[5] == 0;
        return !uniqueLocal && !localUseNat64 && !discardOnly && !teredo && !benchmarking;
    }
}
