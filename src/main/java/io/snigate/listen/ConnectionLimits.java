package io.snigate.listen;

import io.snigate.config.Cidr;
import io.snigate.config.Limits;
import io.snigate.core.Addresses;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The three connection budgets: in all, per client (a source IPv4 address, or an IPv6 /64), and still in pre-read (the slowloris
 * budget: a client that trickles its ClientHello holds a socket without costing itself much). A
 * connection over any of them is closed at accept, before it costs more than the accept.
 *
 * <p>Counts are taken at accept and given back as the connection leaves pre-read and when it
 * closes; the limits themselves are read from the current config, so a reload changes them.
 */
final class ConnectionLimits implements ConnectionObserver {
    private final Supplier<Limits> limits;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger inPreread = new AtomicInteger();
    /** Connections per client address; an address with none is removed, so the map stays small. */
    private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();

    ConnectionLimits(Supplier<Limits> limits) {
        this.limits = limits;
    }

    /** Counts {@code connection} in, or returns false (counting nothing) when over a limit. */
    boolean admit(ConnectionRecord connection) {
        Limits current = limits.get();
        if (!take(open, current.maxConnections())) {
            return false;
        }
        if (!take(inPreread, current.maxPrereadConnections())) {
            open.decrementAndGet();
            return false;
        }
        int perClientLimit = current.maxConnectionsPerClient();
        boolean[] admittedForClient = {true};
        InetAddress client = clientOf(connection.client().getAddress(), current.clientIpv6Prefix());
        perClient.compute(client, (ip, count) -> {
            int n = count == null ? 0 : count;
            if (perClientLimit > 0 && n >= perClientLimit) {
                admittedForClient[0] = false;
                return count;
            }
            return n + 1;
        });
        if (!admittedForClient[0]) {
            inPreread.decrementAndGet();
            open.decrementAndGet();
            return false;
        }
        connection.admitted(client);
        return true;
    }

    /**
     * Who counts as one client: its IPv4 address, or the first {@code ipv6Prefix} bits of its IPv6
     * address (one host commonly owns a whole /64, and would otherwise have 2^64 budgets).
     */
    static InetAddress clientOf(InetAddress source, int ipv6Prefix) {
        InetAddress address = Addresses.unmapped(source);
        return address instanceof Inet6Address && ipv6Prefix < 128 ? Cidr.network(address, ipv6Prefix) : address;
    }

    private static boolean take(AtomicInteger count, int limit) {
        if (count.incrementAndGet() > limit && limit > 0) {
            count.decrementAndGet();
            return false;
        }
        return true;
    }

    @Override
    public void opened(ConnectionRecord connection) {}

    @Override
    public void prereadDone(ConnectionRecord connection, long nanos) {
        if (connection.isAdmitted()) {
            inPreread.decrementAndGet();
        }
    }

    @Override
    public void closed(ConnectionRecord connection) {
        if (connection.isAdmitted()) {
            open.decrementAndGet();
            perClient.computeIfPresent(connection.countedAsClient(), (ip, n) -> n <= 1 ? null : n - 1);
        }
    }

    int open() {
        return open.get();
    }
}
