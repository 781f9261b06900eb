package io.snigate.connect;

import io.netty.channel.EventLoop;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.resolver.dns.DefaultDnsCache;
import io.netty.resolver.dns.DnsCache;
import io.netty.resolver.dns.DnsCacheEntry;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Netty's TTL-honouring DNS cache, counting the names it holds for the
 * {@code snigate_dns_cache_entries} gauge (Netty's cache has no size). A name counts until its
 * longest TTL runs out, which is when Netty drops it too.
 */
public final class CountedDnsCache implements DnsCache {
    private final DnsCache delegate = new DefaultDnsCache();
    private final Map<String, Long> expiresAtNanos = new ConcurrentHashMap<>();

    /** Names with an unexpired answer; prunes expired ones as it counts. */
    public int size() {
        long now = System.nanoTime();
        expiresAtNanos.values().removeIf(expiry -> expiry - now <= 0);
        return expiresAtNanos.size();
    }

    @Override
    public void clear() {
        expiresAtNanos.clear();
        delegate.clear();
    }

    @Override
    public boolean clear(String hostname) {
        expiresAtNanos.remove(hostname);
        return delegate.clear(hostname);
    }

    @Override
    public List<? extends DnsCacheEntry> get(String hostname, DnsRecord[] additionals) {
        return delegate.get(hostname, additionals);
    }

    @Override
    public DnsCacheEntry cache(
            String hostname, DnsRecord[] additionals, InetAddress address, long originalTtl, EventLoop loop) {
        long expiry = System.nanoTime() + originalTtl * 1_000_000_000L;
        expiresAtNanos.merge(hostname, expiry, Math::max);
        return delegate.cache(hostname, additionals, address, originalTtl, loop);
    }

    @Override
    public DnsCacheEntry cache(String hostname, DnsRecord[] additionals, Throwable cause, EventLoop loop) {
        return delegate.cache(hostname, additionals, cause, loop);
    }
}
