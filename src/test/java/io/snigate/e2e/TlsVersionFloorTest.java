package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.IOException;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code min_tls_version} enforced against the JDK's TLS client limited to one version: the top
 * level's floor, which routes without their own and the default upstream follow, and a route's own.
 * (The JDK no longer offers TLS 1.1, so the floors here are 1.3 and 1.2.)
 */
@ExtendWith(NettyLeaks.class)
class TlsVersionFloorTest {
    private static final String MODERN = "modern.e2e.test";
    private static final String PLAIN = "plain.e2e.test";
    private static final String UNLISTED = "unlisted.e2e.test";
    private static TestCerts certs;
    private static TlsServer server;
    private static ProxyHarness proxy;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCerts.forNames(MODERN, PLAIN, UNLISTED);
        server = new TlsServer(certs, List.of("h2"));
        proxy = ProxyHarness.start("""
                min_tls_version: "1.3"
                default: "127.0.0.1:%1$d"
                routes:
                  - match: "%2$s"
                    upstream: "127.0.0.1:%1$d"
                  - match: "%3$s"
                    min_tls_version: "1.2"
                    upstream: "127.0.0.1:%1$d"
                """.formatted(server.port(), MODERN, PLAIN));
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        server.close();
    }

    private static void handshake(String sni, String protocol) throws IOException {
        try (SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket(proxy.connect(), sni, 443, true)) {
            SSLParameters params = tls.getSSLParameters();
            params.setServerNames(List.of(new SNIHostName(sni)));
            params.setEndpointIdentificationAlgorithm("HTTPS");
            params.setProtocols(new String[] {protocol});
            tls.setSSLParameters(params);
            tls.startHandshake();
        }
    }

    @Test
    void theTopLevelFloorRefusesAnOlderClientWithProtocolVersion() throws Exception {
        assertThatThrownBy(() -> handshake(MODERN, "TLSv1.2")).isInstanceOf(SSLHandshakeException.class)
                .hasMessageContaining("protocol_version");
        JsonNode refused = proxy.nextLog();
        assertThat(refused.get("reason").asText()).isEqualTo("tls_version_not_allowed");
        assertThat(refused.get("tls_version").asText()).isEqualTo("TLSv1.2");
        assertThat(refused.get("route").asText()).isEqualTo(MODERN);
        handshake(MODERN, "TLSv1.3");
        assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void aRoutesOwnFloorOverridesTheTopLevel() throws Exception {
        handshake(PLAIN, "TLSv1.2");
        JsonNode forwarded = proxy.nextLog();
        assertThat(forwarded.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(forwarded.get("tls_version").asText()).isEqualTo("TLSv1.2");
    }

    @Test
    void theDefaultUpstreamFollowsTheTopLevelFloor() throws Exception {
        assertThatThrownBy(() -> handshake(UNLISTED, "TLSv1.2")).hasMessageContaining("protocol_version");
        JsonNode byDefault = proxy.nextLog();
        assertThat(byDefault.get("reason").asText()).isEqualTo("tls_version_not_allowed");
        assertThat(byDefault.get("route").asText()).isEqualTo("default");
        handshake(UNLISTED, "TLSv1.3");
        assertThat(proxy.nextLog().get("route").asText()).isEqualTo("default");
    }
}
