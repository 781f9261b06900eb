package io.snigate.transport;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.unix.UnixChannelOption;
import java.net.StandardSocketOptions;

/**
 * {@code SO_REUSEPORT} on a listening socket, whatever the transport: a second snigate started on
 * the very same config binds the same addresses while the first one still runs, which is how a
 * restart hands over without refusing connections (deploy/README.md, "Restart without refusing").
 *
 * <p>The kernel then spreads new connections over every socket of the group, and only sockets of
 * the same effective user can join it: another process of snigate's user could bind the port too.
 */
public final class ReusePort {
    private ReusePort() {}

    /** {@code bootstrap} with {@code SO_REUSEPORT} set on the listening socket it will bind. */
    public static ServerBootstrap on(ServerBootstrap bootstrap, Class<? extends ServerChannel> channelClass) {
        return UnixChannel.class.isAssignableFrom(channelClass)
                ? bootstrap.option(UnixChannelOption.SO_REUSEPORT, true)
                : bootstrap.option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
    }
}
