package io.snigate.listen;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.snigate.transport.EventLoops;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Stopping the proxy's event loops is bounded: a loop stuck in a task does not hold the proxy up. */
class ProxyServerStopTest {

    @Test
    void aLoopStuckInATaskIsLeftAfterTheWait() throws Exception {
        EventLoopGroup loops = new DefaultEventLoopGroup(1);
        CountDownLatch stuck = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        loops.execute(() -> {
            stuck.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            assertTrue(stuck.await(5, TimeUnit.SECONDS), "the task did not start");
            long started = System.nanoTime();
            assertFalse(EventLoops.stop(loops, "test", Duration.ofMillis(300)), "a stuck loop reported as stopped");
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(tookMillis < 5_000, "stop waited " + tookMillis + " ms for a 300 ms bound");
        } finally {
            release.countDown();
        }
        assertTrue(loops.terminationFuture().await(5, TimeUnit.SECONDS), "the loop did not stop once released");
    }

    @Test
    void idleLoopsStopWithinTheWait() {
        assertTrue(EventLoops.stop(new DefaultEventLoopGroup(2), "test", Duration.ofSeconds(10)));
    }
}
