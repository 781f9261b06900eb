package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.config.ProxyConfig;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionObservers;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.log.AccessLog;
import io.snigate.log.BatchingLineWriter;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.preread.ClientHelloParser;
import io.snigate.preread.PrereadVerdict;
import io.snigate.route.RouteConnections;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * snigate's own stages, called by {@link RingFloor} with {@code -Dsnigate.floor.stages=on} (the
 * rig's {@code stagefloor}) at the points where snigate runs them, without a Netty channel: the
 * connection's record and the observers snigate tells (metrics, the access log through its
 * writer thread, the routes' counts), the pre-read timeout armed at the accept and cancelled by
 * the ClientHello, the ClientHello parsed with its JA4, the route decided on the config's route
 * table, the connect budget armed and cancelled, the bytes counted, and the record finished at the
 * close. What it leaves out is snigate's Netty channel for the accepted socket, its pipeline and
 * promises, the hand-over to the relay, the relay's polls before it reads, the drain's set of open
 * connections, the tunnels' idle sweep and the check against dialing its own listeners. So the
 * figure it gives, against {@code ringfloor}, is what the stages cost, and against snigate, the
 * most that a client side without a channel could save (performance page, "snigate's stages on
 * the floor").
 *
 * <p>The record is started and finished through its private constructor and {@code finish},
 * which only a channel reaches in snigate; a method handle keeps that out of snigate's API.
 */
final class FloorStages {
    private static final MethodHandle NEW_RECORD, FINISH;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(ConnectionRecord.class, MethodHandles.lookup());
            NEW_RECORD = lookup.findConstructor(ConnectionRecord.class, MethodType.methodType(void.class,
                    String.class, InetSocketAddress.class, ConnectionObserver.class));
            FINISH = lookup.findVirtual(ConnectionRecord.class, "finish", MethodType.methodType(void.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String listener;
    private final ConnectionObserver observer;
    private final RouteTable routes;
    private final int maxClientHelloBytes;
    private final long prereadMillis, connectMillis;
    private final int listenPort;

    FloorStages(ProxyConfig config) {
        ProxyMetrics metrics = new ProxyMetrics();
        listener = config.listeners().get(0).name();
        listenPort = config.listeners().get(0).address().toResolvedLiteral().getPort();
        metrics.registerListener(listener, false);
        metrics.registerRoutes(config.routes().stream().map(route -> route.name()).toList());
        BatchingLineWriter lines = new BatchingLineWriter(new FileOutputStream(FileDescriptor.out), 65_536,
                Duration.ofMillis(50));
        observer = new ConnectionObservers(List.of(new RouteConnections(), metrics, new AccessLog(lines)));
        routes = RouteTable.from(config);
        maxClientHelloBytes = config.limits().maxClientHelloBytes();
        prereadMillis = config.timeouts().preread().toMillis();
        connectMillis = config.timeouts().connect().toMillis();
    }

    /** One connection's stages; its methods run on the connection's event loop. */
    final class Connection {
        private final ConnectionRecord record;
        private ScheduledFuture<?> timer;
        private long dialedAt;

        /** Accepted: the record starts and the pre-read timeout is armed ({@code onTimeout} closes). */
        Connection(InetSocketAddress peer, EventLoop loop, Runnable onTimeout) {
            try {
                record = (ConnectionRecord) NEW_RECORD.invokeExact(listener, peer, observer);
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
            observer.on(ConnectionEvent.OPENED, record, 0);
            record.destination(null, listenPort);
            timer = loop.schedule(onTimeout, prereadMillis, TimeUnit.MILLISECONDS);
        }

        /**
         * The client's first bytes: whether they are a whole ClientHello of a name with a route
         * (the floor reads once before it dials: a hello cut across reads is refused). On true the
         * connect budget is armed ({@code onTimeout} closes).
         */
        boolean hello(ByteBuf bytes, EventLoop loop, Runnable onTimeout) {
            PrereadVerdict verdict = ClientHelloParser.parse(bytes, maxClientHelloBytes, false, record);
            timer.cancel(false);
            observer.on(ConnectionEvent.PREREAD_DONE, record, System.nanoTime() - record.acceptedAtNanos());
            if (verdict.status() != PrereadVerdict.Status.COMPLETE) {
                record.endedBecause(verdict.status() == PrereadVerdict.Status.REJECT ? verdict.reason() : Reason.MALFORMED);
                return false;
            }
            RouteDecision decision = routes.decide(record.sni(), record.alpn(), record.dialedPort(),
                    record.client().getAddress(), record.tlsVersionCode(), false, Boolean.TRUE.equals(record.ech()));
            record.route(decision.routeLabel());
            record.policy(decision.mode().label(), decision.wouldReject());
            if (!decision.routed()) {
                record.endedBecause(decision.rejectReason());
                return false;
            }
            dialedAt = System.nanoTime();
            timer = loop.schedule(onTimeout, connectMillis, TimeUnit.MILLISECONDS);
            return true;
        }

        void connected(InetSocketAddress upstream) {
            timer.cancel(false);
            record.upstream(upstream);
            observer.on(ConnectionEvent.UPSTREAM_CONNECTED, record, System.nanoTime() - dialedAt);
        }

        /** {@code bytes} relayed, {@code fromClient} or from the upstream. */
        void relayed(boolean fromClient, int bytes) {
            if (fromClient) {
                record.addBytesFromClient(bytes);
            } else {
                record.addBytesToClient(bytes);
            }
        }

        void failed(Reason reason) {
            record.endedBecause(reason);
        }

        /** Both sockets are closed: the record is finished, which the metrics and the access log hear. */
        void closed() {
            timer.cancel(false);
            try {
                FINISH.invokeExact(record);
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
