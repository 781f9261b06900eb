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
import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * snigate's DNS resolver as the config sets it up: the proxy resolves upstreams with it, and
 * {@code snigate explain --resolve} asks it the same question.
 */
public final class Resolvers {
    private Resolvers() {}

    /**
     * The proxy's lookups: A, and AAAA while the host has an IPv6 address other than loopback and
     * link-local ({@link HostIpv6}), each its own resolver on {@code cache}.
     */
    public static AddressLookups lookups(ProxyConfig config, Transport transport, DnsCache cache) {
        return lookups(config, transport, cache, HostIpv6.shared(), SystemResolvers.shared());
    }

    /** As above, with {@code ipv6} saying whether the host has IPv6 and {@code system} as the system's servers. */
    static AddressLookups lookups(ProxyConfig config, Transport transport, DnsCache cache, BooleanSupplier ipv6,
            SystemResolvers system) {
        DnsNameResolverBuilder builder = builder(config, transport, cache, system);
        return new AddressLookups(new DnsAddressResolverGroup(builder.copy().resolvedAddressTypes(ResolvedAddressTypes.IPV4_ONLY)),
                new DnsAddressResolverGroup(builder.copy().resolvedAddressTypes(ResolvedAddressTypes.IPV6_ONLY)), ipv6);
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
