package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.LoopbackPorts;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * How a route's connections reach their upstream: with a PROXY protocol header, to a real nginx
 * {@code stream} server that takes one ({@code listen ... proxy_protocol}) and logs the client it
 * names; and through a real Squid as the parent proxy, asked with {@code CONNECT}, with and
 * without credentials, refused, and unreachable.
 */
@ExtendWith(NettyLeaks.class)
class UpstreamDeliveryTest {
    private static final String NAME = "app.e2e.test";
    private static TestCerts certs;
    private static TlsServer server;
    private static Path dir;
    private final List<Process> peers = new java.util.ArrayList<>();
    private ProxyHarness proxy;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCerts.forNames(NAME, "denied.e2e.test");
        server = new TlsServer(certs, List.of("h2", "http/1.1"));
        // Squid drops to its own user, which must read the files: a world-readable directory.
        dir = Files.createTempDirectory("snigate-delivery", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwxr-xr-x")));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    @AfterEach
    void stopPeers() throws Exception {
        for (Process peer : peers) {
            peer.destroy();
            if (!peer.waitFor(10, TimeUnit.SECONDS)) {
                peer.destroyForcibly();
            }
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    @Test
    void aProxyProtocolHeaderTellsNginxTheRealClientInV1AndV2() throws Exception {
        assumeInstalled("/usr/sbin/nginx", "nginx");
        for (String version : List.of("v1", "v2")) {
            int nginxPort = LoopbackPorts.free();
            Path log = dir.resolve("nginx-" + version + ".log");
            Path config = Files.writeString(dir.resolve("nginx-" + version + ".conf"), """
                    load_module /usr/lib/nginx/modules/ngx_stream_module.so;
                    daemon off;
                    pid %1$s/nginx-%2$s.pid;
                    error_log %1$s/nginx-%2$s-error.log info;
                    events {}
                    stream {
                      log_format client '$proxy_protocol_addr $proxy_protocol_port';
                      server {
                        listen 127.0.0.1:%3$d proxy_protocol;
                        proxy_pass 127.0.0.1:%4$d;
                        access_log %5$s client;
                      }
                    }
                    """.formatted(dir, version, nginxPort, server.port(), log));
            peers.add(new ProcessBuilder("nginx", "-c", config.toString(), "-p", dir.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("nginx-" + version + ".out").toFile()).start());
            await().atMost(Duration.ofSeconds(20)).until(() -> LoopbackPorts.accepts(nginxPort));
            proxy = ProxyHarness.start("""
                    routes:
                      - match: "*.e2e.test"
                        upstream: "127.0.0.1:%d"
                        send_proxy_protocol: %s
                    """.formatted(nginxPort, version));
            int clientPort;
            try (Socket tcp = new Socket(proxy.address().getAddress(), proxy.port(), InetAddress.getByName("127.0.0.7"), 0);
                    SSLSocket tls = tlsOver(tcp, NAME)) {
                clientPort = tcp.getLocalPort();
                tls.startHandshake();
                assertThat(tls.getSession().getPeerCertificates()[0]).isEqualTo(certs.certificate());
            }
            assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");
            // nginx logs a connection when it ends; the readiness probe's is there too, as "- -".
            await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(log)
                    && Files.readAllLines(log).stream().anyMatch(line -> !line.equals("- -")));
            assertThat(Files.readAllLines(log)).as("what nginx read in the " + version + " header")
                    .containsExactly("- -", "127.0.0.7 " + clientPort);
            proxy.close();
            proxy = null;
        }
    }

    @Test
    void throughARealSquidParentWithCredentialsRefusedAndUnreachable() throws Exception {
        assumeInstalled("/usr/sbin/squid", "squid");
        int squidPort = LoopbackPorts.free();
        // Squid resolves the names itself: app.e2e.test and denied.e2e.test are this host to it.
        Path hosts = world(Files.writeString(dir.resolve("hosts"), "127.0.0.1 " + NAME + " denied.e2e.test\n"));
        ProcessRunner.Result hash = ProcessRunner.run(10, "openssl", "passwd", "-apr1", "secret1");
        Path passwd = world(Files.writeString(dir.resolve("passwd"), "user1:" + hash.stdout().strip() + "\n"));
        Path credentials = Files.writeString(dir.resolve("parent.cred"), "user1:secret1\n");
        Path config = world(Files.writeString(dir.resolve("squid.conf"), """
                http_port 127.0.0.1:%d
                pid_filename none
                access_log none
                cache_log /dev/null
                cache deny all
                cache_mem 8 MB
                hosts_file %s
                dns_nameservers 127.0.0.1
                auth_param basic program /usr/lib/squid/basic_ncsa_auth %s
                acl authed proxy_auth REQUIRED
                acl denied dstdomain denied.e2e.test
                http_access deny denied
                http_access allow authed
                http_access deny all
                """.formatted(squidPort, hosts, passwd)));
        peers.add(new ProcessBuilder("squid", "-N", "-f", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("squid.out").toFile()).start());
        await().atMost(Duration.ofSeconds(30)).until(() -> LoopbackPorts.accepts(squidPort));
        int closedPort = LoopbackPorts.free();
        proxy = ProxyHarness.start("""
                routes:
                  - match: "app.e2e.test"
                    upstream: "$sni:%2$d"
                    via: "http://127.0.0.1:%1$d"
                    via_credentials: "%3$s"
                  - match: "denied.e2e.test"
                    upstream: "$sni:%2$d"
                    via: "http://127.0.0.1:%1$d"
                    via_credentials: "%3$s"
                  - match: "*.e2e.test"
                    upstream: "127.0.0.1:%2$d"
                    via: "http://127.0.0.1:%1$d"
                  - match: "*.closed.test"
                    upstream: "127.0.0.1:%2$d"
                    via: "http://127.0.0.1:%4$d"
                """.formatted(squidPort, server.port(), credentials, closedPort));

        try (SSLSocket tls = tlsOver(proxy.connect(), NAME)) {
            tls.startHandshake();
            assertThat(tls.getSession().getPeerCertificates()[0]).isEqualTo(certs.certificate());
        }
        JsonNode through = proxy.nextLog();
        assertThat(through.get("outcome").asText()).as(through.toString()).isEqualTo("forwarded");
        assertThat(through.get("parent_status").asInt()).isEqualTo(200);
        assertThat(through.get("upstream").asText()).isEqualTo("127.0.0.1:" + squidPort);

        assertRefusedWithAlert("denied.e2e.test", "internal_error");
        JsonNode denied = proxy.nextLog();
        assertThat(denied.get("reason").asText()).isEqualTo("parent_proxy_refused");
        assertThat(denied.get("parent_status").asInt()).isEqualTo(403);

        assertRefusedWithAlert("other.e2e.test", "internal_error");
        JsonNode unauthenticated = proxy.nextLog();
        assertThat(unauthenticated.get("reason").asText()).isEqualTo("parent_proxy_refused");
        assertThat(unauthenticated.get("parent_status").asInt()).as("no credentials").isEqualTo(407);

        assertRefusedWithAlert("x.closed.test", "internal_error");
        JsonNode unreachable = proxy.nextLog();
        assertThat(unreachable.get("reason").asText()).isEqualTo("upstream_unreachable");
        assertThat(unreachable.get("parent_status").isNull()).isTrue();
    }

    /**
     * A parent that closes without answering {@code CONNECT}, as a real HAProxy's
     * {@code http-request reject} does, fails the dial at once as {@code upstream_unreachable}
     * (failed: held for the connect timeout, then {@code upstream_timeout}).
     */
    @Test
    void aRealHaproxyParentThatRejectsIsUnreachableAtOnce() throws Exception {
        assumeInstalled("/usr/sbin/haproxy", "haproxy");
        int parentPort = LoopbackPorts.free();
        Path config = Files.writeString(dir.resolve("haproxy-parent.cfg"), """
                defaults
                  mode http
                  timeout connect 5s
                  timeout client 30s
                  timeout server 30s
                frontend parent
                  bind 127.0.0.1:%d
                  http-request reject
                """.formatted(parentPort));
        peers.add(new ProcessBuilder("haproxy", "-db", "-f", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("haproxy-parent.out").toFile()).start());
        await().atMost(Duration.ofSeconds(20)).until(() -> LoopbackPorts.accepts(parentPort));
        proxy = ProxyHarness.start("""
                timeouts: { connect: 10s }
                routes:
                  - match: "*.e2e.test"
                    upstream: "127.0.0.1:%d"
                    via: "http://127.0.0.1:%d"
                """.formatted(server.port(), parentPort));

        long started = System.nanoTime();
        assertRefusedWithAlert(NAME, "internal_error");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).as("refused at once, not at the 10 s timeout")
                .isLessThan(5_000);
        JsonNode line = proxy.nextLog();
        assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("upstream_unreachable");
        assertThat(line.get("parent_status").isNull()).isTrue();
        assertThat(line.get("upstream").asText()).isEqualTo("127.0.0.1:" + parentPort);
    }

    private void assertRefusedWithAlert(String sni, String alert) throws Exception {
        try (SSLSocket tls = tlsOver(proxy.connect(), sni)) {
            assertThatThrownBy(tls::startHandshake).isInstanceOf(SSLException.class).hasMessageContaining(alert);
        }
    }

    private static Path world(Path file) throws IOException {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        return file;
    }

    private static void assumeInstalled(String binary, String packageName) {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(binary)) || System.getenv("CI") != null,
                packageName + " is not installed here (.ci/run installs it)");
    }

    private static SSLSocket tlsOver(Socket tcp, String sni) throws Exception {
        SSLSocket socket = (SSLSocket) certs.clientContext().getSocketFactory().createSocket(tcp, sni, tcp.getPort(), true);
        SSLParameters params = socket.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(sni)));
        params.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(params);
        socket.setSoTimeout(15_000);
        return socket;
    }


}
