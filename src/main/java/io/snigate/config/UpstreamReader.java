package io.snigate.config;

import io.snigate.core.Addresses;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Reads an upstream wherever the file names one: a route's {@code upstream}, {@code default} and
 * {@code policy.audit_upstream}. Besides its syntax, it checks what only the listeners can tell: a
 * {@code $original_dst} needs a listener that knows the original destination, and an address must
 * not be one of this proxy's own listeners.
 */
final class UpstreamReader {
    private final YamlNodes nodes;
    private final List<Listener> listeners;

    UpstreamReader(YamlNodes nodes, List<Listener> listeners) {
        this.nodes = nodes;
        this.listeners = listeners;
    }

    Upstream readUpstream(Node node, String what) throws ConfigException {
        String text = nodes.text(node, what);
        Upstream upstream;
        try {
            upstream = Upstream.parse(text);
        } catch (IllegalArgumentException e) {
            String hint = what.equals("default") ? " (or write reject)" : "";
            throw nodes.error(node, what + " \"" + text + "\": " + e.getMessage() + hint);
        }
        if (upstream.dialsOriginalDst() && listeners.stream().noneMatch(Listener::isTransparent)) {
            throw nodes.error(node, what + " \"" + text + "\" needs a listener that knows the original destination:"
                    + " give one original_dst: redirect or tproxy, or dial \"$sni:$port\" instead");
        }
        if (upstream.isIpLiteral() && !upstream.usesOriginalPort()) {
            InetSocketAddress target = upstream.hostPort().toResolvedLiteral();
            Listener own = listenerReachedBy(target, listeners);
            if (own != null) {
                throw nodes.error(node, what + " \"" + text + "\" is this proxy's own listen address (line "
                        + own.line() + "): it would dial itself in a loop");
            }
        }
        return upstream;
    }

    /** Whether {@code target} is one of {@code listeners}, as far as the config alone can tell. */
    private static Listener listenerReachedBy(InetSocketAddress target, List<Listener> listeners) {
        for (Listener listener : listeners) {
            if (Addresses.reaches(target, listener.address().toResolvedLiteral(), Set.of())) {
                return listener;
            }
        }
        return null;
    }
}
