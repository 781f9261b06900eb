package io.snigate.connect;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.snigate.config.Upstream;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.Reason;
import io.snigate.listen.Transport;
import io.snigate.relay.RelayReads;
import io.snigate.route.RouteDecision;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Stage four: turns a routing decision into a connected upstream channel. A name is resolved
 * through the asynchronous DNS resolver (never the JDK's blocking lookup), then its addresses are
 * tried in order, all within one connect timeout that covers both steps. The upstream channel
 * lives on the client's event loop, so the two sides of a tunnel never need a lock or a hand-off
 * between threads.
 */
public final class UpstreamConnector {
    private final Transport transport;
    private final AddressResolverGroup<InetSocketAddress> resolvers;
    private final ConnectionObserver observer;
    private final Supplier<DestinationPolicy> policy;

    public UpstreamConnector(
            Transport transport,
            AddressResolverGroup<InetSocketAddress> resolvers,
            ConnectionObserver observer,
            Supplier<DestinationPolicy> policy) {
        this.transport = transport;
        this.resolvers = resolvers;
        this.observer = observer;
        this.policy = policy;
    }

    /**
     * Connects to {@code upstream} (for {@code $sni} upstreams, to {@code sni} itself) on
     * {@code loop}, with a fresh {@code handler} installed on each channel it tries. The returned future fails
     * with an {@link UpstreamException} that names the reason.
     */
    public Future<Channel> connect(
            EventLoop loop, RouteDecision decision, String sni, long timeoutMillis, Supplier<ChannelHandler> handler) {
        Upstream upstream = decision.upstream();
        Promise<Channel> promise = loop.newPromise();
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        if (!decision.literalAddresses().isEmpty()) {
            // Written in the config as an IP literal: trusted, and already an address.
            tryAddresses(loop, decision.literalAddresses(), 0, deadline, handler, promise, null);
            return promise;
        }
        // A name: the one in the config, or the client's SNI (which is never an IP literal).
        String host = upstream.dialSni() ? sni : upstream.host();
        AddressResolver<InetSocketAddress> resolver = resolvers.getResolver(loop);
        long resolveStarted = System.nanoTime();
        resolver.resolveAll(InetSocketAddress.createUnresolved(host, upstream.port()))
                .addListener((Future<List<InetSocketAddress>> resolved) -> {
                    boolean found = resolved.isSuccess() && !resolved.getNow().isEmpty();
                    observer.dnsResolved(found, System.nanoTime() - resolveStarted);
                    if (!found) {
                        promise.tryFailure(new UpstreamException(Reason.DNS_FAILURE, resolved.cause()));
                        return;
                    }
                    List<InetSocketAddress> allowed = allowedAddresses(decision, resolved.getNow());
                    if (allowed.isEmpty()) {
                        promise.tryFailure(new UpstreamException(Reason.FORBIDDEN_DESTINATION, null));
                    } else {
                        tryAddresses(loop, allowed, 0, deadline, handler, promise, null);
                    }
                });
        return promise;
    }

    /**
     * The resolved addresses the destination policy lets this upstream dial, in DNS order. These
     * exact addresses are then dialed: nothing is looked up again.
     */
    private List<InetSocketAddress> allowedAddresses(RouteDecision decision, List<InetSocketAddress> resolved) {
        DestinationPolicy current = policy.get();
        List<InetSocketAddress> allowed = new ArrayList<>(resolved.size());
        for (InetSocketAddress address : resolved) {
            boolean ok = decision.upstream().dialSni()
                    ? current.allowsSniDestination(address, decision.allowDestinations())
                    : !current.isOwnListener(address);
            if (ok) {
                allowed.add(address);
            }
        }
        return allowed;
    }

    /** Tries each address in turn until one connects or the deadline passes. */
    private void tryAddresses(
            EventLoop loop,
            List<InetSocketAddress> addresses,
            int index,
            long deadline,
            Supplier<ChannelHandler> handler,
            Promise<Channel> promise,
            Throwable lastFailure) {
        long remainingMillis = (deadline - System.nanoTime()) / 1_000_000L;
        if (index >= addresses.size() || remainingMillis <= 0) {
            Reason reason = remainingMillis <= 0 || lastFailure instanceof ConnectTimeoutException
                    ? Reason.UPSTREAM_TIMEOUT
                    : Reason.UPSTREAM_UNREACHABLE;
            promise.tryFailure(new UpstreamException(reason, lastFailure));
            return;
        }
        InetSocketAddress target = addresses.get(index);
        ChannelFuture attempt = new Bootstrap()
                .group(loop)
                .channelFactory(() -> transport.newSocketChannel(target))
                .resolver(NoopAddressResolverGroup.INSTANCE)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, remainingMillis))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.RCVBUF_ALLOCATOR, RelayReads.allocator())
                .handler(handler.get())
                .connect(target);
        attempt.addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                if (!promise.trySuccess(f.channel())) {
                    f.channel().close();
                }
            } else if (!promise.isDone()) {
                tryAddresses(loop, addresses, index + 1, deadline, handler, promise, f.cause());
            }
        });
    }

    /** Why an upstream could not be reached, in the reason vocabulary. */
    public static final class UpstreamException extends Exception {
        private static final long serialVersionUID = 1L;
        private final Reason reason;

        public UpstreamException(Reason reason, Throwable cause) {
            super(reason.label(), cause, false, false);
            this.reason = reason;
        }

        public Reason reason() {
            return reason;
        }
    }
}
