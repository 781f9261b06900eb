package io.snigate.core;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalServerChannel;
import io.netty.util.concurrent.ScheduledFuture;
import io.snigate.testing.PipelineTails;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

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
            assertThat(rejected.closeFuture().await(5, TimeUnit.SECONDS)).as("closed by the rejection").isTrue();
            client.close().sync();
            loop.submit(() -> { }).get(5, TimeUnit.SECONDS); // the close's listeners have run

            assertThat(loop.scheduled).as("the linger timer").hasSize(1);
            assertThat(loop.scheduled.get(0).isCancelled()).as("cancelled at the close").isTrue();
        } finally {
            server.close().sync();
        }
    }

    /**
     * An error while a rejected client lingers closes it: an I/O error (the client leaving) without
     * a word, a bug with its stack trace (failed: dropped without a word).
     */
    @Test
    void anErrorWhileLingeringClosesAndABugIsSaid() {
        PipelineTails.expectInThisClass("closing rejected", "a bug");
        Logger rejectionLog = (Logger) LoggerFactory.getLogger(Rejection.class);
        ListAppender<ILoggingEvent> said = new ListAppender<>();
        said.start();
        rejectionLog.addAppender(said);
        try {
            EmbeddedChannel reset = new EmbeddedChannel(new Rejection.LingeringClose());
            reset.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
            assertThat(reset.isOpen()).isFalse();
            assertThat(said.list).as("a reset: the client leaving").isEmpty();

            EmbeddedChannel bug = new EmbeddedChannel(new Rejection.LingeringClose());
            bug.pipeline().fireExceptionCaught(new IllegalStateException("a bug"));
            assertThat(bug.isOpen()).isFalse();
            assertThat(said.list).singleElement().satisfies(event -> {
                assertThat(event.getFormattedMessage()).endsWith("after an unexpected error");
                assertThat(event.getThrowableProxy().getMessage()).isEqualTo("a bug");
            });
        } finally {
            rejectionLog.detachAppender(said);
        }
    }
}
