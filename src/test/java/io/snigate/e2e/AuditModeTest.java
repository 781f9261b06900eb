package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TestDnsServer;
import io.snigate.testing.TlsServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Audit mode end to end with the JDK's TLS client: each policy verdict is forwarded to a real TLS
 * server (the handshake completes and verifies), with {@code would_reject} in its access-log line
 * and counted; each safety verdict is still refused.
 */
@ExtendWith(NettyLeaks.class)
class AuditModeTest {
    private static final String CORP = "corp.e2e.test";
    private static final String H2ONLY = "h2only.e2e.test";
    private static final String MODERN = "modern.e2e.test";
    private static final String UNLISTED = "unlisted.e2e.test";
    private static final String PRIVATE = "private.e2e.test";
    private static final String FULL = "full.e2e.test";
    private static final String LOOP = "loop.e2e.test";
    private static TestCerts certs;
    private static TlsServer server;
    private static TestDnsServer dns;
    private static ProxyHarness proxy;
    /** The scrape before any connection: what exists from the start, at what value. */
    private static String firstScrape;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCerts.forNames(CORP, H2ONLY, MODERN, UNLISTED, PRIVATE, FULL, LOOP);
        server = new TlsServer(certs, List.of("h2", "http/1.1"));
        dns = new TestDnsServer();
        dns.answer(PRIVATE, InetAddress.getByName("127.0.0.1"), 60);
        dns.answer(LOOP, InetAddress.getByName("127.0.0.1"), 60);
        int listen = freePort();
        proxy = ProxyHarness.start("""
                listen: ["127.0.0.1:%1$d"]
                resolvers: ["%2$s"]
                policy: { mode: audit, audit_upstream: "127.0.0.1:%3$d" }
                timeouts: { preread: 500ms }
                routes:
                  - match: "%4$s"
                    clients: { allow: ["127.0.0.0/24"], deny: ["127.0.0.9"] }
                    upstream: "127.0.0.1:%3$d"
                  - match: "%5$s"
                    alpn: ["h2"]
                    upstream: "127.0.0.1:%3$d"
                  - match: "%6$s"
                    min_tls_version: "1.3"
                    upstream: "127.0.0.1:%3$d"
                  - match: "%7$s"
                    upstream: "$sni:%3$d"
                  - match: "%8$s"
                    max_connections: 1
                    upstream: "127.0.0.1:%3$d"
                  - match: "%9$s"
                    upstream: "$sni:%1$d"
                    allow_destinations: ["127.0.0.0/8"]
                """.formatted(listen, dns.hostPort(), server.port(), CORP, H2ONLY, MODERN, PRIVATE, FULL, LOOP));
        firstScrape = proxy.admin("/metrics", null).body();
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        server.close();
        dns.close();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static SSLSocket tlsClient(String from, String sni, String alpn, String protocol) throws IOException {
        return tlsClient(proxy, from, sni, alpn, protocol);
    }

    private static SSLSocket tlsClient(ProxyHarness through, String from, String sni, String alpn, String protocol)
            throws IOException {
        Socket tcp = new Socket();
        tcp.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        tcp.connect(through.address(), 10_000);
        tcp.setSoTimeout(15_000);
        SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory().createSocket(tcp, sni, 443, true);
        SSLParameters params = tls.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(sni)));
        params.setEndpointIdentificationAlgorithm("HTTPS");
        params.setApplicationProtocols(new String[] {alpn});
        params.setProtocols(new String[] {protocol});
        tls.setSSLParameters(params);
        return tls;
    }

    /** A verified handshake through the proxy; the protocol the server agreed. */
    private static String handshake(String from, String sni, String alpn, String protocol) throws IOException {
        try (SSLSocket tls = tlsClient(from, sni, alpn, protocol)) {
            tls.startHandshake();
            assertThat(tls.getSession().getPeerCertificates()[0]).isEqualTo(certs.certificate());
            return tls.getApplicationProtocol();
        }
    }

    private static void assertForwardedButWouldReject(String reason, String route) throws Exception {
        JsonNode line = proxy.nextLog();
        assertThat(line.get("outcome").asText()).as(line.toString()).isEqualTo("forwarded");
        assertThat(line.get("policy_mode").asText()).isEqualTo("audit");
        assertThat(line.get("would_reject").asText()).isEqualTo(reason);
        // How the tunnel ended is not the audit's business: the JDK client closes as soon as the handshake is
        // done, and when the server's last record is still in flight its kernel answers with a reset.
        assertThat(line.get("reason").isNull() ? null : line.get("reason").asText()).as(line.toString())
                .isIn(null, "connection_reset");
        assertThat(line.get("upstream").asText()).isEqualTo("127.0.0.1:" + server.port());
        assertThat(line.get("route").isNull() ? null : line.get("route").asText()).isEqualTo(route);
        String series = "snigate_policy_would_reject_total{listener=\"" + line.get("listener").asText() + "\",reason=\""
                + reason + "\",route=\"" + (route == null ? "none" : route) + "\"} 1.0";
        assertThat(proxy.admin("/metrics", null).body()).contains(series);
    }

    private static String refusedReason() throws Exception {
        JsonNode line = proxy.nextLog();
        assertThat(line.get("outcome").asText()).as(line.toString()).isIn("rejected", "failed");
        assertThat(line.get("would_reject").isNull()).isTrue();
        return line.get("reason").asText();
    }

    @Test
    void aClientTheRouteRefusesIsForwardedAndReported() throws Exception {
        assertThat(handshake("127.0.0.9", CORP, "h2", "TLSv1.3")).isEqualTo("h2");
        assertForwardedButWouldReject("client_not_allowed", CORP);
    }

    @Test
    void anAlpnTheRouteRefusesIsForwardedToThatRoute() throws Exception {
        assertThat(handshake("127.0.0.1", H2ONLY, "http/1.1", "TLSv1.3")).isEqualTo("http/1.1");
        assertForwardedButWouldReject("alpn_not_allowed", H2ONLY);
    }

    @Test
    void aTlsVersionUnderTheFloorIsForwardedAndReported() throws Exception {
        assertThat(handshake("127.0.0.1", MODERN, "h2", "TLSv1.2")).isEqualTo("h2");
        assertForwardedButWouldReject("tls_version_not_allowed", MODERN);
        assertThat(handshake("127.0.0.1", MODERN, "h2", "TLSv1.3")).isEqualTo("h2");
        assertThat(proxy.nextLog().get("would_reject").isNull()).as("TLS 1.3 passes the floor").isTrue();
    }

    @Test
    void aNameNoRouteMatchesGoesToTheAuditUpstream() throws Exception {
        assertThat(handshake("127.0.0.1", UNLISTED, "h2", "TLSv1.3")).isEqualTo("h2");
        assertForwardedButWouldReject("no_route", null);
    }

    @Test
    void safetyVerdictsAreNeverAudited() throws Exception {
        // A destination the policy forbids: a $sni name resolving to loopback.
        assertThatThrownBy(() -> handshake("127.0.0.1", PRIVATE, "h2", "TLSv1.3")).hasMessageContaining("access_denied");
        assertThat(refusedReason()).isEqualTo("forbidden_destination");
        // A loop: a name leading back to the proxy's own listener.
        assertThatThrownBy(() -> handshake("127.0.0.1", LOOP, "h2", "TLSv1.3")).hasMessageContaining("internal_error");
        assertThat(refusedReason()).isEqualTo("loop_detected");
        // Input that is not TLS, and input that never completes.
        try (Socket plain = proxy.connect()) {
            plain.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(ProxyHarness.readUntilClosed(plain)).isEmpty();
        }
        assertThat(refusedReason()).isEqualTo("plain_http");
        try (Socket silent = proxy.connect()) {
            assertThat(ProxyHarness.readUntilClosed(silent)).isEmpty();
        }
        assertThat(refusedReason()).isEqualTo("preread_timeout");
    }

    /**
     * {@code would_reject} and its counter report what audit mode forwarded anyway: a name it let
     * through to {@code $sni} that the destination policy then refused was not forwarded, and
     * enforcing would change nothing for it (failed before: {@code no_route} on the refused line,
     * and counted, so the roll-out's figure overstated what enforcing would cut).
     */
    @Test
    void aNameTheAuditLetThroughAndTheDestinationPolicyRefusedIsNotReportedAsForwarded() throws Exception {
        try (ProxyHarness sniAudit = ProxyHarness.start("""
                listen: ["127.0.0.1:0"]
                resolvers: ["%1$s"]
                policy: { mode: audit, audit_upstream: "$sni:%2$d" }
                routes:
                  - match: "%3$s"
                    upstream: "127.0.0.1:%2$d"
                """.formatted(dns.hostPort(), server.port(), CORP));
                SSLSocket tls = tlsClient(sniAudit, "127.0.0.1", PRIVATE, "h2", "TLSv1.3")) {
            assertThatThrownBy(tls::startHandshake).hasMessageContaining("access_denied");
            JsonNode line = sniAudit.nextLog();
            assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("forbidden_destination");
            assertThat(line.get("policy_mode").asText()).isEqualTo("audit");
            assertThat(line.get("would_reject").isNull()).as(line.toString()).isTrue();
            assertThat(sniAudit.admin("/metrics", null).body()).contains(
                    "snigate_policy_would_reject_total{listener=\"127.0.0.1:0\",reason=\"no_route\",route=\"none\"} 0.0");
        }
    }

    @Test
    void aListenersClientRulesAreNeverAudited() throws Exception {
        try (ProxyHarness guarded = ProxyHarness.start("""
                listen:
                  - address: "127.0.0.1:0"
                    clients: { deny: ["127.0.0.66"] }
                policy: { mode: audit, audit_upstream: "127.0.0.1:%1$d" }
                routes:
                  - match: "%2$s"
                    upstream: "127.0.0.1:%1$d"
                """.formatted(server.port(), CORP))) {
            Socket denied = new Socket();
            denied.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.66"), 0));
            denied.connect(guarded.address(), 10_000);
            denied.setSoTimeout(15_000);
            try (denied) {
                assertThat(denied.getInputStream().read()).as("closed at accept, audit or not").isEqualTo(-1);
            }
            JsonNode line = guarded.nextLog();
            assertThat(line.get("reason").asText()).isEqualTo("client_not_allowed");
            assertThat(line.get("would_reject").isNull()).isTrue();
        }
    }

    @Test
    void aRoutesConnectionLimitIsNeverAudited() throws Exception {
        try (SSLSocket held = tlsClient("127.0.0.1", FULL, "h2", "TLSv1.3")) {
            held.startHandshake();
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().openConnections() == 1);
            assertThatThrownBy(() -> handshake("127.0.0.1", FULL, "h2", "TLSv1.3")).isInstanceOf(IOException.class);
            JsonNode line = proxy.nextLog();
            assertThat(line.get("reason").asText()).isEqualTo("connection_limit");
            assertThat(line.get("route").asText()).isEqualTo(FULL);
        }
        assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");
        assertThat(proxy.admin("/metrics", null).body()).contains("snigate_connections_total{listener=\"127.0.0.1:"
                + proxy.port() + "\",outcome=\"rejected\",reason=\"connection_limit\",route=\"" + FULL + "\"} 1.0");
        assertThat(handshake("127.0.0.1", FULL, "h2", "TLSv1.3")).as("the place is given back").isEqualTo("h2");
        assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void theAuditGaugesAndEveryWouldRejectSeriesExistFromTheStart() throws Exception {
        String metrics = firstScrape;
        assertThat(metrics).contains("snigate_policy_audit_mode 1.0").contains("snigate_policy_audit_routes 6.0");
        String listener = "127.0.0.1:" + proxy.port();
        assertThat(metrics).doesNotContain("reason=\"no_route\",route=\"" + CORP + "\"");
        for (String route : List.of("none", CORP, H2ONLY, MODERN, PRIVATE, FULL, LOOP)) {
            // no_route is a verdict only where no route matched.
            List<String> verdicts = route.equals("none")
                    ? List.of("no_route", "alpn_not_allowed", "client_not_allowed", "tls_version_not_allowed", "sni_destination_mismatch")
                    : List.of("alpn_not_allowed", "client_not_allowed", "tls_version_not_allowed", "sni_destination_mismatch");
            for (String reason : verdicts) {
                assertThat(metrics).contains("snigate_policy_would_reject_total{listener=\"" + listener + "\",reason=\""
                        + reason + "\",route=\"" + route + "\"} 0.0");
            }
        }
    }
}
