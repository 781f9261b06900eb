package io.snigate.connect;

import io.netty.channel.Channel;
import io.snigate.core.ConnectionRecord;
import io.snigate.relay.UpstreamLink;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The proxy's own open upstream connections, by source and destination. A client connection
 * that comes from one of those sources and was going to that destination is the proxy's own
 * traffic sent back to it (a firewall that intercepts the host's outbound traffic without
 * excluding the proxy): refusing it at the first hop stops the circle before it becomes a storm
 * of connections. The destination matters: the kernel reuses a source port for connections to
 * different destinations, so a client may share its source with an unrelated upstream.
 *
 * <p>The client whose upstream came back ends as {@code loop_detected} too, not as forwarded: the
 * two lines of one loop say the same.
 *
 * <p>The looped connection's ClientHello is the one the proxy itself sent upstream, and it only
 * sends it once its upstream is connected and added here; so by the time the looped connection
 * is routed, its upstream is always known.
 */
public final class OwnUpstreams {
    private record Flow(InetSocketAddress source, InetSocketAddress destination) {}

    /** The client connection each open upstream is for. */
    private final Map<Flow, Channel> open = new ConcurrentHashMap<>();

    /** Remembers {@code client}'s connected upstream for as long as it stays open. */
    void add(UpstreamLink upstream, Channel client) {
        InetSocketAddress source = upstream.localAddress();
        InetSocketAddress destination = upstream.remoteAddress();
        if (source != null && destination != null) {
            Flow flow = new Flow(source, destination);
            open.put(flow, client);
            upstream.whenClosed(() -> open.remove(flow, client));
        }
    }

    /**
     * Whether a client at {@code client} that was going to {@code originalDst} is one of the
     * proxy's own upstream connections; if so, the client that upstream is for ends as
     * {@code loop_detected}.
     */
    public boolean isOwnConnection(InetSocketAddress client, InetSocketAddress originalDst) {
        if (originalDst == null || client == null || open.isEmpty()) {
            return false;
        }
        Channel looped = open.get(new Flow(client, originalDst));
        if (looped == null) {
            return false;
        }
        ConnectionRecord record = ConnectionRecord.of(looped);
        if (record != null) {
            record.loopedBack();
        }
        return true;
    }
}
