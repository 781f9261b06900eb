package io.snigate.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.snigate.testing.NettyLeaks;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The admin endpoint under clients that misbehave: one that pipelines scrapes and reads nothing
 * does not keep the probes on other connections from their answers, and a request Netty cannot
 * decode gets a 400 and a close.
 */
@ExtendWith(NettyLeaks.class)
class AdminServerTest {
    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private Channel admin;
    private InetSocketAddress address;

    @BeforeEach
    void start() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        for (int i = 0; i < 200; i++) { // a scrape of some size, as a proxy with routes has
            registry.counter("test_counter_" + i, "route", "route" + i).increment();
        }
        admin = new AdminServer(registry, () -> true).bind(loop, NioServerSocketChannel.class,
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        address = (InetSocketAddress) admin.localAddress();
    }

    @AfterEach
    void stop() throws InterruptedException {
        admin.close().sync();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }

    @Test
    void pipelinedScrapesThatAreNeverReadLeaveTheProbesTheirAnswers() throws Exception {
        try (Socket greedy = new Socket()) {
            greedy.setReceiveBufferSize(4096); // and it never reads
            greedy.connect(address);
            byte[] scrape = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
            OutputStream out = greedy.getOutputStream();
            for (int i = 0; i < 20_000; i++) {
                out.write(scrape);
            }
            long started = System.nanoTime();
            assertThat(get("/healthz")).startsWith("HTTP/1.1 200 OK").endsWith("ok\n");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started))
                    .as("a probe behind 20,000 pipelined scrapes").isLessThan(2_000);
        }
    }

    @Test
    void aRequestThatCannotBeDecodedGetsABadRequestAndAClose() throws Exception {
        String response = send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Long: " + "a".repeat(9000) + "\r\n\r\n");
        assertThat(response).startsWith("HTTP/1.1 400 Bad Request");
    }

    private String get(String path) throws Exception {
        return send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    }

    /** Sends {@code request} and reads until the endpoint closes. */
    private String send(String request) throws Exception {
        try (Socket socket = new Socket()) {
            socket.setSoTimeout(10_000);
            socket.connect(address);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }
}
