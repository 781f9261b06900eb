package io.snigate.connect;

import io.netty.channel.Channel;
import io.snigate.core.ConnectionRecord;
import io.snigate.route.RouteDecision;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ClientHellos of the open connections sent where the client chose ({@code $sni},
 * {@code $original_dst}), by a digest of their random. The same hello arriving again while the
 * first is open is the proxy's own connection come back to it: through a load balancer or a port
 * forward in front of it, a NAT's hairpin, any address that is neither the host's nor a
 * listener's and so passes {@link DestinationPolicy}. Refusing the copy stops the circle at its
 * first hop, whatever the addresses. Real clients make a fresh random for every hello; a tool
 * that replays one captured hello on parallel connections through such a route is refused too.
 */
public final class OwnHellos {
    private final Set<Long> open = ConcurrentHashMap.newKeySet();

    /**
     * Remembers {@code record}'s hello until {@code client} closes, when {@code decision} sends it
     * where the client chose; false when a connection with the same hello is open already.
     */
    boolean admit(RouteDecision decision, ConnectionRecord record, Channel client) {
        long digest = record.helloRandom();
        if (digest == 0 || !(decision.upstream().dialSni() || decision.upstream().dialsOriginalDst())) {
            return true;
        }
        Long key = digest;
        if (!open.add(key)) {
            return false;
        }
        client.closeFuture().addListener(closed -> open.remove(key));
        return true;
    }
}
