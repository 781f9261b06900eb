package io.snigate.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.snigate.config.ConfigLoader;
import io.snigate.config.PolicyMode;
import io.snigate.config.ProxyConfig;
import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RouteTable#decide}: the one decision the proxy and {@code snigate explain} share, with
 * client rules, the TLS floor, audit mode and names from lists.
 */
class PolicyDecisionTest {
    private static final int TLS_1_3 = TlsVersions.TLS_1_3;
    private static final List<String> H2 = List.of("h2");

    @TempDir
    Path dir;

    private static RouteTable table(String yaml) throws Exception {
        return RouteTable.from(ConfigLoader.parse("listen: [\"127.0.0.1:8443\", \"127.0.0.1:443\"]\n" + yaml, "routes.yaml"));
    }

    private static InetAddress ip(String text) throws Exception {
        return InetAddress.getByName(text);
    }

    private static final String CORP = """
            routes:
              - match: "*.corp.example"
                clients: { allow: ["10.1.0.0/16", "fd00::/8"], deny: ["10.1.66.0/24"] }
                min_tls_version: "1.3"
                upstream: "$sni:443"
            """;

    @Test
    void routeClientRulesAndTheTlsFloorRefuseInEnforceMode() throws Exception {
        RouteTable table = table(CORP);
        RouteDecision allowed = table.decide("a.corp.example", H2, 443, ip("10.1.2.3"), TLS_1_3, false, false);
        assertThat(allowed.routed()).isTrue();
        assertThat(allowed.mode()).isEqualTo(PolicyMode.ENFORCE);
        assertThat(table.decide("a.corp.example", H2, 443, ip("10.1.66.3"), TLS_1_3, false, false).rejectReason())
                .as("deny beats allow").isEqualTo(Reason.CLIENT_NOT_ALLOWED);
        assertThat(table.decide("a.corp.example", H2, 443, ip("10.2.0.1"), TLS_1_3, false, false).rejectReason())
                .isEqualTo(Reason.CLIENT_NOT_ALLOWED);
        assertThat(table.decide("a.corp.example", H2, 443, ip("fd00::5"), TLS_1_3, false, false).routed()).isTrue();
        RouteDecision oldTls = table.decide("a.corp.example", H2, 443, ip("10.1.2.3"), TlsVersions.TLS_1_2, false, false);
        assertThat(oldTls.rejectReason()).isEqualTo(Reason.TLS_VERSION_NOT_ALLOWED);
        assertThat(oldTls.routeLabel()).isEqualTo("*.corp.example");
        assertThat(oldTls.route().line()).isEqualTo(3);
    }

    @Test
    void auditModeForwardsEachPolicyVerdictToTheRoutesUpstreamAndSaysWhich() throws Exception {
        RouteTable table = table(CORP.replace("upstream: \"$sni:443\"", "upstream: \"$sni:443\"\n    mode: audit") + """
                  - match: "h2only.example"
                    alpn: ["h2"]
                    mode: audit
                    upstream: "192.0.2.2:443"
                """);
        RouteDecision client = table.decide("a.corp.example", H2, 443, ip("10.1.66.3"), TLS_1_3, false, false);
        assertThat(client.routed()).isTrue();
        assertThat(client.wouldReject()).isEqualTo(Reason.CLIENT_NOT_ALLOWED);
        assertThat(client.upstream().label()).isEqualTo("$sni:443");
        assertThat(table.decide("a.corp.example", H2, 443, ip("10.1.2.3"), TlsVersions.TLS_1_2, false, false).wouldReject())
                .isEqualTo(Reason.TLS_VERSION_NOT_ALLOWED);
        RouteDecision alpn = table.decide("h2only.example", List.of("http/1.1"), 443, ip("10.1.2.3"), TLS_1_3, false, false);
        assertThat(alpn.wouldReject()).isEqualTo(Reason.ALPN_NOT_ALLOWED);
        assertThat(alpn.upstream().label()).isEqualTo("192.0.2.2:443");
        RouteDecision clean = table.decide("a.corp.example", H2, 443, ip("10.1.2.3"), TLS_1_3, false, false);
        assertThat(clean.wouldReject()).isNull();
        assertThat(clean.mode()).as("audit mode shows on clean decisions too").isEqualTo(PolicyMode.AUDIT);
    }

    /**
     * An alpn refusal is judged by the first route in the file that serves the dialed port: a
     * route for another port neither forwards it in audit mode nor refuses it in enforce mode.
     * (Failed before: the pattern's first route decided for every port.)
     */
    @Test
    void anAlpnRefusalIsJudgedByTheFirstRouteThatServesThePort() throws Exception {
        String routes = """
                routes:
                  - match: "app.example"
                    ports: [8443]
                    mode: %s
                    upstream: "192.0.2.1:8443"
                  - match: "app.example"
                    ports: [443]
                    alpn: ["h2"]
                    mode: %s
                    upstream: "192.0.2.2:443"
                """;
        RouteTable enforcedOn443 = table(routes.formatted("audit", "enforce"));
        RouteDecision on443 = enforcedOn443.decide("app.example", List.of("http/1.1"), 443, ip("10.1.2.3"), TLS_1_3, false, false);
        assertThat(on443.routed()).as(on443.toString()).isFalse();
        assertThat(on443.rejectReason()).isEqualTo(Reason.ALPN_NOT_ALLOWED);

        RouteTable auditedOn443 = table(routes.formatted("enforce", "audit"));
        RouteDecision audited = auditedOn443.decide("app.example", List.of("http/1.1"), 443, ip("10.1.2.3"), TLS_1_3, false, false);
        assertThat(audited.wouldReject()).as(audited.toString()).isEqualTo(Reason.ALPN_NOT_ALLOWED);
        assertThat(audited.upstream().label()).isEqualTo("192.0.2.2:443");
    }

    @Test
    void anAuditedNoRouteGoesToTheAuditUpstreamOrWhereTheTransparentClientWasGoing() throws Exception {
        RouteTable withUpstream = table("policy: { mode: audit, audit_upstream: \"$sni:443\" }\n" + CORP);
        RouteDecision unmatched = withUpstream.decide("other.example", null, 8443, ip("10.9.9.9"), TLS_1_3, false, false);
        assertThat(unmatched.wouldReject()).isEqualTo(Reason.NO_ROUTE);
        assertThat(unmatched.upstream().label()).isEqualTo("$sni:443");
        assertThat(unmatched.routeLabel()).isNull();

        RouteTable without = table("policy: { mode: audit }\n" + CORP);
        RouteDecision stillRejected = without.decide("other.example", null, 8443, ip("10.9.9.9"), TLS_1_3, false, false);
        assertThat(stillRejected.rejectReason()).isEqualTo(Reason.NO_ROUTE);
        assertThat(stillRejected.mode()).as("the log says audit had nowhere to send it").isEqualTo(PolicyMode.AUDIT);
        RouteDecision transparent = without.decide("other.example", null, 8443, ip("10.9.9.9"), TLS_1_3, true, false);
        assertThat(transparent.wouldReject()).isEqualTo(Reason.NO_ROUTE);
        assertThat(transparent.upstream().label()).isEqualTo("$sni:$port");
    }

    @Test
    void theDefaultKeepsItsMeaningInAuditModeAndTheTopLevelFloorAppliesToIt() throws Exception {
        RouteTable table = table("policy: { mode: audit, audit_upstream: \"$sni:443\" }\nmin_tls_version: \"1.2\"\n"
                + "default: \"192.0.2.9:443\"\n" + CORP);
        RouteDecision unmatched = table.decide("other.example", null, 443, ip("10.9.9.9"), TLS_1_3, false, false);
        assertThat(unmatched.routeLabel()).isEqualTo("default");
        assertThat(unmatched.wouldReject()).isNull();
        assertThat(table.decide("other.example", null, 443, ip("10.9.9.9"), TlsVersions.TLS_1_1, false, false).wouldReject())
                .isEqualTo(Reason.TLS_VERSION_NOT_ALLOWED);
        RouteTable enforced = table("min_tls_version: \"1.2\"\ndefault: \"192.0.2.9:443\"\n" + CORP);
        assertThat(enforced.decide("other.example", null, 443, ip("10.9.9.9"), TlsVersions.TLS_1_1, true, false).rejectReason())
                .isEqualTo(Reason.TLS_VERSION_NOT_ALLOWED);
    }

    @Test
    void mostSpecificWinsAcrossMatchAndMatchFile() throws Exception {
        Files.writeString(dir.resolve("allow.list"), """
                .example.com
                *.deep.example.com
                exact.example.org
                """);
        ProxyConfig config = ConfigLoader.parse("""
                listen: "127.0.0.1:8443"
                routes:
                  - match: "*.example.com"
                    upstream: "192.0.2.1:443"
                  - match: ["a.deep.example.com", "exact.example.org"]
                    upstream: "192.0.2.2:443"
                  - match_file: "%s"
                    upstream: "192.0.2.3:443"
                """.formatted(dir.resolve("allow.list")), "routes.yaml");
        RouteTable table = RouteTable.from(config);
        String list = dir.resolve("allow.list").toString();
        assertThat(table.route("example.com", null, 443).routeLabel()).as("the list's apex entry").isEqualTo(list);
        assertThat(table.route("x.example.com", null, 443).routeLabel())
                .as("*.example.com and .example.com are equally specific: match wins").isEqualTo("*.example.com");
        assertThat(table.route("b.deep.example.com", null, 443).routeLabel())
                .as("the list's longer suffix beats match's shorter one").isEqualTo(list);
        assertThat(table.route("a.deep.example.com", null, 443).routeLabel())
                .as("an exact name beats any wildcard").isEqualTo("a.deep.example.com");
        assertThat(table.route("exact.example.org", null, 443).routeLabel())
                .as("the same exact name: match wins").isEqualTo("exact.example.org");
        assertThat(table.route("other.example.org", null, 443).rejectReason()).isEqualTo(Reason.NO_ROUTE);
    }

    @Test
    void anEchCoverNameIsLetThroughOnlyByARouteNamingItExactlyForThePortDialed() throws Exception {
        Files.writeString(dir.resolve("cover.list"), "listed-ech.example\n");
        RouteTable table = RouteTable.from(ConfigLoader.parse("""
                listen: "127.0.0.1:8443"
                ech: { public_names: ["cloudflare-ech.com", "listed-ech.example", "wild-ech.example"] }
                default: "192.0.2.9:443"
                routes:
                  - match: "cloudflare-ech.com"
                    ports: [8443]
                    upstream: "192.0.2.1:443"
                  - match_file: "%s"
                    upstream: "192.0.2.2:443"
                  - match: "*.example"
                    upstream: "192.0.2.3:443"
                """.formatted(dir.resolve("cover.list")), "routes.yaml"));
        assertThat(table.decide("cloudflare-ech.com", null, 8443, null, TLS_1_3, false, true).routeLabel())
                .isEqualTo("cloudflare-ech.com");
        assertThat(table.decide("cloudflare-ech.com", null, 443, null, TLS_1_3, false, true).rejectReason())
                .as("its exact route is for 8443 only: not to the default").isEqualTo(Reason.ECH_PUBLIC_NAME);
        assertThat(table.decide("listed-ech.example", null, 443, null, TLS_1_3, false, true).routeLabel())
                .as("an exact name in a list").isEqualTo(dir.resolve("cover.list").toString());
        assertThat(table.decide("wild-ech.example", null, 443, null, TLS_1_3, false, true).rejectReason())
                .as("a wildcard does not count").isEqualTo(Reason.ECH_PUBLIC_NAME);
        assertThat(table.decide("wild-ech.example", null, 443, null, TLS_1_3, false, false).routeLabel())
                .as("without ECH it routes as usual").isEqualTo("*.example");
    }

    @Test
    void routesSharingAListSplitItByAlpnAsRoutesSharingAPatternDo() throws Exception {
        Files.writeString(dir.resolve("shared.list"), "a.example\n");
        RouteTable table = RouteTable.from(ConfigLoader.parse("""
                listen: "127.0.0.1:8443"
                routes:
                  - match_file: "%1$s"
                    alpn: ["h2"]
                    upstream: "192.0.2.1:443"
                  - match_file: "%1$s"
                    upstream: "192.0.2.2:443"
                """.formatted(dir.resolve("shared.list")), "routes.yaml"));
        assertThat(table.route("a.example", H2, 443).upstream().label()).isEqualTo("192.0.2.1:443");
        assertThat(table.route("a.example", List.of("http/1.1"), 443).upstream().label())
                .as("the second route of the list, not alpn_not_allowed").isEqualTo("192.0.2.2:443");
        assertThat(table.route("a.example", null, 443).upstream().label()).isEqualTo("192.0.2.2:443");
    }
}
