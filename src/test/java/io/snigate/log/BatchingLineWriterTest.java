package io.snigate.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BatchingLineWriterTest {
    @Test
    void writesEveryLineInOrderAndFlushesOnClose() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BatchingLineWriter writer = new BatchingLineWriter(out, 1000, Duration.ofMillis(10));
        for (int i = 0; i < 500; i++) {
            writer.accept("{\"n\":" + i + "}");
        }
        writer.close();
        String[] lines = out.toString(StandardCharsets.UTF_8).split("\n");
        assertThat(lines).hasSize(500);
        assertThat(lines[0]).isEqualTo("{\"n\":0}");
        assertThat(lines[499]).isEqualTo("{\"n\":499}");
        assertThat(writer.dropped()).isZero();
    }

    @Test
    void everyLineOfSeveralEventLoopsIsWrittenOnceOrCountedAsDropped() throws Exception {
        // Several event loops offer at once; the queue has room for fewer lines than they send,
        // so some are dropped: every line must be written whole exactly once or counted.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BatchingLineWriter writer = new BatchingLineWriter(out, 256, Duration.ofMillis(1));
        int loops = 4;
        int linesEach = 20_000;
        CountDownLatch start = new CountDownLatch(1);
        Thread[] producers = new Thread[loops];
        for (int t = 0; t < loops; t++) {
            int loop = t;
            producers[t] = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < linesEach; i++) {
                    writer.accept(loop + ":" + i);
                }
            });
            producers[t].start();
        }
        start.countDown();
        for (Thread producer : producers) {
            producer.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(producer.isAlive()).as("a producer is still offering after 30 s").isFalse();
        }
        writer.close();
        String[] lines = out.toString(StandardCharsets.UTF_8).split("\n");
        Set<String> distinct = new HashSet<>();
        for (String line : lines) {
            assertThat(line).matches("[0-3]:[0-9]+");
            assertThat(distinct.add(line)).as("written twice: %s", line).isTrue();
        }
        assertThat(lines.length + writer.dropped()).isEqualTo((long) loops * linesEach);
    }

    @Test
    void linesOfferedWhileTheWriterFlushesAreWrittenBeforeItStops() throws Exception {
        // The writer finds the queue empty and flushes; lines come in and close() is called
        // while that flush lasts. The writer must not take the close for "nothing left".
        CountDownLatch flushing = new CountDownLatch(1);
        CountDownLatch finishFlush = new CountDownLatch(1);
        ByteArrayOutputStream out = new ByteArrayOutputStream() {
            @Override
            public void flush() {
                if (flushing.getCount() > 0) {
                    hold(flushing, finishFlush);
                }
            }
        };
        BatchingLineWriter writer = new BatchingLineWriter(out, 16, Duration.ofMillis(1));
        assertThat(flushing.await(10, TimeUnit.SECONDS)).as("the writer's first flush").isTrue();
        for (int i = 0; i < 10; i++) {
            writer.accept("line " + i);
        }
        AtomicReference<Throwable> closeFailed = new AtomicReference<>();
        Thread closer = new Thread(() -> {
            try {
                writer.close();
            } catch (Throwable e) {
                closeFailed.set(e);
            }
        });
        closer.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (closer.getState() != Thread.State.TIMED_WAITING && System.nanoTime() < deadline) {
            Thread.onSpinWait(); // until close() has said it is closing and waits for the writer
        }
        assertThat(closer.getState()).as("close() waiting for the writer").isEqualTo(Thread.State.TIMED_WAITING);
        finishFlush.countDown();
        closer.join(TimeUnit.SECONDS.toMillis(10));
        assertThat(closer.isAlive()).as("close() returned").isFalse();
        assertThat(closeFailed.get()).isNull();
        assertThat(out.toString(StandardCharsets.UTF_8).split("\n"))
                .containsExactly("line 0", "line 1", "line 2", "line 3", "line 4",
                        "line 5", "line 6", "line 7", "line 8", "line 9");
        assertThat(writer.dropped()).isZero();
    }

    @Test
    void dropsAndCountsLinesWhenTheWriterCannotKeepUpInsteadOfBlocking() throws Exception {
        CountDownLatch writerStuck = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        OutputStream blocked = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                hold(writerStuck, release);
            }
        };
        BatchingLineWriter writer = new BatchingLineWriter(blocked, 16, Duration.ofMillis(1));
        writer.accept("first");
        assertThat(writerStuck.await(5, TimeUnit.SECONDS)).as("the writer is stuck in the stream").isTrue();
        for (int i = 0; i < 100; i++) {
            writer.accept("line " + i); // returns at once, whatever the stream does
        }
        // The queue holds 16 while the writer is stuck: the other 84 are dropped and counted.
        assertThat(writer.dropped()).isEqualTo(84);
        release.countDown();
        writer.close();
    }

    /** Tells the test the writer is in the stream, then keeps it there until {@code release}. */
    private static void hold(CountDownLatch entered, CountDownLatch release) {
        entered.countDown();
        try {
            release.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
