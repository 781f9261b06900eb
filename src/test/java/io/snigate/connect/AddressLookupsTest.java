package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.resolver.dns.DefaultDnsCache;
import io.netty.resolver.dns.DnsCacheEntry;
import io.netty.util.concurrent.Future;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.testing.TestDnsServer;
import io.snigate.transport.EventLoops;
import io.snigate.transport.Transport;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The connect stage's lookups against a real DNS server on loopback, with AAAA asked whatever
 * this host's interfaces (the proxy asks it only where the host has IPv6): both families' answers,
 * IPv4 first; an AAAA that does not come holds the answer up for the resolution delay only, not
 * the connect timeout, unless a destination to verify needs it; a family a name has no records
 * in is not asked again. AAAA is asked from the moment the host has IPv6, and to verify an IPv6
 * destination whatever the host's interfaces.
 */
class AddressLookupsTest {
    private static final Transport TRANSPORT = Transport.select();
    private static final InetAddress V4 = address("192.0.2.10");
    private static final InetAddress V6 = address("2001:db8::10");

    private TestDnsServer dns;
    private EventLoopGroup group;
    private AddressLookups lookups;
    private final DefaultDnsCache cache = new DefaultDnsCache();
    private final AtomicBoolean hostHasIpv6 = new AtomicBoolean(true);

    @BeforeEach
    void start() throws Exception {
        dns = new TestDnsServer().answerBoth("both.test", V4, V6, 60).answerAaaaOnRelease("lateaaaa.test", V4, V6, 60)
                .answer("v4only.test", V4, 60);
        ProxyConfig config = ConfigLoader.parse("""
                listen: "127.0.0.1:0"
                resolvers: ["%s"]
                timeouts: { connect: 10s }
                routes:
                  - match: "*.test"
                    upstream: "$sni:443"
                """.formatted(dns.hostPort()), "routes.yaml");
        group = TRANSPORT.newEventLoopGroup(1);
        lookups = Resolvers.lookups(config, TRANSPORT, cache, hostHasIpv6::get, SystemResolvers.shared());
    }

    @AfterEach
    void stop() throws Exception {
        lookups.close();
        // As the proxy stops: a lookup still waiting (the AAAA never answered) closes its channel
        // on the loop, and its receive buffer is released once the ring confirms the cancel.
        assertThat(EventLoops.stop(group, "test", Duration.ofSeconds(10))).isTrue();
        dns.close();
    }

    @Test
    void bothFamiliesAreAnsweredIpv4First() throws Exception {
        assertThat(addresses(lookups.both(loop(), "both.test", 443, false))).containsExactly(V4, V6);
    }

    @Test
    void anAaaaThatDoesNotComeHoldsTheAnswerUpForTheResolutionDelayOnly() throws Exception {
        long started = System.nanoTime();
        assertThat(addresses(lookups.both(loop(), "lateaaaa.test", 443, false))).containsExactly(V4);
        // Waiting for the AAAA query would take its timeout, the connect timeout: 10 s.
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isLessThan(2_000);
        assertThat(dns.queriesFor("lateaaaa.test")).as("A and AAAA both asked").isGreaterThanOrEqualTo(2);
        // The AAAA lookup goes on, and its answer is kept for the next lookup.
        dns.release();
        await().atMost(Duration.ofSeconds(5)).until(() -> cached("lateaaaa.test", V6));
    }

    @Test
    void aDestinationToVerifyAgainstAaaaWaitsForItsAnswer() throws Exception {
        Future<List<InetSocketAddress>> lookup = lookups.both(loop(), "lateaaaa.test", 443, true);
        assertThat(lookup.await(500, TimeUnit.MILLISECONDS)).as("answered before the AAAA came").isFalse();
        dns.release();
        assertThat(addresses(lookup)).containsExactly(V4, V6);
    }

    @Test
    void aNameWithoutAaaaRecordsIsNotAskedForThemAgain() throws Exception {
        assertThat(addresses(lookups.both(loop(), "v4only.test", 443, false))).containsExactly(V4);
        assertThat(dns.queriesFor("v4only.test")).as("A and AAAA").isEqualTo(2);
        assertThat(addresses(lookups.both(loop(), "v4only.test", 443, false))).containsExactly(V4);
        // The A answer from the cache, and no AAAA query for the minute the absence is remembered.
        assertThat(dns.queriesFor("v4only.test")).as("nothing asked again").isEqualTo(2);
    }

    @Test
    void aaaaIsAskedFromTheMomentTheHostHasIpv6() throws Exception {
        hostHasIpv6.set(false);
        assertThat(addresses(lookups.both(loop(), "both.test", 443, false))).containsExactly(V4);
        assertThat(dns.queriesFor("both.test")).as("A only").isEqualTo(1);
        hostHasIpv6.set(true); // an address came up after the start
        assertThat(addresses(lookups.both(loop(), "both.test", 443, false))).containsExactly(V4, V6);
        assertThat(dns.queriesFor("both.test")).as("A from the cache, AAAA asked").isEqualTo(2);
    }

    @Test
    void anIpv6DestinationToVerifyIsLookedUpInAaaaWhateverTheHost() throws Exception {
        hostHasIpv6.set(false);
        assertThat(addresses(lookups.both(loop(), "both.test", 443, true))).containsExactly(V4, V6);
    }

    /** A failed look keeps the last answer and is said once (failed: nothing said). */
    @Test
    void theHostsIpv6IsLookedAtAgainByARefreshAndAFailedLookKeepsTheLastAnswer() {
        AtomicInteger looks = new AtomicInteger();
        HostIpv6 host = new HostIpv6(() -> switch (looks.getAndIncrement()) {
            case 0 -> false;
            case 1 -> true;
            default -> throw new UncheckedIOException(new SocketException("interfaces unreadable"));
        });
        assertThat(host.getAsBoolean()).isFalse();
        host.refresh();
        assertThat(host.getAsBoolean()).isTrue();
        List<ILoggingEvent> said = RereadLog.during(() -> {
            host.refresh();
            host.refresh();
        });
        assertThat(host.getAsBoolean()).as("kept").isTrue();
        assertThat(looks.get()).isEqualTo(4);
        assertThat(said).extracting(ILoggingEvent::getFormattedMessage).containsExactly("cannot read this host's network"
                + " interfaces (for whether it has IPv6) (interfaces unreadable): keeping what"
                + " was read before until it can be read");
    }

    @Test
    void namesRememberedEmptyAreBoundedAndThoseWhoseMinuteIsOverMakeRoom() {
        NamesWithoutRecords none = new NamesWithoutRecords(2, 100, 10, 0);
        none.remember("a.test", 0);
        none.remember("b.test", 50);
        none.remember("c.test", 60);
        assertThat(none.names()).as("full, none over").containsOnly("a.test", "b.test");
        none.remember("c.test", 120);
        assertThat(none.names()).as("a.test's time over at 100").containsOnly("b.test", "c.test");
        assertThat(none.known("b.test", 149)).isTrue();
        assertThat(none.known("b.test", 150)).isFalse();
    }

    @Test
    void aFullTableOfNamesRememberedEmptyIsWalkedAtMostOncePerInterval() {
        NamesWithoutRecords none = new NamesWithoutRecords(1_000, 1_000_000, 1_000, 0);
        for (int i = 0; i < 1_000; i++) {
            none.remember("name" + i + ".test", i);
        }
        // A client's new names, one a nanosecond: none makes room, so the table is walked for the
        // first and then only once the interval is over.
        for (int i = 0; i < 1_500; i++) {
            none.remember("new" + i + ".test", 1_000 + i);
        }
        assertThat(none.prunes()).isEqualTo(2);
        assertThat(none.names()).hasSize(1_000).doesNotContain("new0.test");
    }

    private boolean cached(String name, InetAddress address) {
        List<? extends DnsCacheEntry> entries = cache.get(name, null);
        return entries != null && entries.stream().anyMatch(entry -> address.equals(entry.address()));
    }

    private EventLoop loop() {
        return (EventLoop) group.next();
    }

    /** The addresses a lookup gave, within 5 s, each with the port asked for. */
    private static List<InetAddress> addresses(Future<List<InetSocketAddress>> lookup) throws Exception {
        assertThat(lookup.await(5, TimeUnit.SECONDS)).as("answered within 5 s").isTrue();
        assertThat(lookup.cause()).isNull();
        assertThat(lookup.getNow()).allMatch(answer -> answer.getPort() == 443);
        return lookup.getNow().stream().map(InetSocketAddress::getAddress).toList();
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }
}
