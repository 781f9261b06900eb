package io.snigate.listen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.transport.EventLoops;
import io.snigate.transport.Transport;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Stopping the proxy's event loops is bounded: a loop stuck in a task does not hold the proxy up.
 * A worker loop that ended while the proxy runs turns {@code /healthz} to 503.
 */
class ProxyServerStopTest {

    @Test
    void aWorkerLoopThatEndedTurnsHealthzTo503() throws Exception {
        ProxyConfig config = ConfigLoader.parse("""
                listen: "127.0.0.1:0"
                admin: "127.0.0.1:0"
                default: "127.0.0.1:9"
                """, "routes.yaml");
        HttpClient http = HttpClient.newHttpClient();
        try (ProxyServer server = new ProxyServer(config, new ProxyMetrics(), line -> {}, Transport.select()).start()) {
            URI healthz = URI.create("http://127.0.0.1:" + server.adminAddress().getPort() + "/healthz");
            assertEquals(200, http.send(HttpRequest.newBuilder(healthz).build(), BodyHandlers.ofString()).statusCode());
            EventExecutor loop = server.workers().next();
            assertTrue(loop.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS), "the loop did not end");
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(healthz).build(), BodyHandlers.ofString());
            assertEquals(503, answer.statusCode());
            assertEquals("an event loop has stopped\n", answer.body());
        }
    }

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
