package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code clients:} rules met by real sockets bound to different loopback source addresses
 * (127.0.0.0/8 gives many) and {@code ::1}: a listener's rules close the connection at accept,
 * before a byte is read; a route's rules answer the TLS client with {@code access_denied}.
 */
@ExtendWith(NettyLeaks.class)
class ClientRulesTest {
    private static final String CORP = "corp.e2e.test";
    private static final String V4ONLY = "v4only.e2e.test";
    private static TestCerts certs;
    private static TlsServer server;
    private ProxyHarness proxy;

    @BeforeAll
    static void startServer() throws Exception {
        certs = TestCerts.forNames(CORP, V4ONLY);
        server = new TlsServer(certs, List.of("h2", "http/1.1"));
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @AfterEach
    void stopProxy() {
        if (proxy != null) {
            proxy.close();
        }
    }

    private void startProxy(String listen) throws Exception {
        proxy = ProxyHarness.start("""
                listen:
                %s
                timeouts: { preread: 30s }
                routes:
                  - match: "%s"
                    clients: { allow: ["127.0.0.0/16", "::1"], deny: ["127.0.0.9"] }
                    upstream: "127.0.0.1:%d"
                  - match: "%s"
                    clients: { allow: ["0.0.0.0/0"] }
                    upstream: "127.0.0.1:%d"
                """.formatted(listen, CORP, server.port(), V4ONLY, server.port()));
    }

    /** A TCP connection to the proxy's listener {@code index} from the source address {@code from}. */
    private Socket connectFrom(String from, int index) throws IOException {
        Socket socket = new Socket();
        socket.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        InetSocketAddress listener = proxy.server().listenAddresses().get(index);
        InetAddress to = listener.getAddress().isAnyLocalAddress() ? InetAddress.getByName(from) : listener.getAddress();
        socket.connect(new InetSocketAddress(to, listener.getPort()), 10_000);
        socket.setSoTimeout(15_000);
        return socket;
    }

    /** A TLS handshake for {@code sni} from {@code from} through listener {@code index}; the negotiated protocol. */
    private String handshake(String from, int index, String sni) throws IOException {
        try (SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket(connectFrom(from, index), sni, 443, true)) {
            SSLParameters params = tls.getSSLParameters();
            params.setServerNames(List.of(new SNIHostName(sni)));
            params.setEndpointIdentificationAlgorithm("HTTPS");
            params.setApplicationProtocols(new String[] {"h2"});
            tls.setSSLParameters(params);
            tls.startHandshake();
            return tls.getApplicationProtocol();
        }
    }

    private JsonNode log() throws Exception {
        return proxy.nextLog();
    }

    @Test
    void aListenersRulesCloseAtAcceptBeforeAByteIsRead() throws Exception {
        startProxy("""
                  - address: "127.0.0.1:0"
                    clients: { allow: ["127.0.0.0/24"], deny: ["127.0.0.66"] }
                """);
        int acceptedBefore = server.negotiatedProtocols().size();
        try (Socket denied = connectFrom("127.0.0.66", 0)) {
            // Closed at once, although the pre-read would wait 30 s for a ClientHello.
            assertThat(denied.getInputStream().read()).isEqualTo(-1);
        }
        JsonNode line = log();
        assertThat(line.get("reason").asText()).isEqualTo("client_not_allowed");
        assertThat(line.get("client").asText()).startsWith("127.0.0.66:");
        assertThat(line.get("sni").isNull()).as("nothing was read").isTrue();
        assertThat(line.get("bytes_from_client").asLong()).isZero();
        assertThat(line.get("policy_mode").isNull()).as("a listener's rule is not the policy's route verdict").isTrue();

        try (Socket outside = connectFrom("127.0.1.5", 0)) {
            assertThat(outside.getInputStream().read()).as("not in 127.0.0.0/24").isEqualTo(-1);
        }
        assertThat(log().get("reason").asText()).isEqualTo("client_not_allowed");

        assertThat(handshake("127.0.0.5", 0, CORP)).isEqualTo("h2");
        assertThat(log().get("outcome").asText()).isEqualTo("forwarded");
        assertThat(server.negotiatedProtocols()).hasSize(acceptedBefore + 1);
        assertThat(proxy.admin("/metrics", null).body()).contains("snigate_connections_total{listener=\"127.0.0.1:0\","
                + "outcome=\"rejected\",reason=\"client_not_allowed\",route=\"none\"} 2.0");
    }

    @Test
    void aRoutesRulesAnswerAccessDeniedAndDenyBeatsAllow() throws Exception {
        startProxy("  - \"127.0.0.1:0\"\n");
        assertThatThrownBy(() -> handshake("127.0.0.9", 0, CORP)).isInstanceOf(SSLHandshakeException.class)
                .hasMessageContaining("access_denied");
        JsonNode denied = log();
        assertThat(denied.get("reason").asText()).isEqualTo("client_not_allowed");
        assertThat(denied.get("route").asText()).isEqualTo(CORP);
        assertThat(denied.get("policy_mode").asText()).isEqualTo("enforce");
        assertThat(denied.get("sni").asText()).isEqualTo(CORP);

        assertThat(handshake("127.0.0.10", 0, CORP)).isEqualTo("h2");
        assertThat(log().get("outcome").asText()).isEqualTo("forwarded");
        assertThat(handshake("127.0.3.10", 0, CORP)).as("within 127.0.0.0/16").isEqualTo("h2");
        assertThat(log().get("outcome").asText()).isEqualTo("forwarded");
        assertThat(proxy.admin("/metrics", null).body()).contains("snigate_connections_total{listener=\"127.0.0.1:0\","
                + "outcome=\"rejected\",reason=\"client_not_allowed\",route=\"" + CORP + "\"} 1.0");
    }

    @Test
    void theAlertIsAFatalAccessDeniedInTheClientsRecordVersion() throws Exception {
        proxy = ProxyHarness.start("""
                routes:
                  - match: "*.corpus.test"
                    clients: { deny: ["127.0.0.9"] }
                    upstream: "127.0.0.1:%d"
                """.formatted(server.port()));
        byte[] hello = io.snigate.testing.Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test
        try (Socket client = connectFrom("127.0.0.9", 0)) {
            client.getOutputStream().write(hello);
            client.shutdownOutput();
            assertThat(ProxyHarness.readUntilClosed(client)).containsExactly(21, 3, 1, 0, 2, 2, 49);
        }
        JsonNode line = log();
        assertThat(line.get("reason").asText()).isEqualTo("client_not_allowed");
        assertThat(line.get("upstream").isNull()).isTrue();
    }

    @Test
    void anIpv4ClientOfADualStackListenerIsMatchedAsIpv4() throws Exception {
        startProxy("""
                  - address: "[::]:0"
                    clients: { allow: ["127.0.0.0/8", "::1"] }
                """);
        // The kernel gives this socket the IPv4-mapped address ::ffff:127.0.0.20.
        assertThat(handshake("127.0.0.20", 0, CORP)).isEqualTo("h2");
        JsonNode line = log();
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(line.get("client").asText()).isEqualTo("127.0.0.20:" + line.get("client").asText().split(":")[1]);
        assertThatThrownBy(() -> handshake("127.0.0.9", 0, CORP)).hasMessageContaining("access_denied");
        assertThat(log().get("reason").asText()).as("the route's deny 127.0.0.9 matches the mapped client")
                .isEqualTo("client_not_allowed");
        assertThat(handshake("::1", 0, CORP)).isEqualTo("h2");
        assertThat(log().get("client").asText()).startsWith("[::1]:");
    }

    @Test
    void anIpv6ClientIsNotInAnIpv4OnlyRule() throws Exception {
        startProxy("""
                  - "[::1]:0"
                  - address: "127.0.0.1:0"
                    clients: { allow: ["::/0"] }
                """);
        assertThatThrownBy(() -> handshake("::1", 0, V4ONLY)).hasMessageContaining("access_denied");
        JsonNode line = log();
        assertThat(line.get("reason").asText()).as("0.0.0.0/0 holds no IPv6 client").isEqualTo("client_not_allowed");
        assertThat(line.get("client").asText()).startsWith("[::1]:");
        assertThat(handshake("::1", 0, CORP)).as("::1 is listed for this route").isEqualTo("h2");
        assertThat(log().get("outcome").asText()).isEqualTo("forwarded");
        try (Socket ipv4 = connectFrom("127.0.0.1", 1)) {
            assertThat(ipv4.getInputStream().read()).as("::/0 holds no IPv4 client").isEqualTo(-1);
        }
        assertThat(log().get("reason").asText()).isEqualTo("client_not_allowed");
    }
}
