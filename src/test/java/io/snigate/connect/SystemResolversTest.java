package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddresses;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link SystemResolvers}: asking for servers never reads {@code /etc/resolv.conf} (an event loop
 * asks); only a refresh, on its own thread, does.
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

    @Test
    void aFileThatCannotBeReadKeepsTheServersReadBefore() {
        InetSocketAddress server = new InetSocketAddress("192.0.2.53", 53);
        AtomicInteger reads = new AtomicInteger();
        SystemResolvers resolvers = new SystemResolvers(() -> {
            if (reads.getAndIncrement() > 0) {
                throw new IllegalArgumentException("/etc/resolv.conf didn't provide any name servers");
            }
            return hostname -> DnsServerAddresses.singleton(server).stream();
        });
        resolvers.refresh();
        assertThat(reads.get()).isEqualTo(2);
        assertThat(resolvers.nameServerAddressStream("a.example").next()).isEqualTo(server);
    }

    @Test
    void theSharedInstanceAnswersWithTheSystemsServers() {
        assertThat(SystemResolvers.shared().nameServerAddressStream("a.example").next()).isNotNull();
    }
}
