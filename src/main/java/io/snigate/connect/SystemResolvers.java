package io.snigate.connect;

import io.netty.resolver.dns.DefaultDnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStream;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.UnixResolverDnsServerAddressStreamProvider;
import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The system's DNS servers ({@code /etc/resolv.conf}), read again every
 * {@value #REFRESH_MINUTES} minutes on a thread of its own. Netty's own platform default reads
 * the file again on whichever thread asks after five minutes: an event loop, doing file I/O.
 */
final class SystemResolvers implements DnsServerAddressStreamProvider {
    static final long REFRESH_MINUTES = 5;

    private static final class Shared {
        static final SystemResolvers INSTANCE = start();

        private static SystemResolvers start() {
            SystemResolvers servers = new SystemResolvers(SystemResolvers::read);
            ScheduledExecutorService refresher = Executors.newSingleThreadScheduledExecutor(task -> {
                Thread thread = new Thread(task, "snigate-resolv-conf");
                thread.setDaemon(true);
                return thread;
            });
            refresher.scheduleWithFixedDelay(servers::refresh, REFRESH_MINUTES, REFRESH_MINUTES, TimeUnit.MINUTES);
            return servers;
        }
    }

    private final Supplier<DnsServerAddressStreamProvider> read;

    /** What resolv.conf (and macOS's /etc/resolver) say, else what the JDK found. */
    private static DnsServerAddressStreamProvider read() {
        try {
            return new UnixResolverDnsServerAddressStreamProvider("/etc/resolv.conf", "/etc/resolver");
        } catch (IOException | RuntimeException unreadable) {
            return DefaultDnsServerAddressStreamProvider.INSTANCE;
        }
    }
    private volatile DnsServerAddressStreamProvider current;

    SystemResolvers(Supplier<DnsServerAddressStreamProvider> read) {
        this.read = read;
        this.current = read.get();
    }

    /** The one instance every resolver of this process shares. */
    static SystemResolvers shared() {
        return Shared.INSTANCE;
    }

    /** Reads the servers again; never on an event loop. */
    void refresh() {
        current = read.get();
    }

    @Override
    public DnsServerAddressStream nameServerAddressStream(String hostname) {
        return current.nameServerAddressStream(hostname);
    }
}
