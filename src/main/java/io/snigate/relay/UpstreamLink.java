package io.snigate.relay;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;

/**
 * A connected upstream, as the connect stage hands it to the relay: on io_uring, for a direct
 * route, a socket the relay drives itself ({@link UpstreamSocket}); otherwise a Netty channel.
 */
public sealed interface UpstreamLink permits UpstreamLink.OfChannel, UpstreamSocket {
    InetSocketAddress remoteAddress();

    /** The address the upstream connection leaves from; a system call on io_uring. */
    InetSocketAddress localAddress();

    /** Runs {@code action} once the upstream is closed. */
    void whenClosed(Runnable action);

    void close();

    /** An upstream that is a Netty channel: through a parent proxy, with a PROXY header, or off io_uring. */
    record OfChannel(Channel channel) implements UpstreamLink {
        @Override
        public InetSocketAddress remoteAddress() {
            return (InetSocketAddress) channel.remoteAddress();
        }

        @Override
        public InetSocketAddress localAddress() {
            return (InetSocketAddress) channel.localAddress();
        }

        @Override
        public void whenClosed(Runnable action) {
            channel.closeFuture().addListener(closed -> action.run());
        }

        @Override
        public void close() {
            channel.close();
        }
    }
}
