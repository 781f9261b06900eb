package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.DefaultEventLoop;
import io.netty.handler.codec.dns.DnsRecord;
import java.net.InetAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link CountedDnsCache}: the names it counts for the gauge, that expired ones leave even when
 * nobody reads the gauge, and its bounds: a TTL kept at most {@link CountedDnsCache#MAX_TTL_SECONDS},
 * at most {@link CountedDnsCache#MAX_NAMES} names.
 */
class CountedDnsCacheTest {
    private static final DnsRecord[] NONE = new DnsRecord[0];
    private final DefaultEventLoop loop = new DefaultEventLoop();

    @AfterEach
    void stop() {
        loop.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void countsNamesUntilTheirLongestTtlRunsOut() throws Exception {
        CountedDnsCache cache = new CountedDnsCache();
        InetAddress address = InetAddress.getByName("192.0.2.1");
        cache.cache("kept.example", NONE, address, 300, loop);
        cache.cache("kept.example", NONE, address, 0, loop);
        cache.cache("gone.example", NONE, address, 0, loop);
        assertThat(cache.size()).isEqualTo(1);
    }

    @Test
    void aLongTtlIsKeptFiveMinutesAtMost() throws Exception {
        CountedDnsCache cache = new CountedDnsCache();
        InetAddress address = InetAddress.getByName("192.0.2.1");
        long before = System.nanoTime();
        cache.cache("long.example", NONE, address, Integer.MAX_VALUE, loop);
        assertThat(cache.expiresAtNanos("long.example") - before)
                .isLessThanOrEqualTo(java.util.concurrent.TimeUnit.SECONDS.toNanos(CountedDnsCache.MAX_TTL_SECONDS) + 1_000_000_000L);
    }

    @Test
    void aFullCacheAnswersNewNamesWithoutKeepingThem() throws Exception {
        CountedDnsCache cache = new CountedDnsCache();
        InetAddress address = InetAddress.getByName("192.0.2.1");
        for (int i = 0; i < CountedDnsCache.MAX_NAMES + 500; i++) {
            assertThat(cache.cache("name" + i + ".example", NONE, address, 300, loop).address()).isEqualTo(address);
        }
        assertThat(cache.size()).isEqualTo(CountedDnsCache.MAX_NAMES);
        assertThat(cache.get("name0.example", NONE)).as("kept").hasSize(1);
        assertThat(cache.get("name" + (CountedDnsCache.MAX_NAMES + 1) + ".example", NONE)).as("not kept").isNullOrEmpty();
        // A name already kept is still answered from the cache and renewed.
        cache.cache("name0.example", NONE, address, 300, loop);
        assertThat(cache.size()).isEqualTo(CountedDnsCache.MAX_NAMES);
    }

    @Test
    void theConfigsOwnNamesAreKeptWhenClientsFilledTheCache() throws Exception {
        CountedDnsCache cache = new CountedDnsCache();
        cache.keepConfigured(io.snigate.config.ConfigLoader.parse("""
                listen: ["127.0.0.1:0"]
                routes:
                  - match: "a.example"
                    upstream: "backend.internal:443"
                  - match: "b.example"
                    upstream: "$sni:443"
                    via: "http://squid.internal:3128"
                """, "test.yaml"));
        InetAddress address = InetAddress.getByName("192.0.2.1");
        for (int i = 0; i < CountedDnsCache.MAX_NAMES; i++) {
            cache.cache("client" + i + ".example", NONE, address, 300, loop);
        }
        cache.cache("backend.internal", NONE, address, 300, loop);
        cache.cache("squid.internal", NONE, address, 300, loop);
        cache.cache("another-client.example", NONE, address, 300, loop);
        assertThat(cache.get("backend.internal", NONE)).hasSize(1);
        assertThat(cache.get("squid.internal", NONE)).hasSize(1);
        assertThat(cache.get("another-client.example", NONE)).isNullOrEmpty();
    }

    @Test
    void expiredNamesArePrunedWithoutAScrape() throws Exception {
        CountedDnsCache cache = new CountedDnsCache();
        InetAddress address = InetAddress.getByName("192.0.2.1");
        cache.cache("kept.example", NONE, address, 300, loop);
        for (int i = 0; i < 10 * CountedDnsCache.PRUNE_AFTER; i++) {
            cache.cache("name" + i + ".example", NONE, address, 0, loop); // expired at once
        }
        // Pruned off the caller's thread: at most the names cached since the last prune stay.
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> cache.held() <= 2 * CountedDnsCache.PRUNE_AFTER);
        assertThat(cache.size()).isEqualTo(1);
    }
}
