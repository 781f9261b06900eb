package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.Errors;
import io.netty.resolver.AbstractAddressResolver;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.snigate.config.ConfigLoader;
import io.snigate.config.Upstream;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.relay.DialFailed;
import io.snigate.relay.UpstreamLink;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import io.snigate.testing.SilentListener;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * {@link UpstreamConnector}: when the upstream's channel cannot even be made (no descriptor left,
 * EMFILE) the attempt fails with a reason, on the spot, and no exception leaves the connector; a
 * name's addresses are tried in turn, each failed dial closed, at most
 * {@link UpstreamConnector#MAX_ADDRESSES_TRIED} of them, and one that drops SYNs given only its
 * share of the budget. The name's answer comes from a resolver of the test's, on epoll (whose
 * channels stay open after a failed connect).
 */
class UpstreamConnectorTest {
    private static final Transport EPOLL = Transport.select("epoll", () -> "not this test's", () -> null);

    /** The loop the tests' dials run on, and the channels each dial tried, in order. */
    private EventLoopGroup loops;
    private final List<Channel> dialed = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startLoop() {
        loops = EPOLL.newEventLoopGroup(1);
    }

    @AfterEach
    void stopLoop() throws InterruptedException {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /** A resolver that answers every name with {@code addresses}, ports included. */
    private static AddressResolverGroup<InetSocketAddress> answering(List<InetSocketAddress> addresses) {
        return new AddressResolverGroup<>() {
            @Override
            protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
                return new AbstractAddressResolver<>(executor) {
                    @Override
                    protected boolean doIsResolved(InetSocketAddress address) {
                        return !address.isUnresolved();
                    }

                    @Override
                    protected void doResolve(InetSocketAddress unresolved, Promise<InetSocketAddress> promise) {
                        promise.setSuccess(addresses.get(0));
                    }

                    @Override
                    protected void doResolveAll(InetSocketAddress unresolved, Promise<List<InetSocketAddress>> promise) {
                        promise.setSuccess(addresses);
                    }
                };
            }
        };
    }

    /** Dials the name {@code many.test} answered with {@code addresses}; the channels tried, in order, go to {@code dialed}. */
    private static Future<UpstreamLink> dial(EventLoop loop, List<InetSocketAddress> addresses, long budgetMillis,
            List<Channel> dialed) throws Exception {
        return dial(loop, RouteDecision.routed("test", Upstream.parse("many.test:443")), addresses, budgetMillis, dialed);
    }

    private static Future<UpstreamLink> dial(EventLoop loop, RouteDecision decision, List<InetSocketAddress> addresses,
            long budgetMillis, List<Channel> dialed) throws Exception {
        UpstreamConnector connector = new UpstreamConnector(EPOLL, new AddressLookups(answering(addresses), answering(List.of()), () -> false), (event, record, nanos) -> {},
                () -> DestinationPolicy.forListeners(List.of(), List.of()), () -> null, () -> 0);
        return loop.submit(() -> {
            EmbeddedChannel client = new EmbeddedChannel();
            ConnectionRecord record = ConnectionRecord.attach(client, "test", (event, c, nanos) -> {});
            return connector.connect(loop, decision, record, budgetMillis, () -> new ChannelInboundHandlerAdapter() {
                @Override
                public void handlerAdded(ChannelHandlerContext ctx) {
                    dialed.add(ctx.channel());
                }
            });
        }).get(5, TimeUnit.SECONDS);
    }

    /** A loopback address that refuses at once: nothing listens on it. */
    private static InetSocketAddress refusing(int i) throws IOException {
        try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return new InetSocketAddress(InetAddress.getByName("127.0.1." + i), gone.getLocalPort());
        }
    }

    @Test
    void aFailedDialIsClosedWhenALaterAddressConnects() throws Exception {
        try (ServerSocket live = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            Future<UpstreamLink> link = dial(loops.next(), List.of(refusing(1),
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), live.getLocalPort())), 5_000, dialed);
            assertThat(link.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(link.isSuccess()).as("connected: %s", link.cause()).isTrue();
            assertThat(dialed).hasSize(2);
            assertThat(dialed.get(0).isOpen()).as("the refused dial's channel").isFalse();
            assertThat(dialed.get(1).isOpen()).isTrue();
            dialed.get(1).close().sync();
        }
    }

    @Test
    void aParentThatConnectedHasTheWholeBudgetToAnswer() throws Exception {
        ExecutorService parentThread = Executors.newSingleThreadExecutor();
        try (ServerSocket parent = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            // A parent that takes 3 s to reach the upstream, then says so.
            parentThread.submit(() -> {
                try (Socket asked = parent.accept()) {
                    byte[] request = new byte[4096];
                    asked.getInputStream().read(request);
                    Thread.sleep(3_000);
                    asked.getOutputStream().write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    asked.getInputStream().read(request); // held until the test closes its side
                }
                return null;
            });
            RouteDecision decision = RouteTable.from(ConfigLoader.parse("""
                    listen: ["127.0.0.1:0"]
                    routes:
                      - match: "a.example"
                        upstream: "$sni:443"
                        via: "http://parents.test:3128"
                    """, "test.yaml")).route("a.example", null, 443);
            InetSocketAddress parentAddress = new InetSocketAddress(InetAddress.getLoopbackAddress(), parent.getLocalPort());
            // The parent's name has two addresses: the first connects, and must not be given up for the second.
            Future<UpstreamLink> link = dial(loops.next(), decision, List.of(parentAddress, parentAddress), 5_000, dialed);
            assertThat(link.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(link.isSuccess()).as("the parent's tunnel: %s", link.cause()).isTrue();
            assertThat(dialed).hasSize(1);
            dialed.get(0).close().sync();
        } finally {
            parentThread.shutdownNow();
        }
    }

    @Test
    void aNameWithHundredsOfAddressesIsDialedAtMostSixteenTimes() throws Exception {
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int i = 1; i <= 200; i++) {
            addresses.add(new InetSocketAddress(InetAddress.getByName("127.0.1." + i), refusing(1).getPort()));
        }
        Future<UpstreamLink> link = dial(loops.next(), addresses, 10_000, dialed);
        assertThat(link.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(((UpstreamException) link.cause()).reason()).isEqualTo(Reason.UPSTREAM_UNREACHABLE);
        assertThat(dialed).hasSize(UpstreamConnector.MAX_ADDRESSES_TRIED);
        await().atMost(Duration.ofSeconds(2)).until(() -> dialed.stream().noneMatch(Channel::isOpen));
    }

    @Test
    void anAddressThatDropsSynsGetsItsShareOfTheBudgetNotAllOfIt() throws Exception {
        try (SilentListener full = new SilentListener();
                ServerSocket live = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            long started = System.nanoTime();
            Future<UpstreamLink> link = dial(loops.next(), List.of(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), full.port()),
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), live.getLocalPort())), 8_000, dialed);
            assertThat(link.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(link.isSuccess()).as("connected within the budget: %s", link.cause()).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("half of the 8 s budget, then the next address")
                    .isGreaterThanOrEqualTo(Duration.ofMillis(3_500));
            assertThat(dialed.get(0).isOpen()).as("the silent dial, given up").isFalse();
            dialed.get(1).close().sync();
        }
    }

    @Test
    void aSocketThatCannotBeMadeFailsTheAttemptAsAConnectionLimitAndIsSaid() {
        Logger connectorLog = (Logger) LoggerFactory.getLogger(UpstreamConnector.class);
        logged.start();
        connectorLog.addAppender(logged);
        try {
            socketThatCannotBeMade();
        } finally {
            connectorLog.detachAppender(logged);
        }
    }

    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();

    private void socketThatCannotBeMade() {
        AtomicInteger asked = new AtomicInteger();
        Transport noDescriptors = new Transport("nio", "a test's", null, null, NioSocketChannel.class, null, family -> {
            asked.incrementAndGet();
            // As Netty's socket() throws it (EMFILE).
            throw new ChannelException(Errors.newIOException("newSocketStream", -24));
        }, null);
        UpstreamConnector connector = new UpstreamConnector(noDescriptors, new AddressLookups(null, null, () -> false), (event, record, nanos) -> {},
                () -> DestinationPolicy.forListeners(List.of(), List.of()), () -> null, () -> 0);
        EmbeddedChannel client = new EmbeddedChannel();
        ConnectionRecord record = ConnectionRecord.attach(client, "test", (event, c, nanos) -> {});
        RouteDecision decision = RouteDecision.routed("test", Upstream.parse("192.0.2.1:443"));

        Future<UpstreamLink> link = connector.connect(client.eventLoop(), decision, record, 1_000,
                ChannelInboundHandlerAdapter::new);
        client.runPendingTasks();

        assertThat(asked.get()).isEqualTo(1);
        assertThat(link.isDone()).as("failed at once, not by the budget").isTrue();
        assertThat(link.cause()).isInstanceOf(UpstreamException.class);
        assertThat(((UpstreamException) link.cause()).reason()).isEqualTo(Reason.CONNECTION_LIMIT);
        assertThat(link.cause().getCause()).hasMessageContaining("Too many open files");
        client.finishAndReleaseAll();
        synchronized (logged) {
            assertThat(logged.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
                    "no socket could be made for an upstream (the process is out of file descriptors (Too many open"
                            + " files)); such connections end as connection_limit");
        }
    }

    /**
     * No free source port (EADDRNOTAVAIL) is known by its errno from the ring's dial and by
     * strerror's words from a Netty channel's connect, and no other failure is taken for it.
     */
    @Test
    void noSourcePortIsKnownByTheRingsErrnoAndByNettysWords() {
        InetSocketAddress target = new InetSocketAddress("192.0.2.1", 443);
        assertThat(UpstreamConnector.isNoSourcePort(new DialFailed(target, 99))).isTrue();
        assertThat(UpstreamConnector.isNoSourcePort(new DialFailed(target, 111))).as("ECONNREFUSED").isFalse();
        assertThat(UpstreamConnector.isNoSourcePort(catchThrowable(() -> Errors.throwConnectException("connect", -99))))
                .isTrue();
        assertThat(UpstreamConnector.isNoSourcePort(catchThrowable(() -> Errors.throwConnectException("connect", -111))))
                .isFalse();
    }
}
