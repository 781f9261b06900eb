package io.snigate.explain;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TestDnsServer;
import io.snigate.testing.TlsServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code snigate explain}: against the shipped routes.yaml and a test config, each kind of answer
 * with its exit status, and the answers checked against what the running proxy does with the same
 * connections.
 */
@ExtendWith(NettyLeaks.class)
class ExplainTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private record Answer(int exitCode, String out, String err) {
        JsonNode json() throws IOException {
            return JSON.readTree(out);
        }
    }

    private static Answer explain(String... args) throws InterruptedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Explain.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Answer(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The line of routes.yaml where {@code text} first stands, as explain names it. */
    private static String shippedLine(String text) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("routes.yaml"));
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("  - ") && lines.get(i).contains(text)) {
                return "routes.yaml:" + (i + 1);
            }
        }
        throw new AssertionError(text + " is not a route of the shipped routes.yaml");
    }

    @Test
    void theShippedConfigForwardedAndRefused() throws Exception {
        Answer api = explain("--config", "routes.yaml", "--sni", "API.example.com.");
        assertThat(api.exitCode()).as(api.err()).isZero();
        assertThat(api.out()).startsWith("snigate explain: api.example.com: forwarded\n")
                .contains("  route          api.example.com (" + shippedLine("\"api.example.com\"") + ")\n")
                .contains("  verdict        forwarded\n")
                .contains("  upstream       192.0.2.10:443: dials 192.0.2.10:443\n");

        Answer unknown = explain("--config", "routes.yaml", "--sni", "nowhere.example");
        assertThat(unknown.exitCode()).isEqualTo(1);
        assertThat(unknown.out()).contains("  route          none matched\n")
                .contains("  verdict        refused at route: no_route; the client gets the TLS alert unrecognized_name\n");

        Answer alpn = explain("--config", "routes.yaml", "--sni", "h2.example.net", "--alpn", "http/1.1", "--json");
        assertThat(alpn.exitCode()).isEqualTo(1);
        JsonNode json = alpn.json();
        assertThat(json.get("reason").asText()).isEqualTo("alpn_not_allowed");
        assertThat(json.get("tls_alert").asText()).isEqualTo("no_application_protocol");
        assertThat(json.get("alpn").toString()).isEqualTo("[\"http/1.1\"]");

        Answer sni = explain("--config", "routes.yaml", "--sni", "www.example.org", "--alpn", "h2,http/1.1", "--json");
        assertThat(sni.exitCode()).isZero();
        assertThat(sni.json().get("route_line").asText()).isEqualTo(shippedLine("\"*.example.org\""));
        assertThat(sni.json().get("upstream").asText()).isEqualTo("$sni:443");
        assertThat(sni.json().get("dials").asText()).isEqualTo("www.example.org:443");
    }

    private Path testConfig(String extraTopLevel, int upstreamPort) throws IOException {
        Files.writeString(dir.resolve("allow.list"), "# written by another tool\nok.example\n.partner.example\n");
        return Files.writeString(dir.resolve("routes.yaml"), """
                listen:
                  - address: "127.0.0.1:0"
                    clients: { allow: ["127.0.0.0/24"], deny: ["127.0.0.66"] }
                admin: "127.0.0.1:0"
                %s
                routes:
                  - match: "corp.e2e.test"
                    clients: { allow: ["127.0.0.0/24"], deny: ["127.0.0.9"] }
                    upstream: "127.0.0.1:%d"
                  - match: "modern.e2e.test"
                    min_tls_version: "1.3"
                    upstream: "127.0.0.1:%d"
                  - match: "h2only.e2e.test"
                    alpn: ["h2"]
                    upstream: "127.0.0.1:%d"
                  - match_file: "allow.list"
                    max_connections: 10
                    upstream: "127.0.0.1:%d"
                """.formatted(extraTopLevel, upstreamPort, upstreamPort, upstreamPort, upstreamPort));
    }

    @Test
    void eachKindOfRefusalWithItsStageAndAlert() throws Exception {
        String config = testConfig("", 443).toString();
        JsonNode atAccept = explain("-c", config, "--sni", "corp.e2e.test", "--client", "127.0.0.66", "--json").json();
        assertThat(atAccept.get("reason").asText()).isEqualTo("client_not_allowed");
        assertThat(atAccept.get("stage").asText()).isEqualTo("accept");
        assertThat(atAccept.get("tls_alert").isNull()).as("closed before a byte is read").isTrue();

        Answer byRoute = explain("-c", config, "--sni", "corp.e2e.test", "--client", "127.0.0.9");
        assertThat(byRoute.exitCode()).isEqualTo(1);
        assertThat(byRoute.out()).contains("  route          corp.e2e.test (" + config + ":7)\n")
                .contains("  route clients  allow [127.0.0.0/24], deny [127.0.0.9]\n")
                .contains("  verdict        refused at route: client_not_allowed; the client gets the TLS alert access_denied\n");

        JsonNode oldTls = explain("-c", config, "--sni", "modern.e2e.test", "--tls", "1.2", "--json").json();
        assertThat(oldTls.get("reason").asText()).isEqualTo("tls_version_not_allowed");
        assertThat(oldTls.get("tls_alert").asText()).isEqualTo("protocol_version");
        assertThat(explain("-c", config, "--sni", "modern.e2e.test", "--tls", "1.3").exitCode()).isZero();

        JsonNode invalid = explain("-c", config, "--sni", "bad..name", "--json").json();
        assertThat(invalid.get("reason").asText()).isEqualTo("invalid_sni");
        assertThat(invalid.get("stage").asText()).isEqualTo("pre-read");
    }

    @Test
    void anEchCoverNameIsRefusedOnlyWithEch() throws Exception {
        String config = testConfig("ech: { public_names: [\"ok.example\", \"cover.partner.example\"] }", 443).toString();
        JsonNode cover = explain("-c", config, "--sni", "cover.partner.example", "--ech", "--json").json();
        assertThat(cover.get("reason").asText()).isEqualTo("ech_public_name");
        assertThat(cover.get("tls_alert").asText()).isEqualTo("access_denied");
        assertThat(cover.get("ech").asBoolean()).isTrue();
        assertThat(explain("-c", config, "--sni", "cover.partner.example", "--ech").out())
                .contains("highest TLS version TLSv1.3, ECH\n");
        assertThat(explain("-c", config, "--sni", "cover.partner.example", "--json").json().get("outcome").asText())
                .as("without ECH the list's wildcard routes it").isEqualTo("forwarded");
        assertThat(explain("-c", config, "--sni", "ok.example", "--ech", "--json").json().get("outcome").asText())
                .as("the list names it exactly").isEqualTo("forwarded");
    }

    @Test
    void aNameFromAListShowsTheListsLine() throws Exception {
        String config = testConfig("", 443).toString();
        Answer listed = explain("-c", config, "--sni", "shop.partner.example");
        assertThat(listed.exitCode()).isZero();
        assertThat(listed.out()).contains("  route          allow.list (" + config + ":16)\n")
                .contains("  matched by     " + dir.resolve("allow.list") + ":3: .partner.example\n")
                .contains("  route limit    10 connections at once (connection_limit beyond)\n");
    }

    @Test
    void auditModeSaysWhatEnforceWouldDo() throws Exception {
        String config = testConfig("policy: { mode: audit, audit_upstream: \"$sni:443\" }", 443).toString();
        Answer audited = explain("-c", config, "--sni", "corp.e2e.test", "--client", "127.0.0.9");
        assertThat(audited.exitCode()).as("forwarded in audit mode").isZero();
        assertThat(audited.out()).contains("  policy mode    audit\n")
                .contains("  verdict        forwarded in audit mode; in enforce mode it would be refused: client_not_allowed\n");
        JsonNode unmatched = explain("-c", config, "--sni", "other.example", "--json").json();
        assertThat(unmatched.get("would_reject").asText()).isEqualTo("no_route");
        assertThat(unmatched.get("upstream").asText()).isEqualTo("$sni:443");
        assertThat(unmatched.get("dials").asText()).isEqualTo("other.example:443");

        String nowhere = testConfig("policy: { mode: audit }", 443).toString();
        Answer stillRefused = explain("-c", nowhere, "--sni", "other.example");
        assertThat(stillRefused.exitCode()).isEqualTo(1);
        assertThat(stillRefused.out()).contains("refused at route: no_route; the client gets the TLS alert"
                + " unrecognized_name; audit mode has nowhere to send it: set policy.audit_upstream\n");
    }

    @Test
    void resolveJudgesEachAddressByTheDestinationPolicy() throws Exception {
        try (TestDnsServer dns = new TestDnsServer()) {
            dns.answer("inside.example", InetAddress.getByName("127.0.0.1"), 60);
            Path config = Files.writeString(dir.resolve("dns.yaml"), """
                    listen: "127.0.0.1:8443"
                    resolvers: ["%s"]
                    routes:
                      - match: "inside.example"
                        upstream: "$sni:443"
                      - match: "opted.in.example"
                        upstream: "inside.example:443"
                    """.formatted(dns.hostPort()));
            Answer refused = explain("-c", config.toString(), "--sni", "inside.example", "--resolve");
            assertThat(refused.exitCode()).as(refused.err()).isEqualTo(1);
            assertThat(refused.out()).contains("  resolved       127.0.0.1:443 forbidden_destination\n")
                    .contains("refused at connect: forbidden_destination; the client gets the TLS alert access_denied");
            Answer trusted = explain("-c", config.toString(), "--sni", "opted.in.example", "--resolve", "--json");
            assertThat(trusted.exitCode()).as("an upstream written in the config is trusted").isZero();
            assertThat(trusted.json().get("resolved").toString()).isEqualTo("[\"127.0.0.1:443 allowed\"]");
            JsonNode missing = explain("-c", config.toString(), "--sni", "nxdomain.example", "--resolve", "--json").json();
            assertThat(missing.get("reason").asText()).as("no route: nothing to resolve").isEqualTo("no_route");
        }
    }

    /**
     * Through a parent proxy (via) the connect stage neither resolves the name nor judges its
     * addresses: the parent does. explain says so, and forwards a name only the parent could
     * resolve (before: it looked the name up itself and answered dns_failure, exit 1, for a
     * connection the proxy forwards).
     */
    @Test
    void resolveThroughAParentProxyLeavesTheNameToTheParent() throws Exception {
        try (TestDnsServer dns = new TestDnsServer()) {
            Path config = Files.writeString(dir.resolve("via.yaml"), """
                    listen: "127.0.0.1:8443"
                    resolvers: ["%s"]
                    routes:
                      - match: "*.inside.example"
                        upstream: "$sni:443"
                        via: "http://127.0.0.1:3128"
                    """.formatted(dns.hostPort()));
            Answer answer = explain("-c", config.toString(), "--sni", "only.the.parent.inside.example", "--resolve");
            assertThat(answer.exitCode()).as(answer.out() + answer.err()).isZero();
            assertThat(answer.out())
                    .contains("  upstream       $sni:443: dials the parent proxy 127.0.0.1:3128"
                            + " (CONNECT only.the.parent.inside.example:443)\n")
                    .contains("  resolved       by the parent proxy, whose destination policy applies\n");
        }
    }

    @Test
    void usageAndConfigErrorsExitTwo() throws Exception {
        Answer noSni = explain("--config", "routes.yaml");
        assertThat(noSni.exitCode()).isEqualTo(2);
        assertThat(noSni.err()).startsWith("snigate explain: --sni NAME is required").contains("Usage: snigate explain");
        assertThat(explain("--sni", "a.example", "--client", "not-an-ip").err())
                .startsWith("snigate explain: --client \"not-an-ip\" is not an IP address");
        assertThat(explain("--sni", "a.example", "--tls", "1.4").exitCode()).isEqualTo(2);
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "listen: \"127.0.0.1:8443\"\npolicy: { allow_audit: false }\n"
                + "routes:\n  - match: a.example\n    upstream: \"$sni:443\"\n    mode: audit\n");
        Answer badConfig = explain("-c", bad.toString(), "--sni", "a.example");
        assertThat(badConfig.exitCode()).isEqualTo(2);
        assertThat(badConfig.err()).isEqualTo("snigate: " + bad + ":6: mode is audit, but policy.allow_audit is false"
                + " (line 2): this site never runs its policy open; write enforce, or remove the setting\n");
        assertThat(explain("--help").out()).startsWith("Usage: snigate explain");
    }

    /** One connection, asked of explain and made through the proxy. */
    private record Case(String from, String sni, String alpn, String tls) {}

    @Test
    void explainAgreesWithTheRunningProxy() throws Exception {
        TestCerts certs = TestCerts.forNames("corp.e2e.test", "modern.e2e.test", "h2only.e2e.test", "ok.example",
                "shop.partner.example", "other.example");
        try (TlsServer server = new TlsServer(certs, List.of("h2", "http/1.1"))) {
            for (String policy : List.of("", "policy: { mode: audit, audit_upstream: \"127.0.0.1:" + server.port() + "\" }")) {
                Path config = testConfig(policy, server.port());
                List<Case> cases = List.of(
                        new Case("127.0.0.5", "corp.e2e.test", "h2", "TLSv1.3"),
                        new Case("127.0.0.9", "corp.e2e.test", "h2", "TLSv1.3"),
                        new Case("127.0.0.5", "modern.e2e.test", "h2", "TLSv1.2"),
                        new Case("127.0.0.5", "h2only.e2e.test", "http/1.1", "TLSv1.3"),
                        new Case("127.0.0.5", "shop.partner.example", "h2", "TLSv1.3"),
                        new Case("127.0.0.5", "other.example", "h2", "TLSv1.3"),
                        new Case("127.0.0.66", "ok.example", "h2", "TLSv1.3"));
                List<String> explained = new ArrayList<>();
                List<String> proxied = new ArrayList<>();
                try (ProxyHarness proxy = ProxyHarness.startFile(config)) {
                    for (Case c : cases) {
                        JsonNode answer = explain("-c", config.toString(), "--sni", c.sni(), "--alpn", c.alpn(),
                                "--client", c.from(), "--tls", c.tls().substring(4), "--json").json();
                        explained.add(summary(answer));
                        connect(proxy, certs, c);
                        proxied.add(summary(proxy.nextLog()));
                    }
                }
                assertThat(proxied).as("policy: " + policy).isEqualTo(explained);
                assertThat(explained).as("every kind of answer is among the cases").anyMatch(s -> s.contains("rejected"));
            }
        }
    }

    /**
     * What explain and the access log both say: outcome, reason, route, mode and audit verdict. A
     * forwarded connection's reason in the log says how its tunnel ended (the client's TLS stack
     * may close while the server's last record is on its way, and its kernel then resets), which
     * explain cannot know: it is left out for those.
     */
    private static String summary(JsonNode node) {
        String outcome = text(node, "outcome");
        return String.join(" ", outcome, outcome.equals("forwarded") ? "-" : text(node, "reason"), text(node, "route"),
                text(node, "policy_mode"), text(node, "would_reject"));
    }

    private static String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? "-" : value.asText();
    }

    private static void connect(ProxyHarness proxy, TestCerts certs, Case c) throws IOException {
        Socket tcp = new Socket();
        tcp.bind(new InetSocketAddress(InetAddress.getByName(c.from()), 0));
        tcp.connect(proxy.address(), 10_000);
        tcp.setSoTimeout(15_000);
        try (SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory().createSocket(tcp, c.sni(), 443, true)) {
            SSLParameters params = tls.getSSLParameters();
            params.setServerNames(List.of(new SNIHostName(c.sni())));
            params.setApplicationProtocols(new String[] {c.alpn()});
            params.setProtocols(new String[] {c.tls()});
            tls.setSSLParameters(params);
            tls.startHandshake();
        } catch (IOException refused) {
            // The proxy's answer is in its access log.
        }
    }
}
