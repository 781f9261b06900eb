package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Encrypted Client Hello made visible: an outer ClientHello whose SNI is one of the operator's
 * {@code ech.public_names} is refused with {@code ech_public_name} unless a route names that
 * cover name exactly; a real browser's GREASE ECH (an ECH extension on nearly every connection)
 * changes nothing.
 */
@ExtendWith(NettyLeaks.class)
class EchTest {
    private static final String COVER = "cloudflare-ech.com";

    @TempDir
    Path dir;

    @Test
    void anOuterHelloWithAListedCoverNameIsRefusedUnlessARouteNamesItExactly() throws Exception {
        try (RecordingServer upstream = new RecordingServer();
                ProxyHarness proxy = ProxyHarness.start("""
                        ech: { public_names: ["%s"] }
                        routes:
                          - match: ["*.com", "*.example.org"]
                            upstream: "127.0.0.1:%d"
                        """.formatted(COVER, upstream.port()))) {
            assertThat(send(proxy, outerEchHello(COVER))).as("alert access_denied").containsExactly(21, 3, 1, 0, 2, 2, 49);
            JsonNode refused = proxy.nextLog();
            assertThat(refused.get("reason").asText()).as("a wildcard does not count").isEqualTo("ech_public_name");
            assertThat(refused.get("ech").asBoolean()).isTrue();

            byte[] other = outerEchHello("www.example.org");
            upstream.expectBytes(other.length);
            send(proxy, other);
            assertThat(upstream.nextReceived(10_000)).as("ECH with another name routes as usual").isEqualTo(other);
            assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");
        }
        try (RecordingServer upstream = new RecordingServer();
                ProxyHarness proxy = ProxyHarness.start("""
                        ech: { public_names: ["%s"] }
                        routes:
                          - match: "%s"
                            upstream: "127.0.0.1:%d"
                        """.formatted(COVER, COVER, upstream.port()))) {
            byte[] hello = outerEchHello(COVER);
            upstream.expectBytes(hello.length);
            send(proxy, hello);
            assertThat(upstream.nextReceived(10_000)).as("a route naming the cover name exactly").isEqualTo(hello);
            assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");
        }
    }

    /** Chromium sends a GREASE ECH extension on every connection; that alone refuses nothing. */
    @Test
    void chromiumsGreaseEchIsForwarded() throws Exception {
        boolean installed = Files.isExecutable(Path.of("/usr/bin/chromium"));
        Assumptions.assumeTrue(installed || System.getenv("CI") != null, "chromium is not installed here (.ci/run installs it)");
        String name = "app.e2e.test";
        TestCerts certs = TestCerts.forNames(name);
        try (TlsServer server = new TlsServer(certs, List.of("h2", "http/1.1"));
                ProxyHarness proxy = ProxyHarness.start("""
                        ech: { public_names: ["%s"] }
                        routes:
                          - match: "*.e2e.test"
                            upstream: "127.0.0.1:%d"
                        """.formatted(COVER, server.port()))) {
            // The test server speaks TLS, not HTTP: the handshake is what this is about.
            ProcessRunner.run(60, "timeout", "40", "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--user-data-dir=" + dir.resolve("chromium"), "--ignore-certificate-errors",
                    "--host-resolver-rules=MAP " + name + " 127.0.0.1:" + proxy.port() + ", MAP * ~NOTFOUND", "--timeout=10000",
                    "--dump-dom", "https://" + name + "/");
            JsonNode line = proxy.nextLog();
            assertThat(line.get("sni").asText()).isEqualTo(name);
            assertThat(line.get("ech").asBoolean()).as("Chromium's GREASE ECH: " + line).isTrue();
            assertThat(line.get("outcome").asText()).as(line.toString()).isEqualTo("forwarded");
        }
    }

    private static byte[] send(ProxyHarness proxy, byte[] hello) throws Exception {
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(hello);
            client.shutdownOutput();
            return ProxyHarness.readUntilClosed(client);
        }
    }

    /**
     * A TLS 1.3 ClientHello for {@code sni} carrying an outer Encrypted Client Hello extension
     * (draft-ietf-tls-esni: type 0 outer, an HPKE suite, a config id, an encapsulated key and an
     * encrypted payload, here random-looking filler).
     */
    static byte[] outerEchHello(String sni) {
        byte[] name = sni.getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream extensions = new ByteArrayOutputStream();
        extension(extensions, 0x0000, concat(u16(name.length + 3), new byte[] {0}, u16(name.length), name));
        extension(extensions, 0x002b, new byte[] {2, 3, 4});
        byte[] ech = concat(new byte[] {0}, u16(0x0001), u16(0x0001), new byte[] {0x2a},
                u16(32), filler(32, 7), u16(160), filler(160, 11));
        extension(extensions, 0xfe0d, ech);
        byte[] body = concat(u16(0x0303), filler(32, 3), new byte[] {32}, filler(32, 5), u16(2), u16(0x1301),
                new byte[] {1, 0}, u16(extensions.size()), extensions.toByteArray());
        byte[] handshake = concat(new byte[] {1, 0, (byte) (body.length >> 8), (byte) body.length}, body);
        return concat(new byte[] {22, 3, 1}, u16(handshake.length), handshake);
    }

    private static void extension(ByteArrayOutputStream out, int type, byte[] data) {
        out.writeBytes(concat(u16(type), u16(data.length), data));
    }

    private static byte[] u16(int value) {
        return new byte[] {(byte) (value >> 8), (byte) value};
    }

    private static byte[] filler(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (seed * 31 + i * 17);
        }
        return bytes;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
