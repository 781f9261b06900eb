package io.snigate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How a {@link RingListener} hands a connection to the pipeline: the handlers its child handler (a
 * {@code ChannelInitializer}, as the proxy's) adds see every event from registration on, and an
 * initialiser that throws leaves no connection open.
 */
class RingListenerTest extends RingLoop {
    @Test
    void theHandlersAddedOnRegistrationSeeEveryEvent() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        InetSocketAddress address = listen(child -> child.pipeline().addLast("echo", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRegistered(ChannelHandlerContext ctx) {
                events.add("registered");
                ctx.fireChannelRegistered();
            }

            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                events.add("active");
                ctx.fireChannelActive();
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                events.add("read " + ((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                ctx.writeAndFlush(msg);
            }
        }));

        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.setSoTimeout(5_000);
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            assertThat(client.getInputStream().readNBytes(4)).asString(StandardCharsets.US_ASCII).isEqualTo("ping");
        }
        assertThat(events).containsExactly("registered", "active", "read ping");
    }

    /**
     * A connection whose accept completes after the listener was told to stop (the kernel had
     * taken it for the accept in flight before the cancel came) is served: the client is
     * connected, and closing it would refuse it during a restart's hand-over. The race is the
     * kernel's to win, so the completion is handed to the listener as the ring would, with a
     * socket accepted here.
     */
    @Test
    void aConnectionAcceptedAsTheListenerStopsIsServed() throws Exception {
        listen(child -> child.pipeline().addLast("echo", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.writeAndFlush(msg);
            }
        }));
        io.netty.channel.unix.Socket elsewhere = io.netty.channel.unix.Socket.newSocketStream();
        try (Socket client = new Socket()) {
            elsewhere.bind(new InetSocketAddress("127.0.0.1", 0));
            elsewhere.listen(1);
            client.connect(elsewhere.localAddress(), 5_000);
            int accepted = elsewhere.accept(new byte[32]);
            assertThat(accepted).as("a socket accepted").isPositive();
            group.next().submit(() -> {
                listener().close();
                listener().completed(RingListener.ACCEPT, accepted, 0);
            }).get(10, TimeUnit.SECONDS);
            client.setSoTimeout(5_000);
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            assertThat(client.getInputStream().readNBytes(4)).asString(StandardCharsets.US_ASCII).isEqualTo("ping");
        } finally {
            elsewhere.close();
        }
    }

    /**
     * An accepted socket has Nagle's algorithm off, as on Netty's channels: with it on, a relayed
     * answer's second small write waited for the client's delayed ACK, about 40 ms per exchange.
     */
    @Test
    void anAcceptedSocketHasTcpNoDelay() throws Exception {
        CompletableFuture<Boolean> noDelay = new CompletableFuture<>();
        InetSocketAddress address = listen(child -> {
            try {
                noDelay.complete(((io.netty.channel.unix.Socket) ((RingClientChannel) child).fd()).isTcpNoDelay());
            } catch (IOException | RuntimeException e) {
                noDelay.completeExceptionally(e);
            }
        });
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            assertThat(noDelay.get(10, TimeUnit.SECONDS)).as("TCP_NODELAY on the accepted socket").isTrue();
        }
    }

    @Test
    void anInitialiserThatThrowsClosesTheConnection() throws Exception {
        InetSocketAddress address = listen(child -> {
            throw new IllegalStateException("no pipeline today");
        });

        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.setSoTimeout(5_000);
            InputStream in = client.getInputStream();
            assertThat(in.read()).as("end of stream").isEqualTo(-1);
        }
    }
}
