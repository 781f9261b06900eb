package io.snigate.listen;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.snigate.config.ConfigException;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.transport.LinuxSocketOptions;
import io.snigate.transport.RingListener;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.Inet6Address;

/**
 * What transparent interception asks of the process and of the listening sockets: a native
 * transport (the original destination and {@code IP_TRANSPARENT} are socket options that the JDK's
 * NIO cannot reach), a capability for TPROXY and for marking upstream sockets, and
 * {@code IP_TRANSPARENT} (or {@code IPV6_TRANSPARENT}) on a TPROXY listener, so that it may accept
 * connections addressed to other hosts.
 */
final class Interception {
    private static final String CAPABILITY_HINT = "run snigate as root, or give it the capability (systemd:"
            + " AmbientCapabilities=CAP_NET_ADMIN, see deploy/systemd/transparent.conf; a container:"
            + " --cap-add NET_ADMIN)";

    private Interception() {}

    /**
     * Refuses a config this process cannot run: a transparent listener or an upstream mark on the
     * NIO transport, or without the capability they need. Called at start and before a reload
     * swaps a config in, off the event loops.
     */
    static void checkPossible(ProxyConfig config, Transport transport) throws ConfigException {
        boolean nio = transport.name().equals("nio");
        boolean mayIntercept = Capabilities.ofThisProcess().mayIntercept();
        for (Listener listener : config.listeners()) {
            if (listener.isTransparent() && nio) {
                throw new ConfigException(config.source(), listener.line(), "listener " + listener.name()
                        + " has original_dst: " + listener.originalDst().label() + ", which needs the native epoll or"
                        + " io_uring transport, but this process runs on NIO (" + transport.why() + "); run on Linux"
                        + " x86-64 or aarch64 without -Dsnigate.transport=nio, or remove original_dst");
            }
            if (listener.originalDst() == Listener.OriginalDst.TPROXY && !mayIntercept) {
                throw new ConfigException(config.source(), listener.line(), "listener " + listener.name()
                        + " has original_dst: tproxy, which needs the capability CAP_NET_ADMIN (or CAP_NET_RAW)"
                        + " that this process does not have; " + CAPABILITY_HINT);
            }
        }
        if (config.upstreamMark() != 0 && nio) {
            throw new ConfigException(config.source(), config.upstreamMarkLine(), "upstream_mark needs the native"
                    + " epoll or io_uring transport, but this process runs on NIO (" + transport.why() + "); run on"
                    + " Linux x86-64 or aarch64 without -Dsnigate.transport=nio, or remove upstream_mark");
        }
        if (config.upstreamMark() != 0 && !mayIntercept) {
            throw new ConfigException(config.source(), config.upstreamMarkLine(), "upstream_mark needs the capability"
                    + " CAP_NET_ADMIN (or CAP_NET_RAW) that this process does not have; " + CAPABILITY_HINT
                    + ", or remove upstream_mark");
        }
    }

    /** Sets what a listener needs before it binds. */
    static void prepare(ServerBootstrap bootstrap, Listener listener) {
        if (listener.originalDst() == Listener.OriginalDst.TPROXY) {
            bootstrap.option(transparentOption(listener), 1);
        }
    }

    /**
     * Checks that a bound listener got what it needs: Netty only logs an option it could not set,
     * and a TPROXY listener without {@code IP_TRANSPARENT} would silently receive nothing.
     */
    static void checkBound(Channel channel, Listener listener, String source) throws ConfigException {
        if (listener.originalDst() == Listener.OriginalDst.TPROXY && !isTransparent(channel, listener)) {
            throw notTransparent(listener, source);
        }
    }

    /** Why a TPROXY listener could not be made transparent: the capability it lacks. */
    static ConfigException notTransparent(Listener listener, String source) {
        return new ConfigException(source, listener.line(), "listener " + listener.name() + " could not be made"
                + " transparent (IP_TRANSPARENT) for original_dst: tproxy; " + CAPABILITY_HINT);
    }

    /** Applies a reload's change of {@code original_dst} to a listener that stays bound. */
    static void change(Channel channel, Listener before, Listener after, String source) throws ConfigException {
        change(on -> channel.config().setOption(transparentOption(after), on ? 1 : 0), before, after, source);
    }

    /** {@link #change} for a listener that accepts on the ring. */
    static void change(RingListener ring, Listener before, Listener after, String source) throws ConfigException {
        change(ring::transparent, before, after, source);
    }

    /** Undoes {@link #change} when the rest of a reload fails. */
    static void changeBack(Channel channel, Listener after, Listener before) {
        changeBack(on -> channel.config().setOption(transparentOption(before), on ? 1 : 0), after, before);
    }

    /** Undoes {@link #change} when the rest of a reload fails. */
    static void changeBack(RingListener ring, Listener after, Listener before) {
        changeBack(ring::transparent, after, before);
    }

    /** Sets or clears {@code IP_TRANSPARENT} on one listening socket. */
    private interface Transparency {
        void set(boolean on) throws IOException;
    }

    private static void change(Transparency socket, Listener before, Listener after, String source)
            throws ConfigException {
        boolean isTproxy = after.originalDst() == Listener.OriginalDst.TPROXY;
        if ((before.originalDst() == Listener.OriginalDst.TPROXY) != isTproxy) {
            try {
                socket.set(isTproxy);
            } catch (IOException | ChannelException e) {
                throw new ConfigException(source, after.line(), "listener " + after.name() + " could not change to"
                        + " original_dst: " + after.originalDst().label() + ": " + e.getMessage() + "; " + CAPABILITY_HINT);
            }
        }
    }

    private static void changeBack(Transparency socket, Listener after, Listener before) {
        try {
            change(socket, after, before, "");
        } catch (ConfigException e) {
            // Setting back what was set a moment ago does not fail for want of a capability.
        }
    }

    private static boolean isTransparent(Channel channel, Listener listener) {
        try {
            Integer value = channel.config().getOption(transparentOption(listener));
            return value != null && value != 0;
        } catch (ChannelException e) {
            return false;
        }
    }

    private static IntegerUnixChannelOption transparentOption(Listener listener) {
        return LinuxSocketOptions.transparent(listener.address().toResolvedLiteral().getAddress() instanceof Inet6Address);
    }
}
