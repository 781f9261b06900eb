package io.snigate.connect;

import io.netty.channel.EventLoop;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.core.Addresses;
import java.io.Closeable;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A name's addresses, as the connect stage asks for them: A and AAAA in lookups of their own, asked
 * together (AAAA only where the host has IPv6), and the answers of both, IPv4 first. Once one
 * family has answered, the other is waited for at most {@link #RESOLUTION_DELAY_MILLIS} (RFC 8305
 * §3's resolution delay): a resolver that never answers AAAA costs that, not the connect budget.
 * The lookups run on the connection's event loop, so their answers need no lock.
 */
public final class AddressLookups implements Closeable {
    /** How long the other family is waited for once one has answered with addresses. */
    static final long RESOLUTION_DELAY_MILLIS = 50;

    private final AddressResolverGroup<InetSocketAddress> ipv4;
    /** Null on a host without IPv6. */
    private final AddressResolverGroup<InetSocketAddress> ipv6;

    public AddressLookups(AddressResolverGroup<InetSocketAddress> ipv4, AddressResolverGroup<InetSocketAddress> ipv6) {
        this.ipv4 = ipv4;
        this.ipv6 = ipv6;
    }

    /** The addresses of both families, IPv4 first; fails only when neither family has any. */
    Future<List<InetSocketAddress>> both(EventLoop loop, String host, int port) {
        InetSocketAddress name = InetSocketAddress.createUnresolved(host, port);
        Future<List<InetSocketAddress>> a = ipv4.getResolver(loop).resolveAll(name);
        if (ipv6 == null) {
            return a;
        }
        return new Together(loop, a, ipv6.getResolver(loop).resolveAll(name)).result;
    }

    /**
     * The addresses of {@code like}'s family only (an IPv4 address's however it is spelled): a
     * destination to verify is compared with the records of its own family, which are then waited
     * for whatever the other family does.
     */
    Future<List<InetSocketAddress>> sameFamilyAs(InetAddress like, EventLoop loop, String host, int port) {
        boolean wantsIpv6 = Addresses.embeddedIpv4(like) instanceof Inet6Address && ipv6 != null;
        return (wantsIpv6 ? ipv6 : ipv4).getResolver(loop).resolveAll(InetSocketAddress.createUnresolved(host, port));
    }

    @Override
    public void close() {
        ipv4.close();
        if (ipv6 != null) {
            ipv6.close();
        }
    }

    /** The two lookups of one name, and the answer made of them. */
    private static final class Together {
        private final EventLoop loop;
        private final Future<List<InetSocketAddress>> a;
        private final Future<List<InetSocketAddress>> aaaa;
        private final Promise<List<InetSocketAddress>> result;
        private ScheduledFuture<?> delay;

        Together(EventLoop loop, Future<List<InetSocketAddress>> a, Future<List<InetSocketAddress>> aaaa) {
            this.loop = loop;
            this.a = a;
            this.aaaa = aaaa;
            this.result = loop.newPromise();
            a.addListener(done -> answered());
            aaaa.addListener(done -> answered());
        }

        private void answered() {
            if (result.isDone()) {
                return; // the other family came after the delay: it is in the cache for the next lookup
            }
            if (a.isDone() && aaaa.isDone()) {
                settle();
            } else if (delay == null && (found(a) || found(aaaa))) {
                delay = loop.schedule(this::settle, RESOLUTION_DELAY_MILLIS, TimeUnit.MILLISECONDS);
            }
        }

        private void settle() {
            if (result.isDone()) {
                return;
            }
            if (delay != null) {
                delay.cancel(false);
            }
            List<InetSocketAddress> addresses = new ArrayList<>();
            if (found(a)) {
                addresses.addAll(a.getNow());
            }
            if (found(aaaa)) {
                addresses.addAll(aaaa.getNow());
            }
            Throwable cause = a.cause() != null ? a.cause() : aaaa.cause();
            if (!addresses.isEmpty()) {
                result.trySuccess(addresses);
            } else {
                result.tryFailure(cause != null ? cause : new UnknownHostException("no A or AAAA record"));
            }
        }

        private static boolean found(Future<List<InetSocketAddress>> lookup) {
            return lookup.isDone() && lookup.isSuccess() && !lookup.getNow().isEmpty();
        }
    }
}
