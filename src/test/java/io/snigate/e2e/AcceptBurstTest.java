package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.SinkServer;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A burst of connections, each with its ClientHello already sent, must not look like a slowloris
 * attack: the proxy reads the hellos of what it accepted before it accepts far more, so the
 * connections in pre-read stay well under the budget. (With Netty's multishot accept on io_uring,
 * one pass of the event loop accepted the whole backlog, about 4,000 connections, before reading
 * any of them; the budget, 4,096 by default, then refused some of a 9,000-connection burst.)
 */
@ExtendWith(NettyLeaks.class)
class AcceptBurstTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");

    private final List<Socket> clients = new ArrayList<>();
    private SinkServer upstream;
    private ProxyHarness proxy;

    @AfterEach
    void stop() throws IOException {
        for (Socket socket : clients) {
            socket.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void aBurstOfReadyClientsStaysWithinThePrereadBudget() throws Exception {
        int burst = 1_500; // four sockets each in this JVM: 6,000 of its 20,000 files
        upstream = new SinkServer(0);
        proxy = ProxyHarness.corpusTo(upstream.port(), "limits: { max_preread_connections: 600 }\n");
        for (int i = 0; i < burst; i++) {
            Socket socket = new Socket(proxy.address().getAddress(), proxy.port());
            socket.getOutputStream().write(HELLO);
            clients.add(socket);
        }
        // A connection is logged when it closes: while the tunnels are held, every line is a refusal.
        List<String> refused = new ArrayList<>();
        await().atMost(Duration.ofSeconds(60)).until(() -> {
            refused.addAll(proxy.drainLog());
            return !refused.isEmpty() || upstream.open() == burst;
        });
        assertThat(refused).as("connections refused during the burst").isEmpty();
        assertThat(upstream.open()).isEqualTo(burst);
    }
}
