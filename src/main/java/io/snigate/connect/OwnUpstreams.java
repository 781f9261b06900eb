package io.snigate.connect;

import io.snigate.relay.UpstreamLink;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The proxy's own open upstream connections, by source and destination. A client connection
 * that comes from one of those sources and was going to that destination is the proxy's own
 * traffic sent back to it (a firewall that intercepts the host's outbound traffic without
 * excluding the proxy): refusing it at the first hop stops the circle before it becomes a storm
 * of connections. The destination matters: the kernel reuses a source port for connections to
 * different destinations, so a client may share its source with an unrelated upstream.
 *
 * <p>The looped connection's ClientHello is the one the proxy itself sent upstream, and it only
 * sends it once its upstream is connected and added here; so by the time the looped connection
 * is routed, its upstream is always known.
 */
public final class OwnUpstreams {
    private record Flow(InetSocketAddress source, InetSocketAddress destination) {}

    private final Set<Flow> open = ConcurrentHashMap.newKeySet();

    /** Remembers a connected upstream for as long as it stays open. */
    void add(UpstreamLink upstream) {
        InetSocketAddress source = upstream.localAddress();
        InetSocketAddress destination = upstream.remoteAddress();
        if (source != null && destination != null) {
            Flow flow = new Flow(source, destination);
            open.add(flow);
            upstream.whenClosed(() -> open.remove(flow));
        }
    }

    /**
     * Whether a client at {@code client} that was going to {@code originalDst} is one of the
     * proxy's own upstream connections.
     */
    public boolean isOwnConnection(InetSocketAddress client, InetSocketAddress originalDst) {
        return originalDst != null && client != null && !open.isEmpty() && open.contains(new Flow(client, originalDst));
    }
}
