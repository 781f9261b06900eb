package io.snigate.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.PipelineTails;
import io.snigate.transport.RingSocket;
import io.snigate.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A {@link RelaySocket}'s last bytes and FIN, on a real io_uring loop and a loopback connection to
 * a plain socket (the peer): a FIN that is already there when the last bytes are received reaches
 * the listener with them, and bytes followed by FIN are sent by system calls before the loop's
 * next turn when nothing is queued, behind what is queued otherwise; a FIN to a peer that has
 * reset ends as a failed send, and a listener that throws hears of a failed read. Skipped where
 * io_uring does not work (CI's epoll pass), as the relay sockets are io_uring's.
 */
@ExtendWith(NettyLeaks.class)
class RelaySocketTest {
    private final List<String> heard = new CopyOnWriteArrayList<>();
    private volatile boolean listenerThrows;
    private volatile boolean noMemory;
    private EventLoopGroup group;
    private EventLoop loop;
    private ServerSocketChannel server;
    private UpstreamSocket socket;
    private SocketChannel peer;

    @BeforeEach
    void connect() throws Exception {
        group = Transport.select().newEventLoopGroup(1);
        loop = group.next();
        assumeTrue(RingSocket.usableOn(loop), "io_uring is not the transport here");
        server = ServerSocketChannel.open();
        server.setOption(StandardSocketOptions.SO_RCVBUF, 4096); // the peer's buffer fills quickly
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        InetSocketAddress address = (InetSocketAddress) server.getLocalAddress();
        CompletableFuture<UpstreamSocket> connected = new CompletableFuture<>();
        loop.execute(() -> UpstreamSocket.connect(loop, address, 0, connected::complete, connected::completeExceptionally));
        socket = connected.get(5, TimeUnit.SECONDS);
        peer = server.accept();
        onLoop(() -> {
            socket.startRelay(new Recorder());
            return null;
        });
    }

    @AfterEach
    void close() throws Exception {
        if (socket != null) {
            CompletableFuture<Void> released = new CompletableFuture<>();
            onLoop(() -> {
                socket.close();
                socket.whenClosed(() -> released.complete(null));
                return null;
            });
            released.get(5, TimeUnit.SECONDS);
        }
        if (peer != null) {
            peer.close();
        }
        if (server != null) {
            server.close();
        }
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void aFinAlreadyThereReachesTheListenerWithTheBytesBeforeIt() throws Exception {
        peer.write(ascii("last words"));
        peer.shutdownOutput(); // on loopback the FIN is there once this returns
        onLoop(() -> {
            socket.read();
            return null;
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> !heard.isEmpty());
        assertThat(heard).containsExactly("last bytes: last words");
    }

    @Test
    void bytesWithoutAFinAreJustBytesAndTheFinComesOnItsOwn() throws Exception {
        peer.write(ascii("some"));
        onLoop(() -> {
            socket.read();
            return null;
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> !heard.isEmpty());
        peer.shutdownOutput();
        onLoop(() -> {
            socket.read();
            return null;
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> heard.size() == 2);
        assertThat(heard).containsExactly("bytes: some", "done sending");
    }

    @Test
    void withNothingQueuedTheBytesAndTheFinAreSentBeforeTheLoopsNextTurn() throws Exception {
        peer.configureBlocking(false);
        // Sent and read within one task on the loop: the ring, which submits only between tasks,
        // has no part in it.
        String got = onLoop(() -> {
            socket.writeAndShutdown(direct("answer"));
            return readUntilEnd(peer, Duration.ofSeconds(5));
        });
        assertThat(got).isEqualTo("answer<FIN>");
        assertThat(heard).isEmpty();
    }

    @Test
    void bytesTheSocketCannotTakeAreQueuedAndTheFinFollowsThem() throws Exception {
        long filled = onLoop(() -> {
            ByteBuf filler = ByteBufAllocator.DEFAULT.directBuffer(64 * 1024).writeZero(64 * 1024);
            try {
                long sent = 0;
                for (int written; sent < 64L << 20
                        && (written = socket.socket().sendAddress(filler.memoryAddress(), 0, filler.capacity())) > 0; ) {
                    sent += written;
                }
                socket.writeAndShutdown(direct("tail"));
                return sent;
            } finally {
                filler.release();
            }
        });
        assertThat(filled).as("bytes the socket took before it refused more").isBetween(1L, (64L << 20) - 1);
        byte[] all = readAll(peer);
        assertThat(all.length).isEqualTo(filled + 4);
        assertThat(new String(all, all.length - 4, 4, StandardCharsets.US_ASCII)).isEqualTo("tail");
        assertThat(heard).isEmpty();
    }

    /**
     * Once a backlog drains below the low-water mark the other side is read again, into up to a
     * megabyte: what is left of a large queued buffer is moved to one of its size first (failed
     * before: the whole megabyte stayed pinned beside the next read's).
     */
    @Test
    void whatIsLeftOfALargeBufferIsMovedToASmallOneBeforeTheNextRead() throws Exception {
        UnpooledByteBufAllocator counted = new UnpooledByteBufAllocator(true);
        onLoop(() -> {
            socket.socket().setSendBufferSize(4096); // fixed: the kernel takes the queue a little at a time
            ByteBuf filler = ByteBufAllocator.DEFAULT.directBuffer(64 * 1024).writeZero(64 * 1024);
            try {
                for (long sent = 0; sent < 64L << 20
                        && socket.socket().sendAddress(filler.memoryAddress(), 0, filler.capacity()) > 0; ) {
                    sent += filler.capacity(); // the kernel's buffers full: what follows is queued
                }
            } finally {
                filler.release();
            }
            socket.write(counted.directBuffer(1 << 20).writeZero(900 * 1024));
            return null;
        });
        assertThat(counted.metric().usedDirectMemory()).isEqualTo(1 << 20);
        ByteBuffer into = ByteBuffer.allocate(4096);
        int queued = onLoop(socket::queued);
        for (long deadline = System.nanoTime() + 30_000_000_000L; queued >= RelaySocket.LOW_WATER || queued == 0; ) {
            assertThat(queued).as("the queue drained below the low-water mark without emptying").isPositive();
            assertThat(System.nanoTime()).isLessThan(deadline);
            into.clear();
            peer.read(into);
            queued = onLoop(socket::queued);
        }
        assertThat(counted.metric().usedDirectMemory()).as("held for %d queued bytes", queued)
                .isLessThan(RelaySocket.LOW_WATER);
        assertThat(heard).as("told once, below the low-water mark").containsExactly("writable");
    }

    @Test
    void aFinToAPeerThatHasResetEndsAsAFailedSend() throws Exception {
        peer.setOption(StandardSocketOptions.SO_LINGER, 0);
        peer.close(); // on loopback the reset is there once this returns: shutdown(2) answers ENOTCONN
        peer = null;
        onLoop(() -> {
            socket.shutdownOutput();
            return null;
        });
        assertThat(heard).containsExactly("failed, sending: true");
    }

    /** A bug in the listener is heard as such, so that the tunnel ends as internal_error (before: as a reset). */
    @Test
    void aListenerThatThrowsOnBytesHearsItThrew() throws Exception {
        PipelineTails.expectInThisClass("threw; closing the socket", "a bug in the listener");
        listenerThrows = true;
        peer.write(ascii("bytes a listener chokes on"));
        onLoop(() -> {
            socket.read();
            return null;
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> !heard.isEmpty());
        assertThat(heard).containsExactly("threw: a bug in the listener");
    }

    @Test
    void noMemoryForARead() throws Exception {
        noMemory = true;
        peer.write(ascii("bytes with no buffer to land in"));
        onLoop(() -> {
            socket.read();
            return null;
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> !heard.isEmpty());
        assertThat(heard).containsExactly("out of memory");
    }

    /** Runs {@code task} on the loop and returns its result; what it throws is thrown here. */
    private <T> T onLoop(Callable<T> task) throws Exception {
        return loop.submit(task).get(30, TimeUnit.SECONDS);
    }

    private static ByteBuffer ascii(String text) {
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
    }

    private static ByteBuf direct(String text) {
        return ByteBufAllocator.DEFAULT.directBuffer().writeBytes(text.getBytes(StandardCharsets.US_ASCII));
    }

    /** What a non-blocking {@code channel} has until its peer's FIN ("<FIN>"), or until {@code limit} passes. */
    private static String readUntilEnd(SocketChannel channel, Duration limit) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(256);
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            int n = channel.read(buffer.clear());
            if (n < 0) {
                return got.toString(StandardCharsets.US_ASCII) + "<FIN>";
            }
            got.write(buffer.array(), 0, n);
            if (n == 0) {
                Thread.onSpinWait();
            }
        }
        return got.toString(StandardCharsets.US_ASCII);
    }

    /** Everything a blocking {@code channel} receives until its peer's FIN. */
    private static byte[] readAll(SocketChannel channel) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        for (int n; (n = channel.read(buffer.clear())) >= 0; ) {
            got.write(buffer.array(), 0, n);
        }
        return got.toByteArray();
    }

    /** Records what the socket tells its listener; reads into small direct buffers. */
    private final class Recorder implements RelayListener {
        @Override
        public ByteBuf readBuffer(RelaySocket from) {
            if (noMemory) {
                throw new OutOfMemoryError("Cannot reserve 2048 bytes of direct buffer memory (a test's)");
            }
            return ByteBufAllocator.DEFAULT.directBuffer(2048);
        }

        @Override
        public void threw(RelaySocket from, Throwable thrown) {
            heard.add(thrown instanceof OutOfMemoryError ? "out of memory" : "threw: " + thrown.getMessage());
        }

        @Override
        public void bytesRead(RelaySocket from, ByteBuf bytes) {
            if (listenerThrows) {
                bytes.release();
                throw new IllegalStateException("a bug in the listener");
            }
            heard.add("bytes: " + consumed(bytes));
        }

        @Override
        public void lastBytesRead(RelaySocket from, ByteBuf bytes) {
            heard.add("last bytes: " + consumed(bytes));
        }

        @Override
        public void doneSending(RelaySocket from) {
            heard.add("done sending");
        }

        @Override
        public void failed(RelaySocket from, boolean sending, boolean peerClosedFirst) {
            heard.add("failed, sending: " + sending);
        }

        @Override
        public void writable(RelaySocket from) {
            heard.add("writable");
        }

        private String consumed(ByteBuf bytes) {
            try {
                return bytes.toString(StandardCharsets.US_ASCII);
            } finally {
                bytes.release();
            }
        }
    }
}
