package io.snigate.connect;

import io.netty.channel.EventLoop;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverTimeoutException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A name's addresses, as the connect stage asks for them: A and AAAA in lookups of their own, asked
 * together (AAAA only while the host has IPv6, or to verify an IPv6 destination), and the answers of
 * both, IPv4 first. Once one
 * family has answered, the other is waited for at most {@link #RESOLUTION_DELAY_MILLIS} (RFC 8305
 * §3's resolution delay): a resolver that never answers AAAA costs that, not the connect budget.
 * A family a name turned out to have no addresses in is not asked again for
 * {@link #NO_RECORDS_SECONDS}: the shared cache keeps answers, not their absence, and without this
 * every connection to an IPv4-only name would ask for AAAA again. The lookups run on the
 * connection's event loop, so their answers need no lock.
 */
public final class AddressLookups implements Closeable {
    /** How long the other family is waited for once one has answered with addresses. */
    static final long RESOLUTION_DELAY_MILLIS = 50;
    /** How long a name's want of records in one family is remembered. */
    static final long NO_RECORDS_SECONDS = 60;
    /** The most names remembered so per family, as many as the cache keeps answers for. */
    static final int NO_RECORDS_NAMES = CountedDnsCache.MAX_NAMES;

    private final AddressResolverGroup<InetSocketAddress> ipv4;
    private final AddressResolverGroup<InetSocketAddress> ipv6;
    /** Whether the host has IPv6 now: an unused resolver group costs nothing. */
    private final BooleanSupplier hostHasIpv6;
    /** Names with no A, and no AAAA, records. */
    private final NamesWithoutRecords noA = namesWithoutRecords();
    private final NamesWithoutRecords noAaaa = namesWithoutRecords();

    public AddressLookups(AddressResolverGroup<InetSocketAddress> ipv4, AddressResolverGroup<InetSocketAddress> ipv6,
            BooleanSupplier hostHasIpv6) {
        this.ipv4 = ipv4;
        this.ipv6 = ipv6;
        this.hostHasIpv6 = hostHasIpv6;
    }

    /**
     * The addresses of both families, IPv4 first; fails only when neither family has any. With
     * {@code wholeIpv6}, the AAAA answer is waited for whatever the time (a destination to verify
     * against it; the client came over IPv6, so AAAA is asked whatever the host's interfaces).
     */
    Future<List<InetSocketAddress>> both(EventLoop loop, String host, int port, boolean wholeIpv6) {
        String name = host.toLowerCase(Locale.ROOT);
        InetSocketAddress unresolved = InetSocketAddress.createUnresolved(host, port);
        boolean askAaaa = (wholeIpv6 || hostHasIpv6.getAsBoolean()) && !noAaaa.known(name, System.nanoTime());
        boolean askA = !askAaaa || !noA.known(name, System.nanoTime()); // when both are known empty, A says so again
        if (!askA || !askAaaa) {
            return (askA ? ipv4 : ipv6).getResolver(loop).resolveAll(unresolved);
        }
        return new Together(loop, name, ipv4.getResolver(loop).resolveAll(unresolved),
                ipv6.getResolver(loop).resolveAll(unresolved), wholeIpv6).result;
    }

    @Override
    public void close() {
        ipv4.close();
        ipv6.close();
    }

    private static NamesWithoutRecords namesWithoutRecords() {
        return new NamesWithoutRecords(NO_RECORDS_NAMES, TimeUnit.SECONDS.toNanos(NO_RECORDS_SECONDS),
                TimeUnit.SECONDS.toNanos(1), System.nanoTime());
    }

    private static boolean unanswered(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof DnsNameResolverTimeoutException) {
                return true;
            }
        }
        return false;
    }

    /** The two lookups of one name, the answer made of them, and what they say a name lacks. */
    private final class Together {
        private final EventLoop loop;
        private final String name;
        private final Future<List<InetSocketAddress>> a;
        private final Future<List<InetSocketAddress>> aaaa;
        private final boolean wholeIpv6;
        private final Promise<List<InetSocketAddress>> result;
        private ScheduledFuture<?> delay;

        Together(EventLoop loop, String name, Future<List<InetSocketAddress>> a, Future<List<InetSocketAddress>> aaaa,
                boolean wholeIpv6) {
            this.loop = loop;
            this.name = name;
            this.a = a;
            this.aaaa = aaaa;
            this.wholeIpv6 = wholeIpv6;
            this.result = loop.newPromise();
            a.addListener(done -> answered());
            aaaa.addListener(done -> answered());
        }

        private void answered() {
            rememberEmptyFamilies();
            if (result.isDone()) {
                return; // the other family came after the delay: it is in the cache for the next lookup
            }
            if (a.isDone() && aaaa.isDone()) {
                settle();
            } else if (delay == null && (found(a) || found(aaaa)) && !(wholeIpv6 && !aaaa.isDone())) {
                delay = loop.schedule(this::settle, RESOLUTION_DELAY_MILLIS, TimeUnit.MILLISECONDS);
            }
        }

        /**
         * A family is remembered empty once the other has addresses: the name exists, but not in
         * it. An unanswered AAAA counts (a resolver that drops them); an unanswered A does not, as
         * one lost query would keep IPv4 from being dialed for a minute.
         */
        private void rememberEmptyFamilies() {
            if (a.isDone() && !found(a) && found(aaaa) && !unanswered(a.cause())) {
                noA.remember(name, System.nanoTime());
            }
            if (aaaa.isDone() && !found(aaaa) && found(a)) {
                noAaaa.remember(name, System.nanoTime());
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

        private boolean found(Future<List<InetSocketAddress>> lookup) {
            return lookup.isDone() && lookup.isSuccess() && !lookup.getNow().isEmpty();
        }
    }
}
