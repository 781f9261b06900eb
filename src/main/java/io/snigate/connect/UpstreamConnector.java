package io.snigate.connect;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.config.HostPort;
import io.snigate.config.Upstream;
import io.snigate.core.Addresses;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.DestinationCheck;
import io.snigate.core.Reason;
import io.snigate.transport.Transport;
import io.snigate.relay.UpstreamLink;
import io.snigate.relay.UpstreamSocket;
import io.snigate.route.RouteDecision;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * Stage four: turns a routing decision into a connected upstream (a channel, or on io_uring a
 * socket the relay drives itself: {@link UpstreamDials}). A name is resolved through the
 * asynchronous DNS resolver (never the JDK's blocking lookup), the answers pass the
 * {@link DestinationPolicy}, then they are tried in order, all within one connect timeout that
 * covers both steps. The upstream lives on the client's event loop, so the two sides of a tunnel
 * never need a lock or a hand-off between threads.
 */
public final class UpstreamConnector {
    /** The most addresses of one answer dialed for one connection. */
    static final int MAX_ADDRESSES_TRIED = 16;
    /**
     * The least time an address is given when more follow it (Go's dialer's floor): below it, a
     * slow but live upstream would be given up for the next address.
     */
    static final long MIN_ADDRESS_SHARE_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final Transport transport;
    private final AddressResolverGroup<InetSocketAddress> resolvers;
    private final ConnectionObserver observer;
    private final Supplier<DestinationPolicy> policy;
    private final IntSupplier upstreamMark;

    public UpstreamConnector(
            Transport transport,
            AddressResolverGroup<InetSocketAddress> resolvers,
            ConnectionObserver observer,
            Supplier<DestinationPolicy> policy,
            IntSupplier upstreamMark) {
        this.transport = transport;
        this.resolvers = resolvers;
        this.observer = observer;
        this.policy = policy;
        this.upstreamMark = upstreamMark;
    }

    /**
     * Connects {@code record}'s client to where {@code decision} sends it, on {@code loop}, with a
     * fresh {@code handler} installed on each channel it tries (a socket has no pipeline). The
     * returned future fails with an {@link UpstreamException} that names the reason.
     */
    public Future<UpstreamLink> connect(EventLoop loop, RouteDecision decision, ConnectionRecord record,
            long timeoutMillis, Supplier<ChannelHandler> handler) {
        Upstream upstream = decision.upstream();
        Promise<UpstreamLink> promise = loop.newPromise();
        Attempt attempt = new Attempt(loop, decision, record, handler, promise);
        attempt.budget(timeoutMillis);
        int port = upstream.usesOriginalPort() ? record.dialedPort() : upstream.port();
        boolean viaParent = decision.delivery().via() != null;
        switch (upstream.kind()) {
            case FIXED -> {
                if (viaParent) {
                    attempt.throughParent(HostPort.formatHost(upstream.host()) + ":" + port);
                } else if (decision.literalAddress() != null) {
                    // Written in the config as an IP literal: trusted, and already an address.
                    attempt.dialAllowed(List.of(new InetSocketAddress(decision.literalAddress(), port)), false);
                } else {
                    attempt.resolveThen(upstream.host(), port, resolved -> attempt.dialAllowed(resolved, false));
                }
            }
            case SNI -> {
                if (viaParent) {
                    // The parent resolves the name, and the destination policy is the parent's.
                    attempt.throughParent(record.sni() + ":" + port);
                } else {
                    attempt.resolveThen(record.sni(), port, resolved -> attempt.dialAllowed(resolved, true));
                }
            }
            case ORIGINAL_DST -> dialOriginalDst(attempt, decision, record);
        }
        return promise;
    }

    /**
     * {@code $original_dst}: the address the client dialed, if the policy allows it and, unless
     * the route trusts the client, if the client's SNI resolves to it (in audit mode, a mismatch
     * is dialed all the same and reported).
     */
    private void dialOriginalDst(Attempt attempt, RouteDecision decision, ConnectionRecord record) {
        InetSocketAddress original = record.originalDst();
        if (original == null) {
            attempt.fail(Reason.NO_ORIGINAL_DESTINATION, null);
            return;
        }
        Reason refused = policy.get().refusal(original, true, decision.allowDestinations());
        if (refused != null) {
            attempt.fail(refused, null);
            return;
        }
        if (!decision.verifyDestination()) {
            record.destinationChecked(DestinationCheck.SKIPPED);
            attempt.dialChosen(original);
            return;
        }
        InetAddress dialed = Addresses.embeddedIpv4(original.getAddress());
        attempt.resolveThen(record.sni(), original.getPort(), resolved -> {
            for (InetSocketAddress answer : resolved) {
                if (Addresses.embeddedIpv4(answer.getAddress()).equals(dialed)) {
                    record.destinationChecked(DestinationCheck.MATCH);
                    attempt.dialChosen(original);
                    return;
                }
            }
            record.destinationChecked(DestinationCheck.MISMATCH);
            if (decision.audited()) {
                // Audit mode goes to the address the client chose, the way the route goes anywhere
                // (through its parent, if it has one), and reports what enforce would do.
                record.wouldReject(Reason.SNI_DESTINATION_MISMATCH);
                attempt.dialChosen(original);
            } else {
                attempt.fail(Reason.SNI_DESTINATION_MISMATCH, null);
            }
        });
    }

    /** One connection's way to its upstream: the lookup, the policy and the dials, within one budget. */
    private final class Attempt {
        private final EventLoop loop;
        private final RouteDecision decision;
        private final ConnectionRecord record;
        private final Supplier<ChannelHandler> handler;
        private final Promise<UpstreamLink> promise;
        /** {@code host:port} to ask the parent proxy for, once connected to it; null to dial directly. */
        private String parentAuthority;
        /** Whether a DNS lookup of this attempt's is unanswered: a budget running out then is a DNS failure. */
        private boolean resolving;
        /** The budget's timer: what is left of it is its delay. */
        private ScheduledFuture<?> budgetTimer;

        Attempt(EventLoop loop, RouteDecision decision, ConnectionRecord record, Supplier<ChannelHandler> handler,
                Promise<UpstreamLink> promise) {
            this.loop = loop;
            this.decision = decision;
            this.record = record;
            this.handler = handler;
            this.promise = promise;
        }

        /**
         * One budget for the lookups and the dials together. It is one timer of ours rather than
         * Netty's per-channel connect timeout: Netty's channel keeps its cancelled timeout task for
         * the channel's whole life, about 90 bytes on every open tunnel. (A lookup tries each
         * resolver in turn, each with the connect timeout of its own: without this timer a silent
         * resolver list would stretch the stage to as many timeouts.)
         */
        void budget(long timeoutMillis) {
            budgetTimer = loop.schedule(() -> fail(resolving ? Reason.DNS_FAILURE : Reason.UPSTREAM_TIMEOUT,
                    new ConnectTimeoutException("no upstream connected within " + timeoutMillis + " ms")),
                    timeoutMillis, TimeUnit.MILLISECONDS);
            promise.addListener(done -> budgetTimer.cancel(false));
        }

        void fail(Reason reason, Throwable cause) {
            promise.tryFailure(new UpstreamException(reason, cause));
        }

        /** Dials {@code target}, one address already judged by the policy, or asks the parent for it. */
        void dialChosen(InetSocketAddress target) {
            if (decision.delivery().via() != null) {
                throughParent(HostPort.format(target));
            } else {
                record.upstreamChosenByClient();
                dial(List.of(target));
            }
        }

        /**
         * Connects to the route's parent proxy (an address written in the config: trusted, as long
         * as it is not this proxy) and asks it for a tunnel to {@code authority}.
         */
        void throughParent(String authority) {
            parentAuthority = authority;
            HostPort parent = decision.delivery().via();
            if (parent.isIpLiteral()) {
                dialAllowed(List.of(parent.toResolvedLiteral()), false);
            } else {
                resolveThen(parent.host(), parent.port(), resolved -> dialAllowed(resolved, false));
            }
        }

        /** Resolves {@code host} (never an IP literal here) and hands the answers on, or fails with dns_failure. */
        void resolveThen(String host, int port, java.util.function.Consumer<List<InetSocketAddress>> next) {
            AddressResolver<InetSocketAddress> resolver = resolvers.getResolver(loop);
            long resolveStarted = System.nanoTime();
            resolving = true;
            resolver.resolveAll(InetSocketAddress.createUnresolved(host, port))
                    .addListener((Future<List<InetSocketAddress>> resolved) -> {
                        resolving = false;
                        boolean found = resolved.isSuccess() && !resolved.getNow().isEmpty();
                        observer.on(found ? ConnectionEvent.DNS_FOUND : ConnectionEvent.DNS_FAILED, record,
                                System.nanoTime() - resolveStarted);
                        if (promise.isDone()) {
                            return; // the budget ran out meanwhile
                        }
                        if (found) {
                            next.accept(resolved.getNow());
                        } else {
                            fail(Reason.DNS_FAILURE, resolved.cause());
                        }
                    });
        }

        /**
         * Dials the candidates the destination policy lets this upstream dial, in their order.
         * These exact addresses are then dialed: nothing is looked up again.
         */
        void dialAllowed(List<InetSocketAddress> candidates, boolean clientChosen) {
            DestinationPolicy current = policy.get();
            List<InetSocketAddress> allowed = new ArrayList<>(candidates.size());
            Reason refused = null;
            for (InetSocketAddress address : candidates) {
                Reason refusal = current.refusal(address, clientChosen, decision.allowDestinations());
                if (refusal == null) {
                    allowed.add(address);
                } else if (refused != Reason.LOOP_DETECTED) {
                    refused = refusal;
                }
            }
            if (allowed.isEmpty()) {
                fail(refused, null);
            } else {
                if (clientChosen) {
                    record.upstreamChosenByClient();
                }
                dial(allowed);
            }
        }

        /**
         * Dials the addresses in turn until one connects, all within what is left of the budget;
         * at most {@link #MAX_ADDRESSES_TRIED} of them, so that a name with hundreds of records
         * (a client's, behind {@code $sni}) is not a way to make the proxy send as many SYNs.
         */
        void dial(List<InetSocketAddress> addresses) {
            tryAddresses(addresses.size() > MAX_ADDRESSES_TRIED ? addresses.subList(0, MAX_ADDRESSES_TRIED) : addresses,
                    0, null);
        }

        /** Tries each address in turn until one connects or the promise is done (by the budget). */
        private void tryAddresses(List<InetSocketAddress> addresses, int index, Throwable lastFailure) {
            if (index >= addresses.size()) {
                fail(Reason.UPSTREAM_UNREACHABLE, lastFailure);
                return;
            }
            InetSocketAddress target = addresses.get(index);
            record.dialing(target);
            int left = addresses.size() - index;
            // With more addresses to follow, whichever comes first moves on, once: this address
            // failing, or its share of the budget running out before it connected. A single
            // address (the common case) needs no such flag.
            boolean[] movedOn = left > 1 ? new boolean[1] : null;
            Consumer<Throwable> tryNext = cause -> {
                if (movedOn != null) {
                    if (movedOn[0]) {
                        return;
                    }
                    movedOn[0] = true;
                }
                if (!promise.isDone()) {
                    tryAddresses(addresses, index + 1, cause);
                }
            };
            int mark = upstreamMark.getAsInt();
            Runnable abandon;
            if (UpstreamDials.socketFits(loop, parentAuthority != null, decision.delivery().sendProxyProtocol() != null)) {
                UpstreamSocket socket = UpstreamSocket.connect(loop, target, mark, connected -> {
                    if (movedOn != null) {
                        movedOn[0] = true; // connected: its share is over
                    }
                    if (!promise.trySuccess(connected)) {
                        connected.close();
                    }
                }, tryNext);
                abandon = socket == null ? null : socket::close;
            } else {
                Channel channel = UpstreamDials.channel(transport, loop, target, mark, handler.get(), connected -> {
                    if (movedOn != null) {
                        movedOn[0] = true; // connected: a parent's answer has the whole budget
                    }
                    if (parentAuthority != null) {
                        ParentProxyHandshake.start(connected, parentAuthority, decision.delivery().viaAuthorization(),
                                record, promise);
                    } else if (!promise.trySuccess(new UpstreamLink.OfChannel(connected))) {
                        connected.close();
                    }
                }, tryNext);
                abandon = channel == null ? null : channel::close;
            }
            if (abandon != null && !promise.isDone()) {
                // The budget may run out while this attempt is still connecting: then abandon it.
                promise.addListener(done -> {
                    if (!done.isSuccess()) {
                        abandon.run();
                    }
                });
                if (movedOn != null) {
                    shareTheBudget(left, movedOn, abandon, tryNext);
                }
            }
        }

        /**
         * Gives the address being dialed its share of what is left of the budget when more
         * addresses follow, as Go's dialer does: one that drops SYNs (a dead member of a
         * round-robin name) would otherwise take the whole budget, and the live ones after it
         * would never be tried.
         */
        private void shareTheBudget(int left, boolean[] movedOn, Runnable abandon, Consumer<Throwable> tryNext) {
            long share = Math.max(MIN_ADDRESS_SHARE_NANOS, budgetTimer.getDelay(TimeUnit.NANOSECONDS) / left);
            ScheduledFuture<?> timer = loop.schedule(() -> {
                if (!movedOn[0] && !promise.isDone()) {
                    // Moved on first: the close below fails this dial, which must not move on again.
                    tryNext.accept(new ConnectTimeoutException("no answer within this address's share of the budget"));
                    abandon.run();
                }
            }, share, TimeUnit.NANOSECONDS);
            promise.addListener(done -> timer.cancel(false));
        }
    }
}
