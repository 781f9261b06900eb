package io.snigate.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalServerChannel;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RejectionTest {
    /** An event loop that keeps what was scheduled on it. */
    private static final class RecordingLoop extends DefaultEventLoop {
        final List<ScheduledFuture<?>> scheduled = new CopyOnWriteArrayList<>();

        @Override
        public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            ScheduledFuture<?> task = super.schedule(command, delay, unit);
            scheduled.add(task);
            return task;
        }

        @Override
        public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
            ScheduledFuture<V> task = super.schedule(callable, delay, unit);
            scheduled.add(task);
            return task;
        }
    }

    private final RecordingLoop loop = new RecordingLoop();

    @AfterEach
    void stop() throws InterruptedException {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }

    @Test
    void aRejectedClientThatHangsUpLeavesNoLingerTimerBehind() throws Exception {
        LocalAddress address = new LocalAddress(RejectionTest.class);
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        Channel server = new ServerBootstrap().group(loop).channel(LocalServerChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        accepted.complete(ctx.channel());
                    }
                }).bind(address).sync().channel();
        try {
            Channel client = new Bootstrap().group(loop).channel(LocalChannel.class)
                    .handler(new ChannelInboundHandlerAdapter()).connect(address).sync().channel();
            Channel rejected = accepted.get(5, TimeUnit.SECONDS);

            // A local channel cannot half-close: the rejection closes it once the alert is written.
            loop.submit(() -> Rejection.reject(rejected, Reason.NO_SNI, 0x0303)).get(5, TimeUnit.SECONDS);
            rejected.closeFuture().await(5, TimeUnit.SECONDS);
            client.close().sync();
            loop.submit(() -> { }).get(5, TimeUnit.SECONDS); // the close's listeners have run

            assertThat(loop.scheduled).as("the linger timer").hasSize(1);
            assertThat(loop.scheduled.get(0).isCancelled()).as("cancelled at the close").isTrue();
        } finally {
            server.close().sync();
        }
    }
}
