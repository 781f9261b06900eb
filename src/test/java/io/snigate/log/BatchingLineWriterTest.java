package io.snigate.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
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

    /**
     * The stream gets whole lines in each write, at most 64 KiB a call, and a line longer than that
     * in a call of its own: where standard output and error are one stream (a systemd journal), a
     * write of the other writer can then never land inside a line. (Failed before: writes of
     * 8,192 bytes that ended in the middle of a line.)
     */
    @Test
    void theStreamGetsWholeLinesInEachWrite() throws Exception {
        List<byte[]> writes = new CopyOnWriteArrayList<>();
        OutputStream recording = new OutputStream() {
            @Override
            public void write(int b) {
                writes.add(new byte[] {(byte) b});
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                writes.add(Arrays.copyOfRange(bytes, offset, offset + length));
            }
        };
        BatchingLineWriter writer = new BatchingLineWriter(recording, 4096, Duration.ofSeconds(1));
        String line = "{\"sni\":\"" + "x".repeat(500) + "\"}";
        String unicode = "über " + "y".repeat(300);
        String huge = "z".repeat(100_000);
        for (int i = 0; i < 300; i++) {
            writer.accept(i == 150 ? unicode : i == 200 ? huge : line);
        }
        writer.close();
        StringBuilder all = new StringBuilder();
        for (byte[] write : writes) {
            assertThat(write[write.length - 1]).as("a write that ends a line").isEqualTo((byte) '\n');
            if (write.length > BatchingLineWriter.BATCH_BYTES) {
                assertThat(write.length).as("the one line longer than a batch, alone").isEqualTo(huge.length() + 1);
            }
            all.append(new String(write, StandardCharsets.UTF_8));
        }
        assertThat(writes.size()).as("batched, not a write per line").isLessThan(20);
        String[] lines = all.toString().split("\n");
        assertThat(lines).hasSize(300);
        assertThat(lines[150]).isEqualTo(unicode);
        assertThat(lines[200]).isEqualTo(huge);
        assertThat(lines[299]).isEqualTo(line);
    }

    /** A write the stream refuses loses every line in it, and each is counted. (Failed before: one.) */
    @Test
    void everyLineOfARefusedWriteIsCountedAsDropped() throws Exception {
        OutputStream refusing = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("Broken pipe");
            }

            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                throw new IOException("Broken pipe");
            }
        };
        BatchingLineWriter writer = new BatchingLineWriter(refusing, 1024, Duration.ofSeconds(10));
        for (int i = 0; i < 100; i++) {
            writer.accept("line " + i);
        }
        writer.close();
        assertThat(writer.dropped()).isEqualTo(100);
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
