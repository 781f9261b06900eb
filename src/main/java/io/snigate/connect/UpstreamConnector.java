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
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.config.Upstream;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.Reason;
import io.snigate.listen.Transport;
import io.snigate.relay.RelayReads;
import io.snigate.route.RouteDecision;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
            dial(loop, decision.literalAddresses(), deadline, handler, promise);
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
                        dial(loop, allowed, deadline, handler, promise);
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

    /**
     * Dials the addresses in turn until one connects, all within what is left of the budget at
     * {@code deadline}. The budget is one timer of ours rather than Netty's per-channel connect
     * timeout: Netty's channel keeps its cancelled timeout task for the channel's whole life, about
     * 90 bytes on every open tunnel.
     */
    private void dial(
            EventLoop loop,
            List<InetSocketAddress> addresses,
            long deadline,
            Supplier<ChannelHandler> handler,
            Promise<Channel> promise) {
        long remainingNanos = deadline - System.nanoTime();
        if (remainingNanos <= 0) {
            promise.tryFailure(new UpstreamException(Reason.UPSTREAM_TIMEOUT, null));
            return;
        }
        ScheduledFuture<?> budget = loop.schedule(
                () -> promise.tryFailure(new UpstreamException(Reason.UPSTREAM_TIMEOUT,
                        new ConnectTimeoutException("no upstream address connected in time"))),
                remainingNanos, TimeUnit.NANOSECONDS);
        promise.addListener(done -> budget.cancel(false));
        tryAddresses(loop, addresses, 0, handler, promise, null);
    }

    /** Tries each address in turn until one connects or the promise is done (by the budget). */
    private void tryAddresses(
            EventLoop loop,
            List<InetSocketAddress> addresses,
            int index,
            Supplier<ChannelHandler> handler,
            Promise<Channel> promise,
            Throwable lastFailure) {
        if (index >= addresses.size()) {
            promise.tryFailure(new UpstreamException(Reason.UPSTREAM_UNREACHABLE, lastFailure));
            return;
        }
        InetSocketAddress target = addresses.get(index);
        ChannelFuture attempt = new Bootstrap()
                .group(loop)
                .channelFactory(() -> transport.newSocketChannel(target))
                .resolver(NoopAddressResolverGroup.INSTANCE)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 0)
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
                tryAddresses(loop, addresses, index + 1, handler, promise, f.cause());
            }
        });
        if (!attempt.isDone()) {
            // The budget ran out while this attempt was still connecting: abandon it.
            promise.addListener(done -> {
                if (!done.isSuccess()) {
                    attempt.channel().close();
                }
            });
        }
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
