package io.snigate.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.socket.SocketChannel;
import io.snigate.testing.PipelineTails;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.NotYetConnectedException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * {@link RingClientChannel#handOver}: the channel gives its socket and its place on the ring to a
 * {@link RingSocket}, which from then on hears every completion for the socket and nothing of the
 * channel's own (the cancel of its last read included), and keeps the socket when the channel is
 * closed; a channel closed first hands nothing over and closes its socket. A channel closed while
 * a send is in flight keeps that send's buffer until its completion, and a read waiting for an idle
 * client holds a small buffer. A FIN to a client that
 * has reset fails its future rather than throwing; a socket whose completion throws is closed.
 */
class RingClientChannelTest extends RingLoop {
    /** What the handler and the echo socket saw that they should not have, on the event loop. */
    private final List<String> problems = new CopyOnWriteArrayList<>();
    private final List<String> channelReads = new CopyOnWriteArrayList<>();

    /**
     * Listens; on each connection, once the channel is active and reading (a read in flight, since
     * the client has sent nothing), {@code whenActive} runs on the event loop.
     */
    private InetSocketAddress listenHandingOver(Consumer<RingClientChannel> whenActive) throws Exception {
        return listen(child -> child.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                ctx.fireChannelActive();
                // Auto-read submits the channel's first read once the event has passed
                // the whole pipeline: the task after it finds the read in flight.
                ctx.channel().eventLoop().execute(() -> {
                    ctx.channel().config().setAutoRead(false);
                    whenActive.accept((RingClientChannel) ctx.channel());
                });
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf bytes = (ByteBuf) msg;
                channelReads.add(bytes.toString(StandardCharsets.US_ASCII));
                bytes.release();
            }
        }));
    }

    /** Hands each connection over to an {@link Echo}, which {@code echoes} gets; then {@code then} runs. */
    private InetSocketAddress listenHandingOverToEcho(CompletableFuture<Echo> echoes,
            BiConsumer<RingClientChannel, Echo> then) throws Exception {
        return listenHandingOver(channel -> {
            Echo echo = new Echo(channel);
            echoes.complete(echo);
            channel.handOver(echo);
            then.accept(channel, echo);
        });
    }

    @Test
    void theSocketTakingOverAfterAReadInFlightHearsOnlyItsOwnCompletions() throws Exception {
        CompletableFuture<Echo> echoes = new CompletableFuture<>();
        InetSocketAddress address = listenHandingOverToEcho(echoes, (channel, echo) -> {});

        Echo echo;
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.setSoTimeout(5_000);
            echo = echoes.get(5, TimeUnit.SECONDS);
            echo.ready.get(5, TimeUnit.SECONDS);
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            assertThat(client.getInputStream().readNBytes(4)).asString(StandardCharsets.US_ASCII).isEqualTo("ping");
            client.shutdownOutput();
            assertThat(client.getInputStream().read()).as("closed by the socket that took over").isEqualTo(-1);
        }
        echo.released.get(5, TimeUnit.SECONDS);
        assertThat(channelReads).as("the channel's read was cancelled before anything came").isEmpty();
        assertThat(problems).isEmpty();
    }

    @Test
    void theChannelClosedAfterTheHandOverLeavesTheSocketToItsNewOwner() throws Exception {
        CompletableFuture<Echo> echoes = new CompletableFuture<>();
        CompletableFuture<Boolean> channelClosed = new CompletableFuture<>();
        InetSocketAddress address = listenHandingOverToEcho(echoes, (channel, echo) ->
                echo.ready.thenRun(() -> channel.close().addListener(closed -> channelClosed.complete(closed.isSuccess()))));

        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.setSoTimeout(5_000);
            assertThat(channelClosed.get(5, TimeUnit.SECONDS)).isTrue();
            client.getOutputStream().write("pong".getBytes(StandardCharsets.US_ASCII));
            assertThat(client.getInputStream().readNBytes(4)).asString(StandardCharsets.US_ASCII).isEqualTo("pong");
        }
        echoes.get().released.get(5, TimeUnit.SECONDS);
        assertThat(problems).isEmpty();
    }

    @Test
    void aChannelClosedBeforeItsReadCompletesHandsNothingOver() throws Exception {
        CompletableFuture<Echo> echoes = new CompletableFuture<>();
        // The hand-over waits for the read in flight to complete; the close comes first.
        InetSocketAddress address = listenHandingOverToEcho(echoes, (channel, echo) -> channel.close());

        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.setSoTimeout(5_000);
            assertThat(client.getInputStream().read()).as("closed by the channel").isEqualTo(-1);
        }
        // A hand-over would run on the channel's last completions (its read, cancelled, and the
        // cancel), which come within a loop turn or two: none may come in half a second.
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2))
                .until(() -> !echoes.get().ready.isDone());
        assertThat(problems).isEmpty();
    }

    @Test
    void aSendInFlightKeepsItsBufferUntilItsCompletionWhenTheChannelClosesFirst() throws Exception {
        CompletableFuture<SocketChannel> channels = new CompletableFuture<>();
        InetSocketAddress address = listen(child -> {
            child.config().setAutoRead(false);
            channels.complete(child);
        });
        try (Socket client = new Socket()) {
            client.setReceiveBufferSize(4096); // and never reads: the send waits for room
            client.connect(address);
            SocketChannel channel = channels.get(5, TimeUnit.SECONDS);
            int size = 16 << 20; // more than loopback's socket buffers take
            ByteBuf bytes = Unpooled.directBuffer(size).writeZero(size);
            channel.eventLoop().submit(() -> channel.writeAndFlush(bytes)).get(5, TimeUnit.SECONDS);
            int heldAfterClose = channel.eventLoop().submit(() -> {
                channel.close();
                return bytes.refCnt();
            }).get(5, TimeUnit.SECONDS);
            assertThat(heldAfterClose).as("the kernel may still read it: held by the send in flight").isEqualTo(1);
            // Released once the cancelled send has completed.
            await().atMost(Duration.ofSeconds(5)).until(() -> channel.eventLoop().submit(bytes::refCnt).get() == 0);
        }
    }

    @Test
    void aReadWaitingForAnIdleClientHoldsASmallBufferWhateverTheGuess() throws Exception {
        List<Integer> allocated = new CopyOnWriteArrayList<>();
        ByteBufAllocator recording = new AbstractByteBufAllocator(true) {
            @Override
            protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
                return UnpooledByteBufAllocator.DEFAULT.heapBuffer(initialCapacity, maxCapacity);
            }

            @Override
            protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
                allocated.add(initialCapacity);
                return UnpooledByteBufAllocator.DEFAULT.directBuffer(initialCapacity, maxCapacity);
            }

            @Override
            public boolean isDirectBufferPooled() {
                return false;
            }
        };
        InetSocketAddress address = listen(child -> {
            child.config().setAllocator(recording);
            // A guess grown as on a large transfer: a read sized by it would be 1 MiB.
            child.config().setRecvByteBufAllocator(new FixedRecvByteBufAllocator(1 << 20));
            child.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    channelReads.add(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                    ((ByteBuf) msg).release();
                }
            });
        });
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            // The first read, then the one waiting for more.
            await().atMost(Duration.ofSeconds(5)).until(() -> !channelReads.isEmpty() && allocated.size() >= 2);
        }
        assertThat(channelReads).containsExactly("ping");
        assertThat(allocated).allMatch(capacity -> capacity <= 2048);
    }

    @Test
    void aFinToAClientThatHasResetFailsItsFutureAndThrowsNothing() throws Exception {
        CompletableFuture<SocketChannel> channels = new CompletableFuture<>();
        InetSocketAddress address = listen(child -> {
            child.config().setAutoRead(false); // no read in flight: the reset alone does not close the channel
            channels.complete(child);
        });
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            SocketChannel channel = channels.get(5, TimeUnit.SECONDS);
            client.setSoLinger(true, 0);
            client.close(); // on loopback the reset is there once this returns: shutdown(2) answers ENOTCONN
            ChannelFuture shut = channel.eventLoop().submit(() -> channel.shutdownOutput()).get(5, TimeUnit.SECONDS);
            assertThat(shut.cause()).isInstanceOf(NotYetConnectedException.class);
        }
    }

    @Test
    void aCompletionThatThrowsClosesItsSocket() throws Exception {
        PipelineTails.expectInThisClass("threw; closing the socket", "a bug in a completion");
        CompletableFuture<Echo> echoes = new CompletableFuture<>();
        InetSocketAddress address = listenHandingOver(channel -> {
            Echo faulty = new Echo(channel) {
                @Override
                protected void completed(short tag, int res, int flags) {
                    throw new IllegalStateException("a bug in a completion");
                }
            };
            echoes.complete(faulty);
            channel.handOver(faulty);
        });
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.setSoTimeout(5_000);
            echoes.get(5, TimeUnit.SECONDS).ready.get(5, TimeUnit.SECONDS);
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            assertThat(client.getInputStream().read()).as("closed by the socket whose completion threw").isEqualTo(-1);
        }
        echoes.get().released.get(5, TimeUnit.SECONDS);
    }

    /** Echoes what it receives on the socket it took over; closes at the client's FIN. */
    private class Echo extends RingSocket {
        private static final short RECV = 16, SEND = 17; // apart from the channel's own tags
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        final CompletableFuture<Void> released = new CompletableFuture<>();
        private ByteBuf buffer;

        Echo(RingClientChannel channel) {
            super(channel.fd().intValue());
        }

        private void receive() {
            buffer = Unpooled.directBuffer(64);
            submit(RingOps.recv(fd, buffer, RECV));
        }

        @Override
        protected void ringReady() {
            receive();
            ready.complete(null);
        }

        @Override
        protected void ringRefused(Throwable cause) {
            problems.add("refused: " + cause);
        }

        @Override
        protected void completed(short tag, int res, int flags) {
            if (tag == RECV && res > 0) {
                buffer.writerIndex(res);
                submit(RingOps.send(fd, buffer, SEND));
            } else if (tag == RECV) {
                buffer.release();
                buffer = null;
                close();
            } else if (tag == SEND && res > 0) {
                buffer.release();
                receive();
            } else {
                problems.add("completion tagged " + tag + " with " + res);
            }
        }

        @Override
        protected void cancelInFlight() {}

        @Override
        protected void released() {
            if (buffer != null) {
                buffer.release();
            }
            released.complete(null);
        }
    }
}
