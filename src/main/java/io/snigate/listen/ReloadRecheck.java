package io.snigate.listen;

import io.netty.channel.Channel;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After a reload ({@code policy.recheck_on_reload}), judges every connection already routed
 * again, by the new routes and its listener's new client rules, and closes those the new config
 * refuses with reason {@code revoked_by_reload}: a name taken off an allowlist does not stay
 * reachable through a tunnel kept busy. Connections still in pre-read need nothing: they are
 * routed by the new table. A connection the new config sends elsewhere keeps its upstream.
 */
final class ReloadRecheck {
    private static final Logger LOG = LoggerFactory.getLogger(ReloadRecheck.class);

    private ReloadRecheck() {}

    /**
     * Judges each client on its own event loop (the record is that loop's) and logs once, when
     * every loop has answered, how many were closed and by which verdict.
     */
    static void closeRefused(List<Channel> clients, ProxyConfig config, RouteTable routes) {
        if (clients.isEmpty()) {
            return;
        }
        Map<String, Listener> listeners =
                config.listeners().stream().collect(Collectors.toMap(Listener::name, Function.identity()));
        AtomicInteger unanswered = new AtomicInteger(clients.size());
        Map<String, Integer> closedByVerdict = new ConcurrentHashMap<>();
        for (Channel client : clients) {
            client.eventLoop().execute(() -> {
                try {
                    Reason verdict = refusal(ConnectionRecord.of(client), listeners, routes);
                    if (verdict != null) {
                        ConnectionRecord.of(client).endedBecause(Reason.REVOKED_BY_RELOAD);
                        closedByVerdict.merge(verdict.label(), 1, Integer::sum);
                        client.close();
                    }
                } finally {
                    if (unanswered.decrementAndGet() == 0 && !closedByVerdict.isEmpty()) {
                        LOG.info("reload: closed {} open connections the new config refuses, by verdict: {}",
                                closedByVerdict.values().stream().mapToInt(Integer::intValue).sum(),
                                new TreeMap<>(closedByVerdict));
                    }
                }
            });
        }
    }

    /**
     * What the new config says of a routed connection still open, or null when it may go on (or
     * was not routed, or is ending anyway). Audit mode forwards what it would refuse, so an
     * audited verdict keeps the connection open.
     */
    static Reason refusal(ConnectionRecord record, Map<String, Listener> listeners, RouteTable routes) {
        if (record == null || record.route() == null || record.reason() != null) {
            return null;
        }
        // A listener the reload removed keeps its connections, with the rules they were admitted by.
        Listener listener = listeners.get(record.listener());
        if (listener != null && !listener.clients().admits(record.client().getAddress())) {
            return Reason.CLIENT_NOT_ALLOWED;
        }
        RouteDecision decision = routes.decide(record);
        return decision.routed() ? null : decision.rejectReason();
    }
}
