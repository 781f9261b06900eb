package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.resolver.dns.DefaultDnsCache;
import io.netty.resolver.dns.DefaultDnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddresses;
import io.netty.resolver.dns.SequentialDnsServerAddressStreamProvider;
import io.netty.util.concurrent.Future;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.testing.TestDnsServer;
import io.snigate.transport.EventLoops;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link SystemResolvers}: asking for servers never reads {@code /etc/resolv.conf} (an event loop
 * asks); only a refresh, on its own thread, does. Each of the system's servers gets its share of
 * the connect budget, as listed ones do.
 */
class SystemResolversTest {
    @Test
    void askingNeverReadsTheFileOnlyARefreshDoes() {
        AtomicInteger reads = new AtomicInteger();
        InetSocketAddress[] servers = {new InetSocketAddress("192.0.2.53", 53), new InetSocketAddress("192.0.2.54", 53)};
        SystemResolvers resolvers = new SystemResolvers(() -> {
            InetSocketAddress server = servers[reads.getAndIncrement() % 2];
            DnsServerAddressStreamProvider provider = hostname -> DnsServerAddresses.singleton(server).stream();
            return provider;
        });
        assertThat(reads.get()).isEqualTo(1);
        for (int i = 0; i < 1000; i++) {
            assertThat(resolvers.nameServerAddressStream("a.example").next()).isEqualTo(servers[0]);
        }
        assertThat(reads.get()).as("read once, at start").isEqualTo(1);
        resolvers.refresh();
        assertThat(resolvers.nameServerAddressStream("a.example").next()).isEqualTo(servers[1]);
    }

    /**
     * A file that cannot be read keeps the servers read before, said once however many refreshes
     * fail, and said again when it can be read (failed: nothing said).
     */
    @Test
    void aFileThatCannotBeReadKeepsTheServersReadBeforeAndIsSaidOnce() {
        InetSocketAddress server = new InetSocketAddress("192.0.2.53", 53);
        AtomicInteger reads = new AtomicInteger();
        SystemResolvers resolvers = new SystemResolvers(() -> switch (reads.getAndIncrement()) {
            case 1 -> throw new IllegalArgumentException("/etc/resolv.conf didn't provide any name servers");
            case 2 -> throw new UncheckedIOException(new IOException("Permission denied"));
            default -> hostname -> DnsServerAddresses.singleton(server).stream();
        });
        List<ILoggingEvent> said = RereadLog.during(() -> {
            resolvers.refresh();
            resolvers.refresh();
            assertThat(resolvers.nameServerAddressStream("a.example").next()).isEqualTo(server);
            resolvers.refresh();
        });
        assertThat(reads.get()).isEqualTo(4);
        assertThat(said).extracting(event -> event.getLevel() + " " + event.getFormattedMessage()).containsExactly(
                "WARN cannot read the system's DNS servers (/etc/resolv.conf) (/etc/resolv.conf didn't provide any"
                        + " name servers): keeping what was read before until it can be read",
                "INFO the system's DNS servers (/etc/resolv.conf) can be read again");
    }

    /** A bug in the reader is said with its stack trace, and the refreshes go on (failed: swallowed). */
    @Test
    void aBugInTheReaderIsSaidWithItsStackTraceAndTheServersKept() {
        InetSocketAddress server = new InetSocketAddress("192.0.2.53", 53);
        AtomicInteger reads = new AtomicInteger();
        SystemResolvers resolvers = new SystemResolvers(() -> {
            if (reads.getAndIncrement() == 1) {
                throw new NullPointerException("a bug");
            }
            return hostname -> DnsServerAddresses.singleton(server).stream();
        });
        List<ILoggingEvent> said = RereadLog.during(resolvers::refresh);
        assertThat(resolvers.nameServerAddressStream("a.example").next()).isEqualTo(server);
        assertThat(said).singleElement().satisfies(event -> {
            assertThat(event.getFormattedMessage()).isEqualTo(
                    "reading the system's DNS servers (/etc/resolv.conf) failed; keeping what was read before");
            assertThat(event.getThrowableProxy().getClassName()).isEqualTo(NullPointerException.class.getName());
        });
    }

    /** At the start, a file that cannot be read is said, with the servers asked meanwhile. */
    @Test
    void aFileThatCannotBeReadAtTheStartIsSaid() {
        List<ILoggingEvent> said = RereadLog.during(() -> new SystemResolvers(() -> {
            throw new UncheckedIOException(new IOException("/etc/resolv.conf: No such file"));
        }));
        assertThat(said).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
                "cannot read the system's DNS servers (/etc/resolv.conf) (/etc/resolv.conf: No such file)"
                        + ": asking the servers the JDK found until it can be read");
    }

    /**
     * At the start, a bug in the reader is said with its stack trace and the start goes on with
     * the JDK's servers (failed: thrown on, out of the static holder that makes the shared one).
     */
    @Test
    void aBugInTheReaderAtTheStartIsSaidAndTheStartGoesOn() {
        List<ILoggingEvent> said = RereadLog.during(() -> new SystemResolvers(() -> {
            throw new NullPointerException("a bug");
        }));
        assertThat(said).singleElement().satisfies(event -> {
            assertThat(event.getFormattedMessage()).isEqualTo("reading the system's DNS servers (/etc/resolv.conf)"
                    + " failed: asking the servers the JDK found until it can be read");
            assertThat(event.getThrowableProxy().getClassName()).isEqualTo(NullPointerException.class.getName());
        });
    }

    /** The file is only read here: no test asks the host's servers anything. */
    @Test
    void theSharedInstanceAnswersWithTheSystemsServers() throws IOException {
        InetSocketAddress first = SystemResolvers.shared().nameServerAddressStream("a.example").next();
        List<String> named = Files.readAllLines(Path.of("/etc/resolv.conf")).stream()
                .map(String::trim).filter(line -> line.startsWith("nameserver"))
                .map(line -> line.substring("nameserver".length()).trim()).toList();
        if (named.isEmpty()) { // what Netty falls back to when the file names none
            assertThat(first).isEqualTo(DefaultDnsServerAddressStreamProvider.INSTANCE.nameServerAddressStream("a.example").next());
        } else {
            assertThat(first).isEqualTo(new InetSocketAddress(InetAddress.getByName(named.get(0)), 53));
        }
    }

    /**
     * A resolv.conf whose first server is silent: the second answers within the connect budget,
     * each query waiting half of it, not the whole.
     */
    @Test
    void aSilentFirstSystemServerLeavesTimeToAskTheNext() throws Exception {
        InetAddress answer = InetAddress.getByName("192.0.2.20");
        Transport transport = Transport.select();
        EventLoopGroup group = transport.newEventLoopGroup(1);
        try (TestDnsServer silent = new TestDnsServer().behave("slow.test", TestDnsServer.Behaviour.SILENT);
                TestDnsServer second = new TestDnsServer().answer("slow.test", answer, 60)) {
            SystemResolvers system = new SystemResolvers(
                    () -> new SequentialDnsServerAddressStreamProvider(silent.address(), second.address()));
            assertThat(system.count()).isEqualTo(2);
            ProxyConfig config = ConfigLoader.parse("""
                    listen: "127.0.0.1:0"
                    timeouts: { connect: 4s }
                    routes:
                      - match: "*.test"
                        upstream: "$sni:443"
                    """, "routes.yaml");
            AddressLookups lookups = Resolvers.lookups(config, transport, new DefaultDnsCache(), () -> false, system);
            try {
                long started = System.nanoTime();
                Future<List<InetSocketAddress>> lookup = lookups.both((EventLoop) group.next(), "slow.test", 443, false);
                // Waiting the whole budget for the silent server would answer after 4 s, too late.
                assertThat(lookup.await(3_500, TimeUnit.MILLISECONDS)).as("answered within the budget").isTrue();
                assertThat(lookup.cause()).isNull();
                assertThat(lookup.getNow()).containsExactly(new InetSocketAddress(answer, 443));
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isGreaterThanOrEqualTo(1_500);
                assertThat(silent.queriesFor("slow.test")).as("the silent server asked first").isEqualTo(1);
            } finally {
                lookups.close();
            }
        } finally {
            assertThat(EventLoops.stop(group, "test", Duration.ofSeconds(10))).isTrue();
        }
    }
}
