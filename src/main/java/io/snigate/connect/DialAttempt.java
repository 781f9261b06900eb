package io.snigate.connect;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.config.Cidr;
import io.snigate.config.HostPort;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.relay.UpstreamLink;
import io.snigate.relay.UpstreamSocket;
import io.snigate.route.RouteDecision;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One connection's way to its upstream, for {@link UpstreamConnector}: the lookup, the
 * destination policy and the dials, within one budget, on the connection's event loop. (About
 * 300 lines: the steps share the attempt's state, the budget's timer and the policy's refusals,
 * which split classes would pass back and forth; what a reload changes is {@link ReloadsDuringDial}.)
 */
final class DialAttempt {
    private final UpstreamConnector connector;
    private final EventLoop loop;
    private final RouteDecision decision;
    private final ConnectionRecord record;
    private final Supplier<ChannelHandler> handler;
    private final Promise<UpstreamLink> promise;
    /** {@code host:port} to ask the parent proxy for, once connected to it; null to dial directly. */
    private String parentAuthority;
    /** Whether a DNS lookup of this attempt's is unanswered: a budget running out then is a DNS failure. */
    private boolean resolving;
    private String lookingUp;
    /** What a rechecking reload during this attempt changes for it. */
    private final ReloadsDuringDial reloads;
    /**
     * How many addresses dialed turned out to be this host once connected, and the policy's
     * reason for them and for those refused before the dial (a loop before a forbidden address).
     */
    private int thisHostRefused;
    private Reason policyRefusal;
    /** The budget's timer: what is left of it is its delay. */
    private ScheduledFuture<?> budgetTimer;

    DialAttempt(UpstreamConnector connector, EventLoop loop, RouteDecision decision, ConnectionRecord record, Supplier<ChannelHandler> handler,
            Promise<UpstreamLink> promise) {
        this.connector = connector;
        this.loop = loop;
        this.decision = decision;
        this.record = record;
        this.handler = handler;
        this.promise = promise;
        this.reloads = new ReloadsDuringDial(connector.routes, record, decision);
    }

    /**
     * One budget for the lookups and the dials together. It is one timer of ours rather than
     * Netty's per-channel connect timeout: Netty's channel keeps its cancelled timeout task for
     * the channel's whole life, about 90 bytes on every open tunnel. (A lookup tries each
     * resolver in turn, each with the connect timeout of its own: without this timer a silent
     * resolver list would stretch the stage to as many timeouts.)
     */
    void budget(long timeoutMillis) {
        budgetTimer = loop.schedule(() -> {
            if (resolving) {
                connector.dnsTrouble.lookupFailed(lookingUp, null);
            }
            fail(resolving ? Reason.DNS_FAILURE : Reason.UPSTREAM_TIMEOUT,
                    new ConnectTimeoutException("no upstream connected within " + timeoutMillis + " ms"));
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        promise.addListener(done -> budgetTimer.cancel(false));
    }

    void fail(Reason reason, Throwable cause) {
        promise.tryFailure(new UpstreamException(reason, cause));
    }

    /** Dials {@code target}, one address already judged by the policy, or asks the parent for it. */
    void dialChosen(InetSocketAddress target) {
        Reason refused = reloads.duringLookup() ? connector.policy.get().refusal(target, true, reloads.allowDestinations()) : null;
        if (refused != null) {
            fail(refused, null);
        } else if (decision.delivery().via() != null) {
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
            resolveThen(parent.host(), parent.port(), false, resolved -> dialAllowed(resolved, false));
        }
    }

    /**
     * Resolves {@code host} (never an IP literal here) and hands the answers on, or fails with
     * dns_failure; {@code wholeIpv6}: the AAAA answer is waited for, however long it takes.
     */
    void resolveThen(String host, int port, boolean wholeIpv6, Consumer<List<InetSocketAddress>> next) {
        long resolveStarted = System.nanoTime();
        resolving = true;
        lookingUp = host;
        reloads.lookupStarts();
        connector.lookups.both(loop, host, port, wholeIpv6)
                .addListener((Future<List<InetSocketAddress>> resolved) -> {
                    resolving = false;
                    boolean found = resolved.isSuccess() && !resolved.getNow().isEmpty();
                    connector.observer.on(found ? ConnectionEvent.DNS_FOUND : ConnectionEvent.DNS_FAILED, record,
                            System.nanoTime() - resolveStarted);
                    if (promise.isDone()) {
                        return; // the budget ran out meanwhile
                    }
                    if (found) {
                        next.accept(resolved.getNow());
                    } else {
                        connector.dnsTrouble.lookupFailed(host, resolved.cause());
                        fail(Reason.DNS_FAILURE, resolved.cause());
                    }
                });
    }

    /**
     * Dials the candidates the destination policy lets this upstream dial, in their order.
     * These exact addresses are then dialed: nothing is looked up again.
     */
    void dialAllowed(List<InetSocketAddress> candidates, boolean clientChosen) {
        DestinationPolicy current = connector.policy.get();
        List<Cidr> allowDestinations = clientChosen ? reloads.allowDestinations() : List.of();
        List<InetSocketAddress> allowed = new ArrayList<>(candidates.size());
        Reason refused = null;
        for (InetSocketAddress address : candidates) {
            Reason refusal = current.refusal(address, clientChosen, allowDestinations);
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
            policyRefusal = refused; // the reason to give if the rest turn out to be this host
            reloads.judged(clientChosen);
            dial(allowed);
        }
    }

    /**
     * Dials the addresses in turn until one connects, all within what is left of the budget;
     * at most {@link UpstreamConnector#MAX_ADDRESSES_TRIED} of them, so that a name with hundreds of records
     * (a client's, behind {@code $sni}) is not a way to make the proxy send as many SYNs.
     */
    void dial(List<InetSocketAddress> addresses) {
        tryAddresses(addresses.size() > UpstreamConnector.MAX_ADDRESSES_TRIED ? addresses.subList(0, UpstreamConnector.MAX_ADDRESSES_TRIED) : addresses,
                0, null);
    }

    /** Tries each address in turn until one connects or the promise is done (by the budget). */
    private void tryAddresses(List<InetSocketAddress> addresses, int index, Throwable lastFailure) {
        if (index >= addresses.size()) {
            // As before the dial: the policy's reason only when it refused every address.
            if (reloads.revokedAnAddress()) {
                fail(Reason.REVOKED_BY_RELOAD, lastFailure);
            } else if (thisHostRefused == addresses.size()) {
                fail(policyRefusal, null);
            } else {
                fail(Reason.UPSTREAM_UNREACHABLE, lastFailure);
            }
            return;
        }
        InetSocketAddress target = addresses.get(index);
        if (index > 0 && reloads.refusesNext(target, connector.policy.get())) {
            tryAddresses(addresses, index + 1, lastFailure);
            return;
        }
        record.dialing(target);
        int left = addresses.size() - index;
        // With more addresses to follow, whichever comes first moves on, once: this address
        // failing, or its share of the budget running out before it connected. A single
        // address (the common case) needs no such flag.
        boolean[] movedOn = left > 1 ? new boolean[1] : null;
        Consumer<Throwable> tryNext = cause -> {
            if (cause instanceof ChannelException) {
                // From making the socket (or setting its options), before any connect: this
                // host's trouble rather than the upstream's, and every other address's too.
                connector.noSocket(cause);
                fail(Reason.CONNECTION_LIMIT, cause);
                return;
            }
            if (UpstreamConnector.isNoSourcePort(cause)) {
                connector.noSourcePort(target, cause);
            }
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
        int mark = connector.upstreamMark.getAsInt();
        Runnable abandon;
        if (UpstreamDials.socketFits(loop, parentAuthority != null, decision.delivery().sendProxyProtocol() != null)) {
            UpstreamSocket socket = UpstreamSocket.connect(loop, target, mark, connected -> {
                Throwable thisHost = mayBeThisHost() ? givenUpAsThisHost(connected.localAddress(), target) : null;
                if (thisHost != null) {
                    connected.close();
                    tryNext.accept(thisHost);
                    return;
                }
                if (movedOn != null) {
                    movedOn[0] = true; // connected: its share is over
                }
                if (!promise.trySuccess(connected)) {
                    connected.close();
                }
            }, tryNext);
            abandon = socket == null ? null : socket::close;
        } else {
            Channel channel = UpstreamDials.channel(connector.transport, loop, target, mark, handler.get(), connected -> {
                Throwable thisHost = mayBeThisHost()
                        ? givenUpAsThisHost((InetSocketAddress) connected.localAddress(), target)
                        : null;
                if (thisHost != null) {
                    connected.close();
                    tryNext.accept(thisHost);
                    return;
                }
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
     * Whether the upstream connected may be this host itself and must be asked: one the client
     * chose, dialed directly. (An upstream the config names is trusted, and asking its source
     * address would cost every connection a system call on io_uring.)
     */
    private boolean mayBeThisHost() {
        return parentAuthority == null && record.isUpstreamChosenByClient();
    }

    /**
     * Why a connected upstream that {@link #mayBeThisHost} is given up for the next address, or
     * null when it may be used: it is this host itself (its source address {@code source} is its
     * destination) and the policy refuses that, or it closed as it connected (no source address).
     * The destination policy's list of the host's own addresses is made at start and reload:
     * this catches an address added since.
     */
    private Throwable givenUpAsThisHost(InetSocketAddress source, InetSocketAddress target) {
        if (source == null) {
            return new ConnectException("closed as it connected to " + target);
        }
        if (!source.getAddress().equals(target.getAddress())) {
            return null;
        }
        Reason refusal = connector.policy.get().refusalOfThisHost(target, reloads.allowDestinations());
        if (refusal == null) {
            return null;
        }
        thisHostRefused++;
        if (policyRefusal != Reason.LOOP_DETECTED) {
            policyRefusal = refusal; // a loop says more than a forbidden address, as before the dial
        }
        return new UpstreamException(refusal, null);
    }

    /**
     * Gives the address being dialed its share of what is left of the budget when more
     * addresses follow, as Go's dialer does: one that drops SYNs (a dead member of a
     * round-robin name) would otherwise take the whole budget, and the live ones after it
     * would never be tried.
     */
    private void shareTheBudget(int left, boolean[] movedOn, Runnable abandon, Consumer<Throwable> tryNext) {
        long share = Math.max(UpstreamConnector.MIN_ADDRESS_SHARE_NANOS, budgetTimer.getDelay(TimeUnit.NANOSECONDS) / left);
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
