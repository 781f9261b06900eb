package io.snigate.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.PipelineNames;
import io.snigate.testing.NettyLeaks;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
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

    @Test
    void aClientThatSentFinAndStopsReadingIsClosedAtTheHalfClosedTimeoutAfterTheUpstreamLeft() throws Exception {
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        Channel listener = new ServerBootstrap().group(loop).channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.SO_SNDBUF, 4096) // a client side whose kernel buffer is full at once
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
        CompletableFuture<Long> closedAfterNanos = new CompletableFuture<>();
        try (ServerSocket upstreamListener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                Socket client = new Socket()) {
            CompletableFuture.runAsync(() -> {
                try (Socket upstream = upstreamListener.accept()) {
                    upstream.getInputStream().readAllBytes(); // until the client's FIN, passed on
                    upstream.getOutputStream().write(new byte[48 << 10]); // more than the client's buffers, under the high-water mark
                } catch (IOException e) {
                    closedAfterNanos.completeExceptionally(e);
                }
            }, runnable -> new Thread(runnable).start());
            client.setReceiveBufferSize(4096); // and it never reads
            client.connect(listener.localAddress());
            Channel clientSide = accepted.get(5, TimeUnit.SECONDS);
            Channel upstreamSide = new Bootstrap().group(loop).channel(NioSocketChannel.class)
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
            clientSide.eventLoop().submit(() -> {
                ConnectionRecord record = ConnectionRecord.attach(clientSide, "test", (event, connection, nanos) -> {
                    if (event == ConnectionEvent.CLOSED) {
                        closedAfterNanos.complete(System.nanoTime() - started);
                    }
                });
                Relay.start(clientSide, new UpstreamLink.OfChannel(upstreamSide), record, null, 60_000, 500);
            }).get(5, TimeUnit.SECONDS);

            client.shutdownOutput();

            long closedAfterMillis = TimeUnit.NANOSECONDS.toMillis(closedAfterNanos.get(10, TimeUnit.SECONDS));
            assertThat(closedAfterMillis).as("closed by the half-closed timeout of 500 ms").isBetween(400L, 5_000L);
        } finally {
            listener.close().sync();
        }
    }
}
