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
 * The system's DNS servers ({@code /etc/resolv.conf}), read again every
 * {@value #REFRESH_MINUTES} minutes on {@link DnsRefresher}'s thread. Netty's own platform default reads
 * the file again on whichever thread asks after five minutes: an event loop, doing file I/O.
 */
final class SystemResolvers implements DnsServerAddressStreamProvider {
    static final long REFRESH_MINUTES = 5;

    private static final class Shared {
        static final SystemResolvers INSTANCE = start();

        private static SystemResolvers start() {
            SystemResolvers servers = new SystemResolvers(SystemResolvers::read);
            DnsRefresher.every(TimeUnit.MINUTES.toSeconds(REFRESH_MINUTES), servers::refresh);
            return servers;
        }
    }

    private final Supplier<DnsServerAddressStreamProvider> read;

    /** What resolv.conf (and macOS's /etc/resolver) say; throws when they cannot be read or name no server. */
    private static DnsServerAddressStreamProvider read() {
        try {
            return new UnixResolverDnsServerAddressStreamProvider("/etc/resolv.conf", "/etc/resolver");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
    private volatile DnsServerAddressStreamProvider current;

    /** Reads the servers now; if they cannot be read, starts with what the JDK found. */
    SystemResolvers(Supplier<DnsServerAddressStreamProvider> read) {
        this.read = read;
        DnsServerAddressStreamProvider first;
        try {
            first = read.get();
        } catch (RuntimeException unreadable) {
            first = DefaultDnsServerAddressStreamProvider.INSTANCE;
        }
        this.current = first;
    }

    /** The one instance every resolver of this process shares. */
    static SystemResolvers shared() {
        return Shared.INSTANCE;
    }

    /**
     * Reads the servers again; never on an event loop. A file being rewritten (empty for a
     * moment) keeps the servers read last time, until the next refresh.
     */
    void refresh() {
        try {
            current = read.get();
        } catch (RuntimeException unreadable) {
            // kept: the previous servers
        }
    }

    /**
     * How many servers a name is asked of, at most, as read last: each query waits its share of
     * the connect budget, so that a dead first server leaves time for the next one.
     */
    int count() {
        return Math.max(1, current.nameServerAddressStream("snigate.invalid").size());
    }

    @Override
    public DnsServerAddressStream nameServerAddressStream(String hostname) {
        return current.nameServerAddressStream(hostname);
    }
}
