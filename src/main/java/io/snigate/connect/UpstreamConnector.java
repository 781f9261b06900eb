package io.snigate.connect;

import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.snigate.config.HostPort;
import io.snigate.config.Upstream;
import io.snigate.core.Addresses;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.DestinationCheck;
import io.snigate.core.OncePerSecond;
import io.snigate.core.Reason;
import io.snigate.core.SystemWords;
import io.snigate.relay.DialFailed;
import io.snigate.relay.UpstreamLink;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import io.snigate.transport.Transport;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stage four: turns a routing decision into a connected upstream (a channel, or on io_uring a
 * socket the relay drives itself: {@link UpstreamDials}). A name is resolved through the
 * asynchronous DNS resolver (never the JDK's blocking lookup), the answers pass the
 * {@link DestinationPolicy}, then they are tried in order, all within one connect timeout that
 * covers both steps. The upstream lives on the client's event loop, so the two sides of a tunnel
 * never need a lock or a hand-off between threads.
 */
public final class UpstreamConnector {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamConnector.class);
    /** The most addresses of one answer dialed for one connection. */
    static final int MAX_ADDRESSES_TRIED = 16;
    /**
     * The least time an address is given when more follow it (Go's dialer's floor): below it, a
     * slow but live upstream would be given up for the next address.
     */
    static final long MIN_ADDRESS_SHARE_NANOS = TimeUnit.SECONDS.toNanos(2);

    // Shared by every {@link DialAttempt}.
    final Transport transport;
    final AddressLookups lookups;
    final ConnectionObserver observer;
    final Supplier<DestinationPolicy> policy;
    /** The routes in force, for a lookup that a reload overtook ({@link DialAttempt}). */
    final Supplier<RouteTable> routes;
    /** Says when lookups fail for the resolvers' sake. */
    final DnsTrouble dnsTrouble = new DnsTrouble();
    final IntSupplier upstreamMark;
    private final OncePerSecond noSocketDue = new OncePerSecond();
    private final OncePerSecond noSourcePortDue = new OncePerSecond();

    public UpstreamConnector(
            Transport transport,
            AddressLookups lookups,
            ConnectionObserver observer,
            Supplier<DestinationPolicy> policy,
            Supplier<RouteTable> routes,
            IntSupplier upstreamMark) {
        this.transport = transport;
        this.lookups = lookups;
        this.observer = observer;
        this.policy = policy;
        this.routes = routes;
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
        DialAttempt attempt = new DialAttempt(this, loop, decision, record, handler, promise);
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
                    attempt.resolveThen(upstream.host(), port, false, resolved -> attempt.dialAllowed(resolved, false));
                }
            }
            case SNI -> {
                if (viaParent) {
                    // The parent resolves the name, and the destination policy is the parent's.
                    attempt.throughParent(record.sni() + ":" + port);
                } else {
                    attempt.resolveThen(record.sni(), port, false, resolved -> attempt.dialAllowed(resolved, true));
                }
            }
            case ORIGINAL_DST -> dialOriginalDst(attempt, decision, record);
        }
        return promise;
    }

    /**
     * A socket for an upstream could not be made ({@code cause}: out of descriptors, most often):
     * this host's trouble, not the upstream's, so the connection ends as {@code connection_limit}
     * ({@code upstream_unreachable} would send an operator to look at a healthy server). Said on
     * standard error, at most once a second, as nginx says {@code socket() failed (24: Too many
     * open files) while connecting to upstream}.
     */
    void noSocket(Throwable cause) {
        if (noSocketDue.due()) {
            LOG.warn("no socket could be made for an upstream ({}); such connections end as connection_limit",
                    SystemWords.plainly(cause));
        }
    }

    /**
     * A dial to {@code target} failed for want of a free source port towards it (EADDRNOTAVAIL:
     * every port of {@code net.ipv4.ip_local_port_range} is in use or in TIME_WAIT to that
     * address): this host's trouble, which the line's {@code upstream_unreachable} would hide.
     * Said on standard error, at most once a second, as nginx says {@code connect() failed (99:
     * Cannot assign requested address)}. The dial goes on to the next address, which may have
     * ports left.
     */
    void noSourcePort(InetSocketAddress target, Throwable cause) {
        if (noSourcePortDue.due()) {
            LOG.warn("no source port free to dial the upstream {} ({}): widen net.ipv4.ip_local_port_range,"
                    + " or spread upstreams over more addresses; a dial with no other address to try fails as"
                    + " upstream_unreachable", HostPort.format(target), cause.getMessage());
        }
    }

    /** Whether {@code cause} is a connect's EADDRNOTAVAIL, from the ring's dial or from a Netty channel's. */
    static boolean isNoSourcePort(Throwable cause) {
        return cause instanceof DialFailed failed ? failed.noSourcePort() : nettySaysNoSourcePort(cause);
    }

    /**
     * Netty's connect exception keeps its errno to itself (the class and its accessor are
     * package-private), so what a Netty channel's failed connect says is only in its message:
     * strerror's words for EADDRNOTAVAIL.
     */
    private static boolean nettySaysNoSourcePort(Throwable cause) {
        String message = cause.getMessage();
        return message != null && message.contains("Cannot assign requested address");
    }

    /**
     * {@code $original_dst}: the address the client dialed, if the policy allows it and, unless
     * the route trusts the client, if the client's SNI resolves to it (in audit mode, a mismatch
     * is dialed all the same and reported).
     */
    private void dialOriginalDst(DialAttempt attempt, RouteDecision decision, ConnectionRecord record) {
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
        // An IPv6 destination is compared with the AAAA records, which are waited for whole.
        attempt.resolveThen(record.sni(), original.getPort(), dialed instanceof Inet6Address, resolved -> {
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
}
