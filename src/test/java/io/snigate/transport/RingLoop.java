package io.snigate.transport;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * One io_uring event loop and a {@link RingListener} on loopback for the transport's tests; skipped
 * where io_uring does not work. Both are stopped after each test.
 */
abstract class RingLoop {
    protected MultiThreadIoEventLoopGroup group;
    private RingListener listener;

    @BeforeEach
    void ioUring() {
        String problem = Transport.ioUringProblem();
        assumeTrue(problem == null, () -> "io_uring does not work here: " + problem);
        group = Transport.select("io_uring", () -> null, () -> null).newEventLoopGroup(1);
    }

    @AfterEach
    void stop() {
        if (listener != null) {
            listener.stop();
        }
        if (group != null) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** The listener {@link #listen} made. */
    protected RingListener listener() {
        return listener;
    }

    /** Listens on loopback; {@code initChild} composes each connection's pipeline, as a {@code ChannelInitializer}. */
    protected InetSocketAddress listen(Consumer<SocketChannel> initChild) throws Exception {
        ChannelInitializer<SocketChannel> initializer = new ChannelInitializer<>() {
            @Override
            protected void initChannel(SocketChannel child) {
                initChild.accept(child);
            }
        };
        listener = RingListener.bind((EventLoop) group.next(), new InetSocketAddress("127.0.0.1", 0), 16, false, initializer,
                new AdaptiveRecvByteBufAllocator());
        return listener.address();
    }
}
