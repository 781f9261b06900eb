package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code access_log.on_connect}: a forwarded connection's decision is on record while its tunnel
 * is open (a line with {@code "event":"connected"}), and its closing line follows; what never
 * connects has only its closing line, as it has by default.
 */
@ExtendWith(NettyLeaks.class)
class AccessLogOnConnectTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test
    private static final byte[] NO_SNI = Corpus.resource("corpus/captured/openssl-noservername.bin");
    private static final String ON_CONNECT = "access_log: { on_connect: true }\n";

    @Test
    void aTunnelIsOnRecordWhileItIsOpenAndAgainWhenItEnds() throws Exception {
        try (RecordingServer upstream = new RecordingServer();
                ProxyHarness proxy = ProxyHarness.corpusTo(upstream.port(), ON_CONNECT);
                Socket client = proxy.connect()) {
            client.getOutputStream().write(HELLO);
            JsonNode connected = proxy.nextLog();
            assertThat(proxy.server().openConnections()).as("still open when its first line is written").isEqualTo(1);
            assertThat(connected.get("event").asText()).isEqualTo("connected");
            assertThat(connected.get("outcome").asText()).isEqualTo("forwarded");
            assertThat(connected.get("reason").isNull()).isTrue();
            assertThat(connected.get("sni").asText()).isEqualTo("curl.corpus.test");
            assertThat(connected.get("route").asText()).isEqualTo("*.corpus.test");
            assertThat(connected.get("policy_mode").asText()).isEqualTo("enforce");
            assertThat(connected.get("upstream").asText()).isEqualTo("127.0.0.1:" + upstream.port());
            assertThat(connected.get("bytes_to_client").asLong()).isZero();

            client.shutdownOutput();
            assertThat(ProxyHarness.readUntilClosed(client)).isEmpty();
            assertThat(upstream.nextReceived(10_000)).isEqualTo(HELLO);
            JsonNode closed = proxy.nextLog();
            assertThat(closed.get("event").asText()).isEqualTo("closed");
            assertThat(closed.get("outcome").asText()).isEqualTo("forwarded");
            assertThat(closed.get("time")).isEqualTo(connected.get("time"));
            assertThat(closed.get("client")).isEqualTo(connected.get("client"));
            assertThat(closed.get("bytes_from_client").asLong()).isEqualTo(HELLO.length);
            assertThat(proxy.drainLog()).isEmpty();
        }
    }

    @Test
    void byDefaultAConnectionHasOneLineWhenItEnds() throws Exception {
        try (RecordingServer upstream = new RecordingServer(); ProxyHarness proxy = ProxyHarness.corpusTo(upstream.port())) {
            assertThat(proxy.reasonFor(HELLO)).isEqualTo("forwarded");
            assertThat(proxy.seenLines().get(0)).contains("\"event\":\"closed\"");
            assertThat(proxy.reasonFor(NO_SNI)).isEqualTo("no_sni");
            assertThat(proxy.seenLines().get(1)).contains("\"event\":\"closed\"");
            assertThat(proxy.drainLog()).isEmpty();
        }
    }

    @Test
    void whatIsRefusedOrNeverConnectsHasOnlyItsClosingLine() throws Exception {
        int closedPort;
        try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = gone.getLocalPort();
        }
        try (ProxyHarness proxy = ProxyHarness.corpusTo(closedPort, ON_CONNECT)) {
            assertThat(proxy.reasonFor(NO_SNI)).isEqualTo("no_sni");
            assertThat(proxy.reasonFor(HELLO)).isEqualTo("upstream_unreachable");
            assertThat(proxy.drainLog()).isEmpty();
        }
    }
}
