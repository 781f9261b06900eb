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
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Netty's TTL-honouring DNS cache, counting the names it holds for the
 * {@code snigate_dns_cache_entries} gauge (Netty's cache has no size). A name counts until its
 * longest TTL runs out, which is when Netty drops it too. Expired names are pruned when the gauge
 * is read and, so that a proxy nobody scrapes does not keep every name it ever resolved, whenever
 * as many names have been cached since the last prune as it left (at least {@value #PRUNE_AFTER}).
 * That prune walks every name, so it runs on the common pool, not on the event loop that cached
 * the name.
 */
public final class CountedDnsCache implements DnsCache {
    static final int PRUNE_AFTER = 1024;

    private final DnsCache delegate = new DefaultDnsCache();
    private final Map<String, Long> expiresAtNanos = new ConcurrentHashMap<>();
    private final AtomicInteger cachedSincePrune = new AtomicInteger();
    private volatile int leftByPrune;
    private final AtomicBoolean pruning = new AtomicBoolean();

    /** Names with an unexpired answer; prunes expired ones as it counts. */
    public int size() {
        prune();
        return expiresAtNanos.size();
    }

    /** Names counted, expired or not: what {@link #size} would prune is still here. */
    int held() {
        return expiresAtNanos.size();
    }

    private void prune() {
        long now = System.nanoTime();
        expiresAtNanos.values().removeIf(expiry -> expiry - now <= 0);
        cachedSincePrune.set(0);
        leftByPrune = expiresAtNanos.size();
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
        if (cachedSincePrune.incrementAndGet() >= Math.max(PRUNE_AFTER, leftByPrune) && pruning.compareAndSet(false, true)) {
            ForkJoinPool.commonPool().execute(() -> {
                try {
                    prune();
                } finally {
                    pruning.set(false);
                }
            });
        }
        return delegate.cache(hostname, additionals, address, originalTtl, loop);
    }

    @Override
    public DnsCacheEntry cache(String hostname, DnsRecord[] additionals, Throwable cause, EventLoop loop) {
        return delegate.cache(hostname, additionals, cause, loop);
    }
}
