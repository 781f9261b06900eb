package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real TLS handshakes through the proxy: a TLS server with a certificate made here sits behind
 * snigate, and real clients (the JDK, curl, openssl) complete handshakes with it end to end. The
 * proxy holds no key, so a completed, verified handshake proves it relayed without decrypting.
 */
@ExtendWith(NettyLeaks.class)
class TlsThroughProxyTest {
    private static final String NAME = "app.e2e.test";
    private static TestCerts certs;
    private static TlsServer server;
    private static ProxyHarness proxy;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCerts.forNames(NAME, "other.e2e.test");
        server = new TlsServer(certs, List.of("h2", "http/1.1"));
        proxy = ProxyHarness.start("""
                routes:
                  - match: "*.e2e.test"
                    upstream: "127.0.0.1:%d"
                """.formatted(server.port()));
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        server.close();
    }

    private SSLSocket tlsClient(String sni, String... alpn) throws Exception {
        SSLSocket socket = (SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket(proxy.connect(), NAME, proxy.port(), true);
        SSLParameters params = socket.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(sni)));
        params.setEndpointIdentificationAlgorithm("HTTPS");
        params.setApplicationProtocols(alpn);
        socket.setSSLParameters(params);
        return socket;
    }

    @Test
    void jdkClientNegotiatesH2AndHttp11ByAlpnEndToEnd() throws Exception {
        for (String protocol : List.of("h2", "http/1.1")) {
            try (SSLSocket socket = tlsClient(NAME, protocol)) {
                socket.startHandshake();
                assertThat(socket.getApplicationProtocol()).isEqualTo(protocol);
                assertThat(socket.getSession().getPeerCertificates()[0]).isEqualTo(certs.certificate());
            }
            JsonNode log = proxy.nextLog();
            assertThat(log.get("sni").asText()).isEqualTo(NAME);
            assertThat(log.get("alpn").get(0).asText()).isEqualTo(protocol);
            assertThat(log.get("route").asText()).isEqualTo("*.e2e.test");
            assertThat(log.get("upstream").asText()).isEqualTo("127.0.0.1:" + server.port());
            assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
            assertThat(log.get("tls_version").asText()).isEqualTo("TLSv1.3");
            assertThat(log.get("ech").asBoolean()).isFalse();
        }
    }

    @Test
    void fiftyMebibytesEachWayArriveByteExact() throws Exception {
        int size = 50 * 1024 * 1024;
        byte[] chunk = new byte[64 * 1024];
        try (SSLSocket socket = tlsClient(NAME, "http/1.1")) {
            socket.setSoTimeout(60_000);
            socket.startHandshake();
            MessageDigest sent = MessageDigest.getInstance("SHA-256");
            CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> digestAll(socket, size));
            OutputStream out = socket.getOutputStream();
            Random random = new Random(42);
            for (int written = 0; written < size; written += chunk.length) {
                random.nextBytes(chunk);
                sent.update(chunk);
                out.write(chunk);
            }
            out.flush();
            assertThat(echoed.get(120, TimeUnit.SECONDS)).isEqualTo(sent.digest());
        }
        JsonNode log = proxy.nextLog();
        // TLS records add framing, so the relayed bytes are at least the payload each way.
        assertThat(log.get("bytes_from_client").asLong()).isGreaterThan(size);
        assertThat(log.get("bytes_to_client").asLong()).isGreaterThan(size);
    }

    private static byte[] digestAll(SSLSocket socket, int size) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[64 * 1024];
            int total = 0;
            while (total < size) {
                int n = in.read(buffer, 0, Math.min(buffer.length, size - total));
                if (n < 0) {
                    break;
                }
                digest.update(buffer, 0, n);
                total += n;
            }
            return digest.digest();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void curlFetchesThroughTheProxyWithConnectTo() throws Exception {
        Path ca = Files.writeString(dir.resolve("ca.pem"), certs.pem());
        ProcessRunner.Result curl = ProcessRunner.run(30, "curl", "-sS", "--http1.1", "--max-time", "20",
                "--cacert", ca.toString(),
                "--connect-to", NAME + ":443:127.0.0.1:" + proxy.port(),
                "https://" + NAME + "/");
        assertThat(curl.exitCode()).as(curl.stderr()).isZero();
        assertThat(curl.stdout()).isEqualTo("hello over http/1.1\n");
        JsonNode log = proxy.nextLog();
        assertThat(log.get("sni").asText()).isEqualTo(NAME);
        assertThat(log.get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void opensslSClientVerifiesTheUpstreamCertificateAndAgreesOnH2() throws Exception {
        Path ca = Files.writeString(dir.resolve("ca-openssl.pem"), certs.pem());
        ProcessRunner.Result openssl = ProcessRunner.runWithInput(30, "Q\n".getBytes(StandardCharsets.US_ASCII),
                "openssl", "s_client", "-connect", "127.0.0.1:" + proxy.port(),
                "-servername", NAME, "-alpn", "h2", "-CAfile", ca.toString(), "-verify_hostname", NAME,
                "-verify_return_error");
        assertThat(openssl.stdout()).as(openssl.stderr())
                .contains("Verify return code: 0 (ok)")
                .contains("ALPN protocol: h2");
        JsonNode log = proxy.nextLog();
        assertThat(log.get("sni").asText()).isEqualTo(NAME);
        assertThat(log.get("alpn").toString()).isEqualTo("[\"h2\"]");
    }
}
