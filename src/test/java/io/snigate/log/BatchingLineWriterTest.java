package io.snigate.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
                writerStuck.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
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
}
