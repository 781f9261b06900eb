package io.snigate.connect;

import io.netty.resolver.dns.DefaultDnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStream;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.UnixResolverDnsServerAddressStreamProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The system's DNS servers ({@code /etc/resolv.conf}), read again every {@value #REFRESH_MINUTES}
 * minutes on {@link Reread}'s thread; servers that cannot be read at the start are what the JDK
 * found. Netty's own platform default reads the file again on whichever thread asks after five
 * minutes: an event loop, doing file I/O.
 */
final class SystemResolvers implements DnsServerAddressStreamProvider {
    static final long REFRESH_MINUTES = 5;
    private static final String WHAT = "the system's DNS servers (/etc/resolv.conf)";
    private static final String MEANWHILE = "asking the servers the JDK found";

    private static final class Shared {
        static final SystemResolvers INSTANCE = new SystemResolvers(
                Reread.every(TimeUnit.MINUTES.toSeconds(REFRESH_MINUTES), WHAT, MEANWHILE, SystemResolvers::read,
                        SystemResolvers::fallback));
    }

    private final Reread<DnsServerAddressStreamProvider> servers;

    /**
     * What resolv.conf (and macOS's /etc/resolver) say; throws {@link UncheckedIOException} when
     * they cannot be read, {@link IllegalArgumentException} (Netty's) when they name no server.
     */
    private static DnsServerAddressStreamProvider read() {
        try {
            return new UnixResolverDnsServerAddressStreamProvider("/etc/resolv.conf", "/etc/resolver");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static DnsServerAddressStreamProvider fallback() {
        return DefaultDnsServerAddressStreamProvider.INSTANCE;
    }

    /** Servers read by {@code read} now and by each {@link #refresh}. */
    SystemResolvers(Supplier<DnsServerAddressStreamProvider> read) {
        this(new Reread<>(WHAT, MEANWHILE, read, SystemResolvers::fallback));
    }

    private SystemResolvers(Reread<DnsServerAddressStreamProvider> servers) {
        this.servers = servers;
    }

    /** The one instance every resolver of this process shares. */
    static SystemResolvers shared() {
        return Shared.INSTANCE;
    }

    /** Reads the servers again; never on an event loop. */
    void refresh() {
        servers.refresh();
    }

    /**
     * How many servers a name is asked of, at most, as read last: each query waits its share of
     * the connect budget, so that a dead first server leaves time for the next one.
     */
    int count() {
        return Math.max(1, servers.get().nameServerAddressStream("snigate.invalid").size());
    }

    @Override
    public DnsServerAddressStream nameServerAddressStream(String hostname) {
        return servers.get().nameServerAddressStream(hostname);
    }
}
