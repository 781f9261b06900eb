package io.snigate.listen;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.config.Upstream;
import io.snigate.connect.DestinationPolicy;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.PipelineNames;
import io.snigate.core.Reason;
import io.snigate.relay.Relay;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every open client connection, from accept to close: what a drain waits for and then closes,
 * and what a reload judges again ({@code policy.recheck_on_reload}). A connection's record
 * belongs to its channel's event loop, so each is read and closed in a task on that loop.
 */
final class OpenConnections {
    private static final Logger LOG = LoggerFactory.getLogger(OpenConnections.class);

    private final ChannelGroup clients = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

    void add(Channel client) {
        clients.add(client);
    }

    int size() {
        return clients.size();
    }

    boolean isEmpty() {
        return clients.isEmpty();
    }

    /** Closes every connection, each with {@code reason} recorded first, and waits up to 5 s. */
    void closeAll(Reason reason) throws InterruptedException {
        ChannelGroupFuture closed = clients.newCloseFuture();
        for (Channel client : clients) {
            try {
                client.eventLoop().execute(() -> Relay.cut(client, reason));
            } catch (RejectedExecutionException ended) {
                // Its loop has ended (an error ended its thread): nothing runs there any more.
            }
        }
        closed.await(5, TimeUnit.SECONDS);
    }

    /** Closes every connection at once, for a stop: no reason of its own. */
    void closeNow() {
        clients.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /**
     * Judges every connection already routed again, by the new routes, its listener's new client
     * rules and the destination policy, and closes those the new config refuses with reason
     * {@code revoked_by_reload}: a name taken off an allowlist does not stay reachable through a
     * tunnel kept busy. Connections still in pre-read are judged by their listener's client rules
     * only: they are routed by the new table. One the new config sends elsewhere keeps its upstream. Logs once, when every event
     * loop has answered, how many were closed and by which verdict.
     */
    void closeRefused(ProxyConfig config, RouteTable routes, DestinationPolicy destinations) {
        List<Channel> open = List.copyOf(clients);
        if (open.isEmpty()) {
            return;
        }
        Map<String, Listener> listeners =
                config.listeners().stream().collect(Collectors.toMap(Listener::name, Function.identity()));
        AtomicInteger unanswered = new AtomicInteger(open.size());
        Map<String, Integer> closedByVerdict = new ConcurrentHashMap<>();
        Runnable answered = () -> {
            if (unanswered.decrementAndGet() == 0 && !closedByVerdict.isEmpty()) {
                LOG.info("reload: closed {} open connections the new config refuses, by verdict: {}",
                        closedByVerdict.values().stream().mapToInt(Integer::intValue).sum(), new TreeMap<>(closedByVerdict));
            }
        };
        for (Channel client : open) {
            try {
                client.eventLoop().execute(() -> {
                    try {
                        ConnectionRecord record = ConnectionRecord.of(client);
                        boolean headerPending = client.pipeline().get(PipelineNames.PROXY_HEADER) != null;
                        Reason verdict = refusal(record, headerPending, listeners, routes, destinations);
                        if (verdict != null) {
                            closedByVerdict.merge(verdict.label(), 1, Integer::sum);
                            Relay.cut(client, Reason.REVOKED_BY_RELOAD);
                        }
                    } finally {
                        answered.run();
                    }
                });
            } catch (RuntimeException stopping) { // a loop that no longer takes tasks: the proxy is stopping
                answered.run();
            }
        }
    }

    /**
     * What the new config says of an open connection, or null when it may go on (or is ending
     * anyway): one routed before it is judged whole, one still in pre-read by its listener's
     * clients only. Audit mode forwards what it would refuse: such a
     * connection stays open, and the verdict is recorded for its line and the would-reject count.
     */
    static Reason refusal(ConnectionRecord record, boolean headerPending, Map<String, Listener> listeners,
            RouteTable routes, DestinationPolicy destinations) {
        if (record == null || record.reason() != null) {
            return null;
        }
        if (headerPending) {
            // Its client is not known yet (its peer is the balancer, not to be judged by the
            // listener's clients), and the header is judged by the rules in force when it comes
            // (within proxy_protocol.timeout), its balancer's trust first.
            return null;
        }
        Listener listener = listeners.get(record.listener());
        // The listener's clients judge every connection whose client is known, those still in
        // pre-read too: routing does not look at them again, so a client the reload denies would
        // otherwise still be forwarded by a hello it sends later. A listener the reload removed
        // keeps its connections, with the rules they were admitted by.
        // A client a header named is only as good as the balancer that sent it: one the reload
        // no longer trusts, or a listener that no longer takes headers, takes its clients'
        // connections with it.
        boolean routed = record.policyMode() != null; // every routing decision sets it
        if (listener != null && record.client() != null) {
            boolean namedByHeader = record.client() != record.peer() && record.peer() != null;
            Reason refused = listener.refusalOf(namedByHeader ? record.peer().getAddress() : null,
                    record.client().getAddress(), namedByHeader);
            if (refused != null) {
                return refused;
            }
        }
        if (!routed) {
            return null; // still in pre-read: routed by the new table (audit mode's fallbacks too)
        }
        RouteDecision decision = routes.decide(record);
        if (!decision.routed()) {
            return decision.rejectReason();
        }
        if (decision.wouldReject() != null) {
            record.wouldReject(decision.wouldReject());
        }
        // An address the client chose ($sni, $original_dst), dialed directly, and still the
        // client's to choose, is judged as a new dial would be: allow_destinations taken away, or
        // a private range, closes it. An address the config wrote, or a parent's, is not.
        Upstream upstream = decision.upstream();
        if (record.upstream() != null && record.isUpstreamChosenByClient()
                && (upstream.dialSni() || upstream.dialsOriginalDst()) && decision.delivery().via() == null) {
            return destinations.refusal(record.upstream(), true, decision.allowDestinations());
        }
        return null;
    }
}
