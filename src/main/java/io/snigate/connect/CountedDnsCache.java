package io.snigate.connect;

import io.netty.channel.EventLoop;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.resolver.dns.DefaultDnsCache;
import io.netty.resolver.dns.DnsCache;
import io.netty.resolver.dns.DnsCacheEntry;
import io.snigate.config.HostPort;
import io.snigate.config.ProxyConfig;
import io.snigate.config.Route;
import io.snigate.config.Upstream;
import java.net.InetAddress;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Netty's TTL-honouring DNS cache, bounded, and counting the names it holds for the
 * {@code snigate_dns_cache_entries} gauge. The names come from clients ({@code $sni}), so an
 * answer is kept at most {@value #MAX_TTL_SECONDS} s whatever its TTL, and at most
 * {@value #MAX_NAMES} names are held: past that, a new name is answered without being kept
 * (Netty's cache has neither bound). A name counts until its longest TTL runs out, which is when
 * Netty drops it too. Expired names are pruned when the gauge
 * is read and, so that a proxy nobody scrapes does not keep every name it ever resolved, whenever
 * as many names have been cached since the last prune as it left (at least {@value #PRUNE_AFTER}).
 * That prune walks every name, so it runs on a thread of its own, not on the event loop that
 * cached the name, nor on the common pool, where any blocking task could hold it off.
 */
public final class CountedDnsCache implements DnsCache {
    static final int PRUNE_AFTER = 1024;
    /** The longest an answer is kept, whatever its TTL. */
    static final int MAX_TTL_SECONDS = 300;
    /** The most names kept at once. */
    static final int MAX_NAMES = 10_000;
    private static final Executor PRUNER = Executors.newSingleThreadExecutor(task -> {
        Thread thread = new Thread(task, "snigate-dns-cache-prune");
        thread.setDaemon(true);
        return thread;
    });

    private final DnsCache delegate = new DefaultDnsCache(0, MAX_TTL_SECONDS, 0);
    /** The names the config writes (upstreams, parents): kept even when the cache is full of clients' names. */
    private volatile Set<String> configured = Set.of();
    private final Map<String, Long> expiresAtNanos = new ConcurrentHashMap<>();
    private final AtomicInteger cachedSincePrune = new AtomicInteger();
    private volatile int leftByPrune;
    private final AtomicBoolean pruning = new AtomicBoolean();

    /**
     * The host names {@code config} writes (fixed upstreams, parent proxies, the default and audit
     * upstreams): they are kept past {@link #MAX_NAMES}, so that clients' names cannot turn every
     * connection to them into a lookup. Set at start and at each reload.
     */
    public void keepConfigured(ProxyConfig config) {
        Set<String> names = new HashSet<>();
        for (Route route : config.routes()) {
            addName(names, route.upstream());
            HostPort via = route.delivery().via();
            if (via != null && !via.isIpLiteral()) {
                names.add(via.host());
            }
        }
        addName(names, config.defaultUpstream());
        addName(names, config.policy().auditUpstream());
        configured = Set.copyOf(names);
    }

    private static void addName(Set<String> names, Upstream upstream) {
        if (upstream != null && upstream.kind() == Upstream.Kind.FIXED && !upstream.isIpLiteral()) {
            names.add(upstream.host());
        }
    }

    /** Names with an unexpired answer; prunes expired ones as it counts. */
    public int size() {
        prune();
        return expiresAtNanos.size();
    }

    /** When {@code hostname}'s longest kept answer expires ({@link System#nanoTime}), or null. */
    Long expiresAtNanos(String hostname) {
        return expiresAtNanos.get(hostname);
    }

    /** Names counted, expired or not: what {@link #size} would prune is still here. */
    int held() {
        return expiresAtNanos.size();
    }

    private void prune() {
        cachedSincePrune.set(0); // first: names cached while it walks count towards the next prune
        long now = System.nanoTime();
        expiresAtNanos.values().removeIf(expiry -> expiry - now <= 0);
        leftByPrune = expiresAtNanos.size();
    }

    private boolean pruneDue() {
        return cachedSincePrune.get() >= Math.max(PRUNE_AFTER, leftByPrune);
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
        if (expiresAtNanos.size() >= MAX_NAMES && !expiresAtNanos.containsKey(hostname) && !configured.contains(hostname)) {
            pruneInBackground(); // names may have expired since the last prune
            return new Uncached(address);
        }
        long expiry = System.nanoTime() + Math.min(originalTtl, MAX_TTL_SECONDS) * 1_000_000_000L;
        expiresAtNanos.merge(hostname, expiry, Math::max);
        cachedSincePrune.incrementAndGet();
        if (pruneDue()) {
            pruneInBackground();
        }
        return delegate.cache(hostname, additionals, address, originalTtl, loop);
    }

    private void pruneInBackground() {
        if (pruning.compareAndSet(false, true)) {
            PRUNER.execute(() -> {
                try {
                    do { // again if enough names came while it walked: their trigger found it busy
                        prune();
                    } while (pruneDue());
                } finally {
                    pruning.set(false);
                }
            });
        }
    }

    /** An answer given once, not kept: what a full cache gives for a new name. */
    private record Uncached(InetAddress address) implements DnsCacheEntry {
        @Override
        public Throwable cause() {
            return null;
        }
    }

    @Override
    public DnsCacheEntry cache(String hostname, DnsRecord[] additionals, Throwable cause, EventLoop loop) {
        return delegate.cache(hostname, additionals, cause, loop);
    }
}
