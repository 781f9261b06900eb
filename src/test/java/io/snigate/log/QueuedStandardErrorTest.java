package io.snigate.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class QueuedStandardErrorTest {
    @Test
    void linesReachTheStreamWholeAndInOrderAVeryLongOneInPiecesAndAnUnendedLastOneAtTheClose() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String longLine = "x".repeat(70 * 1024);
        try (QueuedStandardError errors = QueuedStandardError.install(out)) {
            System.err.print("first, in ");
            System.err.println("two writes");
            System.err.println("second é");
            System.err.println(longLine);
            System.err.print("last, without a line end");
        }
        // A subsequence: a line another thread logs meanwhile (the test JVM's own logging goes to
        // standard error too) may come between.
        assertThat(out.toString(StandardCharsets.UTF_8).split("\n", -1)).containsSubsequence(
                "first, in two writes", "second é", longLine.substring(0, 64 * 1024), longLine.substring(64 * 1024),
                "last, without a line end", "");
    }

    /**
     * A stream that does not take what is written (a stalled journal's pipe): nothing written to
     * standard error waits for it; past the queue's room, lines are dropped and counted.
     */
    @Test
    void aBlockedStreamHoldsUpNoWriterAndWhatDoesNotFitIsDropped() throws Exception {
        CountDownLatch released = new CountDownLatch(1);
        OutputStream stalled = new OutputStream() {
            @Override
            public void write(int b) {
                await(released);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                await(released);
            }
        };
        try (QueuedStandardError errors = QueuedStandardError.install(stalled)) {
            // On a thread of its own: a writer held up by the stream fails the wait below, it
            // does not hang the test.
            CompletableFuture<Void> written = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 10_000; i++) {
                    System.err.println("line " + i + " " + "y".repeat(100));
                }
            }, runnable -> new Thread(runnable, "writer").start());
            try {
                written.get(60, TimeUnit.SECONDS);
            } finally {
                released.countDown();
            }
            assertThat(errors.dropped()).as("lines past the queue's 4,096").isGreaterThan(5_000);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
