package io.snigate.connect;

import io.netty.resolver.ResolvedAddressTypes;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsCache;
import io.netty.resolver.dns.DnsNameResolverChannelStrategy;
import io.netty.resolver.dns.NoopDnsCnameCache;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.SequentialDnsServerAddressStreamProvider;
import io.snigate.config.HostPort;
import io.snigate.config.ProxyConfig;
import io.snigate.transport.Transport;
import io.netty.util.NetUtil;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.util.Collections;
import java.util.List;

/**
 * snigate's DNS resolver as the config sets it up: the proxy resolves upstreams with it, and
 * {@code snigate explain --resolve} asks it the same question.
 */
public final class Resolvers {
    private Resolvers() {}

    /**
     * The proxy's lookups: A, and AAAA where the host has an IPv6 address other than loopback and
     * link-local (as Netty decides for its own default), each its own resolver on {@code cache}.
     */
    public static AddressLookups lookups(ProxyConfig config, Transport transport, DnsCache cache) {
        return lookups(config, transport, cache, hostHasIpv6());
    }

    static AddressLookups lookups(ProxyConfig config, Transport transport, DnsCache cache, boolean ipv6) {
        return lookups(config, transport, cache, ipv6, SystemResolvers.shared());
    }

    /** As above, with {@code system} as the system's servers when the config lists none. */
    static AddressLookups lookups(ProxyConfig config, Transport transport, DnsCache cache, boolean ipv6,
            SystemResolvers system) {
        DnsNameResolverBuilder builder = builder(config, transport, cache, system);
        return new AddressLookups(new DnsAddressResolverGroup(builder.copy().resolvedAddressTypes(ResolvedAddressTypes.IPV4_ONLY)),
                ipv6 ? new DnsAddressResolverGroup(builder.copy().resolvedAddressTypes(ResolvedAddressTypes.IPV6_ONLY)) : null);
    }

    private static boolean hostHasIpv6() {
        if (NetUtil.isIpV4StackPreferred()) {
            return false;
        }
        for (NetworkInterface nic : NetUtil.NETWORK_INTERFACES) {
            for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                if (address instanceof Inet6Address && !address.isAnyLocalAddress() && !address.isLoopbackAddress()
                        && !address.isLinkLocalAddress()) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Netty's asynchronous resolver on {@code config}'s servers (or the system's), caching in {@code cache}. */
    public static DnsNameResolverBuilder builder(ProxyConfig config, Transport transport, DnsCache cache) {
        return builder(config, transport, cache, SystemResolvers.shared());
    }

    private static DnsNameResolverBuilder builder(ProxyConfig config, Transport transport, DnsCache cache,
            SystemResolvers system) {
        DnsServerAddressStreamProvider servers = config.resolvers().isEmpty()
                ? system
                : new SequentialDnsServerAddressStreamProvider(
                        config.resolvers().stream().map(HostPort::toResolvedLiteral).toArray(InetSocketAddress[]::new));
        // The system's servers as read at start: a later edit of resolv.conf changes which
        // servers are asked, not each one's share.
        int serverCount = config.resolvers().isEmpty() ? system.count() : config.resolvers().size();
        return new DnsNameResolverBuilder()
                .datagramChannelType(transport.datagramChannelClass())
                .socketChannelType(transport.socketChannelClass())
                .nameServerProvider(servers)
                .resolveCache(cache)
                // Aliases are not kept apart: the addresses are kept under the name asked for, in
                // the bounded cache, and Netty's alias cache has no bound on the names in it.
                .cnameCache(NoopDnsCnameCache.INSTANCE)
                // A socket, so a source port, of its own for every lookup (RFC 5452 §9.2): the
                // query ID's 16 bits are not all that stands between a spoofed answer and a
                // client-chosen name's lookup.
                .datagramChannelStrategy(DnsNameResolverChannelStrategy.ChannelPerResolution)
                // Each query waits its share of the connect budget: a silent first resolver
                // leaves time to ask the others.
                .queryTimeoutMillis(Math.max(1, config.timeouts().connect().toMillis() / serverCount))
                // A SNI name is always fully qualified: never try it under the host's search domains.
                .searchDomains(List.of())
                .ndots(1);
    }
}
