package io.snigate.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
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
        CountDownLatch stuck = new CountDownLatch(1);
        OutputStream blocked = new OutputStream() {
            @Override
            public void write(int b) {
                try {
                    stuck.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        BatchingLineWriter writer = new BatchingLineWriter(blocked, 10, Duration.ofMillis(1));
        for (int i = 0; i < 100; i++) {
            writer.accept("line " + i); // returns at once, whatever the stream does
        }
        // At most the queue's 10 lines and the one being written are kept.
        await().atMost(Duration.ofSeconds(5)).until(() -> writer.dropped() >= 89);
        stuck.countDown();
        writer.close();
    }
}
