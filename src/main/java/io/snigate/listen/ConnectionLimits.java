package io.snigate.listen;

import io.snigate.config.Cidr;
import io.snigate.config.Limits;
import io.snigate.core.Addresses;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.OncePerSecond;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The three connection budgets: in all, per client (a source IPv4 address, or an IPv6 /64), and still in pre-read (the slowloris
 * budget: a client that trickles its ClientHello holds a socket without costing itself much). A
 * connection over any of them is closed at accept, before it costs more than the accept.
 *
 * <p>Counts are taken at accept and given back as the connection leaves pre-read and when it
 * closes; the limits themselves are read from the current config, so a reload changes them.
 */
final class ConnectionLimits implements ConnectionObserver {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionLimits.class);
    private final Supplier<Limits> limits;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger inPreread = new AtomicInteger();
    /** Connections per client address; an address with none is removed, so the map stays small. */
    private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
    private final OncePerSecond fullDue = new OncePerSecond();

    ConnectionLimits(Supplier<Limits> limits) {
        this.limits = limits;
    }

    /**
     * Counts {@code connection} in the budgets in all and in pre-read and, when {@code clientKnown},
     * in its client's, or returns false (counting nothing) when over one of them.
     */
    boolean admit(ConnectionRecord connection, boolean clientKnown) {
        Limits current = limits.get();
        if (!take(open, current.maxConnections())) {
            full("limits.max_connections", current.maxConnections(), "raise it (under half the process's open-file limit) or add instances");
            return false;
        }
        if (!take(inPreread, current.maxPrereadConnections())) {
            open.decrementAndGet();
            full("limits.max_preread_connections", current.maxPrereadConnections(),
                    "clients that connect and send their ClientHello slowly or not at all hold it: a slowloris, or a scan");
            return false;
        }
        if (clientKnown && !admitClient(connection)) {
            inPreread.decrementAndGet();
            open.decrementAndGet();
            return false;
        }
        connection.admitted();
        return true;
    }

    /**
     * Counts {@code connection}, already admitted, in its client's budget, or returns false
     * (counting nothing) when the client is over it. Separate from {@link #admit}: behind a PROXY
     * header, the client is known only once the header has arrived.
     */
    boolean admitClient(ConnectionRecord connection) {
        Limits current = limits.get();
        int perClientLimit = current.maxConnectionsPerClient();
        if (perClientLimit == 0) {
            // No budget, nothing counted: a map entry every client's connections would update
            // from every event loop. A limit a reload sets counts the connections after it.
            return true;
        }
        boolean[] admitted = {true};
        InetAddress client = clientOf(connection.client().getAddress(), current.clientIpv6Prefix());
        perClient.compute(client, (ip, count) -> {
            int n = count == null ? 0 : count;
            if (n >= perClientLimit) {
                admitted[0] = false;
                return count;
            }
            return n + 1;
        });
        if (admitted[0]) {
            connection.countedAsClient(client);
        } else {
            full("limits.max_connections_per_client", perClientLimit, "client " + client.getHostAddress() + " holds that many");
        }
        return admitted[0];
    }

    /**
     * Who counts as one client: its IPv4 address, or the first {@code ipv6Prefix} bits of its IPv6
     * address (one host commonly owns a whole /64, and would otherwise have 2^64 budgets).
     */
    static InetAddress clientOf(InetAddress source, int ipv6Prefix) {
        InetAddress address = Addresses.unmapped(source);
        return address instanceof Inet6Address && ipv6Prefix < 128 ? Cidr.network(address, ipv6Prefix) : address;
    }

    /**
     * Says on standard error, at most once a second whichever budget, that {@code budget} is full:
     * its connections end as {@code connection_limit} with no other line (nginx says
     * "worker_connections are not enough").
     */
    private void full(String budget, int limit, String hint) {
        if (fullDue.due()) {
            LOG.warn("{} ({}) reached: new connections are closed at accept (reason connection_limit); {}", budget, limit, hint);
        }
    }

    private static boolean take(AtomicInteger count, int limit) {
        if (count.incrementAndGet() > limit && limit > 0) {
            count.decrementAndGet();
            return false;
        }
        return true;
    }

    @Override
    public void on(ConnectionEvent event, ConnectionRecord connection, long nanos) {
        if (!connection.isAdmitted()) {
            return;
        }
        switch (event) {
            case PREREAD_DONE -> inPreread.decrementAndGet();
            case CLOSED -> {
                open.decrementAndGet();
                InetAddress counted = connection.countedAsClient();
                if (counted != null) {
                    perClient.computeIfPresent(counted, (ip, n) -> n <= 1 ? null : n - 1);
                }
            }
            default -> {}
        }
    }

    int open() {
        return open.get();
    }
}
