package io.snigate.connect;

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

/**
 * snigate's DNS resolver as the config sets it up: the proxy resolves upstreams with it, and
 * {@code snigate explain --resolve} asks it the same question.
 */
public final class Resolvers {
    private Resolvers() {}

    /** Netty's asynchronous resolver on {@code config}'s servers (or the system's), caching in {@code cache}. */
    public static DnsNameResolverBuilder builder(ProxyConfig config, Transport transport, DnsCache cache) {
        DnsServerAddressStreamProvider servers = config.resolvers().isEmpty()
                ? SystemResolvers.shared()
                : new SequentialDnsServerAddressStreamProvider(
                        config.resolvers().stream().map(HostPort::toResolvedLiteral).toArray(InetSocketAddress[]::new));
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
                // With IPv6 on the host both A and AAAA are asked, and both answers are used
                // (IPv4 first): an IPv6 client's original destination is verified against the
                // AAAA records, and a name whose IPv4 addresses fail is dialed over IPv6.
                .completeOncePreferredResolved(false)
                // Each query waits at most half the connect budget: a server that never answers
                // AAAA holds the A answer up by half the budget, not all of it, and a silent
                // first resolver leaves time to ask the next.
                .queryTimeoutMillis(Math.max(1, config.timeouts().connect().toMillis() / 2))
                // A SNI name is always fully qualified: never try it under the host's search domains.
                .searchDomains(List.of())
                .ndots(1);
    }
}
