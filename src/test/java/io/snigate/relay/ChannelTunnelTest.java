package io.snigate.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.PipelineNames;
import io.snigate.core.Reason;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.PipelineTails;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A tunnel of two Netty channels ({@link Relay#start} with an upstream channel: every route on
 * epoll and NIO, and on io_uring a route with a parent proxy or a PROXY header to send), on NIO
 * with a client socket whose buffers fill at once: its timeouts still hold when one side has
 * closed and bytes wait for the other.
 */
@ExtendWith(NettyLeaks.class)
class ChannelTunnelTest {
    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());

    @AfterEach
    void stop() throws InterruptedException {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }

    /** The tunnel of a test: its record, and when it closed after its start. */
    private record Started(ConnectionRecord record, CompletableFuture<Long> closedAfterNanos) {}

    /**
     * A tunnel from {@code client} (connected here to a listener whose sockets have a 4 KiB send
     * buffer) to {@code upstreamListener}, with the timeouts given, started on the loop.
     */
    private Started tunnel(Channel listener, CompletableFuture<Channel> accepted, Socket client,
            ServerSocket upstreamListener, long idleMillis, long halfClosedMillis) throws Exception {
        client.setReceiveBufferSize(4096); // and it never reads
        client.connect(listener.localAddress());
        Channel clientSide = accepted.get(5, TimeUnit.SECONDS);
        Channel upstreamSide = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                .option(ChannelOption.SO_SNDBUF, 4096) // and the upstream side's too
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Channel>() { // as UpstreamDials names it
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(PipelineNames.PENDING_UPSTREAM, Relay.pendingUpstreamHandler());
                    }
                })
                .connect(upstreamListener.getLocalSocketAddress()).sync().channel();
        long started = System.nanoTime();
        CompletableFuture<Long> closedAfterNanos = new CompletableFuture<>();
        ConnectionRecord record = clientSide.eventLoop().submit(() -> {
            ConnectionRecord attached = ConnectionRecord.attach(clientSide, "test", (event, connection, nanos) -> {
                if (event == ConnectionEvent.CLOSED) {
                    closedAfterNanos.complete(System.nanoTime() - started);
                }
            });
            Relay.start(clientSide, new UpstreamLink.OfChannel(upstreamSide), attached, null, idleMillis, halfClosedMillis);
            return attached;
        }).get(5, TimeUnit.SECONDS);
        return new Started(record, closedAfterNanos);
    }

    /** A listener whose accepted sockets' kernel send buffers are full at once; {@code accepted} gets each. */
    private Channel listener(CompletableFuture<Channel> accepted) throws InterruptedException {
        return new ServerBootstrap().group(loop).channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.SO_SNDBUF, 4096)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(PipelineNames.ROUTE, new ChannelInboundHandlerAdapter())
                                .addLast(PipelineNames.PREREAD, new ChannelInboundHandlerAdapter());
                        accepted.complete(ch);
                    }
                })
                .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
    }

    /**
     * An upstream on {@code listener} that sends 48 KiB (under the high-water mark, over the
     * client's buffers) and then waits, reading nothing, until the returned latch is counted down.
     */
    private static Upstream sends48KiBAndWaits(ServerSocket listener) {
        CountDownLatch testOver = new CountDownLatch(1);
        CompletableFuture<Void> sent = new CompletableFuture<>();
        CompletableFuture.runAsync(() -> {
            try (Socket upstream = listener.accept()) {
                upstream.getOutputStream().write(new byte[48 << 10]);
                sent.complete(null);
                testOver.await(10, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                sent.completeExceptionally(e); // nothing queued toward the client: the test cannot stand
            }
        }, runnable -> new Thread(runnable).start());
        return new Upstream(sent, testOver);
    }

    /** The upstream's 48 KiB, all handed to its socket, and the latch that ends its wait. */
    private record Upstream(CompletableFuture<Void> sent, CountDownLatch testOver) { }

    @Test
    void aClientThatSentFinAndStopsReadingIsClosedAtTheHalfClosedTimeoutAfterTheUpstreamLeft() throws Exception {
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        Channel listener = listener(accepted);
        CompletableFuture<Void> upstreamDone = new CompletableFuture<>();
        try (ServerSocket upstreamListener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                Socket client = new Socket()) {
            CompletableFuture.runAsync(() -> {
                try (Socket upstream = upstreamListener.accept()) {
                    upstream.getInputStream().readAllBytes(); // until the client's FIN, passed on
                    upstream.getOutputStream().write(new byte[48 << 10]); // more than the client's buffers, under the high-water mark
                    upstreamDone.complete(null);
                } catch (IOException e) {
                    upstreamDone.completeExceptionally(e);
                }
            }, runnable -> new Thread(runnable).start());
            Started tunnel = tunnel(listener, accepted, client, upstreamListener, 60_000, 500);

            client.shutdownOutput();

            long closedAfterMillis = TimeUnit.NANOSECONDS.toMillis(tunnel.closedAfterNanos().get(10, TimeUnit.SECONDS));
            upstreamDone.get(5, TimeUnit.SECONDS); // the client's FIN passed on, the answer handed over
            assertThat(tunnel.record().reason()).isEqualTo(io.snigate.core.Reason.HALF_CLOSED_TIMEOUT);
            assertThat(closedAfterMillis).as("not before the half-closed timeout of 500 ms").isGreaterThanOrEqualTo(400L);
        } finally {
            listener.close().sync();
        }
    }

    /**
     * A tunnel cut at the idle timeout while bytes wait for a client that stopped reading resets
     * that client, and counts only what was handed to its socket (failed before: a FIN, and the
     * 48 KiB counted as sent).
     */
    @Test
    void aTunnelCutWithBytesQueuedResetsThatSideAndCountsOnlyWhatWasSent() throws Exception {
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        Channel listener = listener(accepted);
        try (ServerSocket upstreamListener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                Socket client = new Socket()) {
            Upstream upstream = sends48KiBAndWaits(upstreamListener);
            Started tunnel = tunnel(listener, accepted, client, upstreamListener, 500, 0);

            upstream.sent().get(5, TimeUnit.SECONDS);
            tunnel.closedAfterNanos().get(10, TimeUnit.SECONDS);
            upstream.testOver().countDown();
            assertThat(tunnel.record().reason()).isEqualTo(io.snigate.core.Reason.IDLE_TIMEOUT);
            assertThat(tunnel.record().bytesToClient()).as("what the client's socket took, not what was queued")
                    .isLessThan(32 << 10);
            client.setSoTimeout(5_000);
            InputStream in = client.getInputStream();
            byte[] buffer = new byte[4096];
            assertThatThrownBy(() -> {
                while (in.read(buffer) > 0) {
                    // what reached the client before the cut
                }
            }).as("a reset, not the end of the stream").isInstanceOf(SocketException.class).hasMessageContaining("reset");
        } finally {
            listener.close().sync();
        }
    }

    /**
     * A tunnel cut while bytes wait both ways takes each side's off its count once: closing the
     * client fails its queued writes, which closes the tunnel again while the upstream is still
     * open (failed before: the upload's queue taken off twice, the count below zero).
     */
    @Test
    void aTunnelCutWithBytesQueuedBothWaysTakesEachOffItsCountOnce() throws Exception {
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        Channel listener = listener(accepted);
        ServerSocket upstreamListener = new ServerSocket();
        upstreamListener.setReceiveBufferSize(4096); // an upstream that never reads, and holds little
        upstreamListener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
        try (upstreamListener; Socket client = new Socket()) {
            Upstream upstream = sends48KiBAndWaits(upstreamListener);
            Started tunnel = tunnel(listener, accepted, client, upstreamListener, 500, 0);
            CompletableFuture.runAsync(() -> {
                try {
                    byte[] chunk = new byte[64 << 10];
                    for (int i = 0; i < 256; i++) { // at most 16 MiB; blocks long before that
                        client.getOutputStream().write(chunk);
                    }
                } catch (IOException closed) {
                    // the cut, while this write was blocked
                }
            }, runnable -> new Thread(runnable).start());

            upstream.sent().get(5, TimeUnit.SECONDS);
            tunnel.closedAfterNanos().get(10, TimeUnit.SECONDS);
            upstream.testOver().countDown();
            assertThat(tunnel.record().reason()).isEqualTo(io.snigate.core.Reason.IDLE_TIMEOUT);
            assertThat(tunnel.record().bytesToClient()).as("some of the download still queued at the cut")
                    .isBetween(0L, (48L << 10) - 1);
            assertThat(tunnel.record().bytesFromClient()).as("the upload's count").isNotNegative();
        } finally {
            listener.close().sync();
        }
    }

    /**
     * What a cut takes off a count, and what the idle sweep counts as queued, is the bytes the
     * queue still holds: not Netty's pending size, which adds about 96 bytes per entry and keeps a
     * partly written entry's whole size (failed before: 1,692 for 1,100 unsent bytes, about 8 %
     * short on a real cut download; and a slow reader's progress through one entry unseen).
     */
    @Test
    void theBytesACutTakesOffAreThoseItsQueueHoldsUnread() {
        EmbeddedChannel side = new EmbeddedChannel();
        ByteBuf partlyWritten = Unpooled.buffer(1_000).writeZero(1_000);
        side.write(partlyWritten);
        side.write(Unpooled.buffer(500).writeZero(500));
        partlyWritten.readerIndex(400); // as a native transport leaves an entry the kernel took part of

        assertThat(Tunnel.queued(side)).as("nothing flushed yet").isZero();
        side.unsafe().outboundBuffer().addFlush(); // flushed, not written: the embedded channel's write would take it all
        assertThat(Tunnel.queued(side)).as("what the idle sweep counts").isEqualTo(600 + 500);
        partlyWritten.readerIndex(700);
        assertThat(Tunnel.queued(side)).as("a partly written entry's progress shows").isEqualTo(300 + 500);
        assertThat(Tunnel.unsent(side)).isEqualTo(300 + 500);
        side.close();
        assertThat(Tunnel.unsent(side)).as("once closed").isZero();
    }

    /**
     * A bug in the relay ends the whole tunnel as internal_error, with its stack trace (before: as
     * connection_reset, or as a normal close once the client had finished sending).
     */
    @Test
    void aBugInTheRelayEndsTheTunnelAsAnInternalError() {
        PipelineTails.expectInThisClass("after an unexpected error", "a bug in the relay");
        EmbeddedChannel client = new EmbeddedChannel();
        EmbeddedChannel upstream = new EmbeddedChannel();
        ConnectionRecord record = ConnectionRecord.attach(client, "test", (event, connection, nanos) -> { });
        Tunnel tunnel = new Tunnel(client, upstream, record, null, 60_000, 60_000);
        client.pipeline().addLast(new RelayHandler(tunnel));
        upstream.pipeline().addLast(new RelayHandler(tunnel));

        upstream.pipeline().fireExceptionCaught(new IllegalStateException("a bug in the relay"));

        assertThat(record.reason()).isEqualTo(Reason.INTERNAL_ERROR);
        assertThat(client.isOpen()).isFalse();
        assertThat(upstream.isOpen()).isFalse();
    }
}
