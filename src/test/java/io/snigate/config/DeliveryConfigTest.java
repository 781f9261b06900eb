package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The keys about who is on the wire: a PROXY header received and sent, a parent proxy and its credentials. */
class DeliveryConfigTest {
    @TempDir
    Path dir;

    @Test
    void aListenerRequiringAProxyHeaderFromItsBalancers() throws Exception {
        ProxyConfig config = ConfigLoader.parse("""
                listen:
                  - address: "0.0.0.0:443"
                    proxy_protocol: { trusted: ["10.0.0.0/8", "fd00::/8"], timeout: 2s }
                  - address: "0.0.0.0:8443"
                    proxy_protocol: { trusted: "192.0.2.1" }
                default: "$sni:443"
                """, "routes.yaml");
        Listener.ProxyProtocol first = config.listeners().get(0).proxyProtocol();
        assertThat(first.trusted()).containsExactly(Cidr.parse("10.0.0.0/8"), Cidr.parse("fd00::/8"));
        assertThat(first.timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.listeners().get(1).proxyProtocol().timeout()).as("the default").isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void proxyProtocolMistakes() {
        assertError("listen:\n  - { address: \"0.0.0.0:443\", proxy_protocol: { timeout: 5s } }\ndefault: $sni:443\n",
                "routes.yaml:2: proxy_protocol needs trusted: the addresses of the balancers that send the header, e.g."
                        + " trusted: [\"10.0.0.0/8\"]; anyone else could claim any client address");
        assertError("listen:\n  - { address: \"0.0.0.0:443\", proxy_protocol: { trusted: [], timeout: 5s } }\n"
                        + "default: $sni:443\n",
                "routes.yaml:2: trusted is empty, so no balancer could connect; list their addresses");
        assertError("listen:\n  - { address: \"0.0.0.0:443\", proxy_protocol: { trusted: [\"10.0.0.0/33\"] } }\n"
                        + "default: $sni:443\n",
                "routes.yaml:2: trusted \"10.0.0.0/33\": prefix length 33 is more than 32");
        assertError("listen:\n  - { address: \"0.0.0.0:443\", proxy_protocol: { trusted: [\"10.0.0.0/8\"], timeout: 0s } }\n"
                        + "default: $sni:443\n",
                "routes.yaml:2: proxy_protocol.timeout must be more than 0");
        assertError("listen:\n  - { address: \"0.0.0.0:443\", original_dst: redirect, proxy_protocol: { trusted: [\"10.0.0.0/8\"] } }\n"
                        + "default: $sni:443\n",
                "routes.yaml:2: a listener takes either original_dst or proxy_protocol, not both; give each its own address");
    }

    @Test
    void routesSendAHeaderOrGoThroughAParentWithCredentialsFromAFile() throws Exception {
        Files.writeString(dir.resolve("parent.cred"), "alice:s3cret\n");
        Path file = dir.resolve("routes.yaml");
        Files.writeString(file, """
                listen: "127.0.0.1:8443"
                routes:
                  - match: "a.example.com"
                    upstream: "192.0.2.1:443"
                    send_proxy_protocol: v2
                  - match: "b.example.com"
                    upstream: "$sni:443"
                    via: "http://proxy.corp.example:3128"
                    via_credentials: "parent.cred"
                  - match: "c.example.com"
                    upstream: "$sni:443"
                """);
        List<Route> routes = ConfigLoader.load(file).routes();
        assertThat(routes.get(0).delivery()).isEqualTo(new Delivery(Delivery.ProxyProtocolVersion.V2, null, null));
        Delivery throughParent = routes.get(1).delivery();
        assertThat(throughParent.via()).isEqualTo(new HostPort("proxy.corp.example", 3128));
        assertThat(throughParent.viaAuthorization())
                .isEqualTo("Basic " + Base64.getEncoder().encodeToString("alice:s3cret".getBytes(StandardCharsets.UTF_8)));
        assertThat(throughParent.toString()).doesNotContain("s3cret").doesNotContain(throughParent.viaAuthorization());
        assertThat(routes.get(2).delivery()).isSameAs(Delivery.DIRECT);
    }

    @Test
    void deliveryMistakesNeverShowTheSecret() throws Exception {
        String route = "listen: 127.0.0.1:8443\nroutes:\n  - match: a.example.com\n    upstream: $sni:443\n";
        assertError(route + "    send_proxy_protocol: v3\n",
                "routes.yaml:5: send_proxy_protocol must be v1 or v2 (leave it out to send none)");
        assertError(route + "    via: \"proxy.corp.example:3128\"\n",
                "routes.yaml:5: via \"proxy.corp.example:3128\": write the parent proxy as http://host:port, e.g."
                        + " http://proxy.corp.example:3128 (snigate speaks HTTP CONNECT to it)");
        assertError(route + "    via: \"http://alice:s3cret@proxy.corp.example:3128\"\n",
                "routes.yaml:5: via \"http://alice:s3cret@proxy.corp.example:3128\": only http://host:port: put"
                        + " credentials in a via_credentials file, never in routes.yaml");
        assertError(route + "    via_credentials: \"parent.cred\"\n",
                "routes.yaml:5: via_credentials needs via: the parent proxy they are for");
        Path noColon = Files.writeString(dir.resolve("bad.cred"), "just-a-password\n");
        assertThatThrownBy(() -> ConfigLoader.parse(route + "    via: \"http://proxy.corp.example:3128\"\n"
                        + "    via_credentials: \"" + noColon + "\"\n", "routes.yaml"))
                .hasMessage("routes.yaml:6: via_credentials \"" + noColon + "\" must hold one line, user:password")
                .hasMessageNotContaining("just-a-password");
        assertThatThrownBy(() -> ConfigLoader.parse(route + "    via: \"http://proxy.corp.example:3128\"\n"
                        + "    via_credentials: \"" + dir.resolve("missing.cred") + "\"\n", "routes.yaml"))
                .hasMessageContaining("cannot be read (NoSuchFileException)");
        // \0 in double quotes is YAML's escape for a NUL character, which no path may hold.
        assertError(route + "    via: \"http://proxy.corp.example:3128\"\n    via_credentials: \"parent\\0.cred\"\n",
                "routes.yaml:6: via_credentials \"parent\0.cred\" is not a path (Nul character not allowed); write the"
                        + " path of a file, relative to this file's folder or absolute");
    }

    @Test
    @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // without the check, opening it waits for a writer
    void credentialsFromAPipeAreRefusedRatherThanWaitedFor() throws Exception {
        Path fifo = dir.resolve("parent.fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        String route = "listen: 127.0.0.1:8443\nroutes:\n  - match: a.example.com\n    upstream: $sni:443\n";
        assertError(route + "    via: \"http://proxy.corp.example:3128\"\n    via_credentials: \"" + fifo + "\"\n",
                "routes.yaml:6: via_credentials \"" + fifo + "\" is not a regular file (a pipe or a device?); it must"
                        + " be a file holding one line, user:password");
    }

    private static void assertError(String yaml, String expectedMessage) {
        assertThatThrownBy(() -> ConfigLoader.parse(yaml, "routes.yaml"))
                .isInstanceOf(ConfigException.class)
                .hasMessage(expectedMessage);
    }
}
