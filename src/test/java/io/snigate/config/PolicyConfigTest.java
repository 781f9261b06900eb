package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snigate.core.TlsVersions;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The policy keys of routes.yaml: client rules, modes, the TLS floor, limits; each mistake with its line. */
class PolicyConfigTest {
    private static final String LISTEN = "listen: \"127.0.0.1:8443\"\n";

    private static ProxyConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "routes.yaml");
    }

    private static void assertError(String yaml, String expectedMessage) {
        assertThatThrownBy(() -> parse(yaml)).isInstanceOf(ConfigException.class).hasMessage(expectedMessage);
    }

    private static InetAddress ip(String text) throws Exception {
        return InetAddress.getByName(text);
    }

    @Test
    void everyPolicyKeyIsReadWithItsValue() throws Exception {
        ProxyConfig config = parse("""
                listen:
                  - address: "127.0.0.1:8443"
                    clients: { allow: ["10.0.0.0/8", "fd00::/8"] }
                policy: { mode: audit, audit_upstream: "$sni:443" }
                min_tls_version: "1.2"
                limits: { client_ipv6_prefix: 56 }
                routes:
                  - match: "*.corp.example"
                    clients: { allow: ["10.1.0.0/16"], deny: ["10.1.66.0/24"] }
                    mode: enforce
                    min_tls_version: "1.3"
                    max_connections: 50
                    upstream: "$sni:443"
                """);
        assertThat(config.listeners().get(0).clients().allow()).extracting(Cidr::text).containsExactly("10.0.0.0/8", "fd00::/8");
        assertThat(config.policy()).isEqualTo(new Policy(PolicyMode.AUDIT, Upstream.sni(443), true, TlsVersions.TLS_1_2, true));
        assertThat(config.limits().clientIpv6Prefix()).isEqualTo(56);
        RoutePolicy route = config.routes().get(0).policy();
        assertThat(route.clients().deny()).extracting(Cidr::text).containsExactly("10.1.66.0/24");
        assertThat(route.mode()).isEqualTo(PolicyMode.ENFORCE);
        assertThat(route.minTlsVersion()).isEqualTo(TlsVersions.TLS_1_3);
        assertThat(route.maxConnections()).isEqualTo(50);
        assertThat(config.routesInAudit()).isZero();
    }

    @Test
    void theDefaultsAreEnforceNoFloorAndAnIpv6ClientCountedByItsSlash64() throws Exception {
        ProxyConfig config = parse(LISTEN + "routes:\n  - match: a.example\n    upstream: \"$sni:443\"\n");
        assertThat(config.policy()).isEqualTo(Policy.DEFAULTS);
        assertThat(config.limits().clientIpv6Prefix()).isEqualTo(64);
        assertThat(config.listeners().get(0).clients()).isSameAs(ClientRules.ANYONE);
        assertThat(config.routes().get(0).policy()).isEqualTo(RoutePolicy.INHERITED);
        assertThat(config.routes().get(0).policy().modeUnder(config.policy())).isEqualTo(PolicyMode.ENFORCE);
    }

    @Test
    void aRouteInheritsTheTopLevelModeAndFloor() throws Exception {
        ProxyConfig config = parse(LISTEN + """
                policy: { mode: audit }
                min_tls_version: "1.2"
                routes:
                  - match: a.example
                    upstream: "$sni:443"
                """);
        RoutePolicy route = config.routes().get(0).policy();
        assertThat(route.modeUnder(config.policy())).isEqualTo(PolicyMode.AUDIT);
        assertThat(route.minTlsVersionUnder(config.policy())).isEqualTo(TlsVersions.TLS_1_2);
        assertThat(config.routesInAudit()).isOne();
    }

    @Test
    void allowAuditFalseRefusesAnAuditAnywhereWithItsLine() {
        assertError(LISTEN + """
                routes:
                  - match: a.example
                    upstream: "$sni:443"
                    mode: audit
                policy: { allow_audit: false }
                """, "routes.yaml:5: mode is audit, but policy.allow_audit is false (line 6): this site never runs"
                + " its policy open; write enforce, or remove the setting");
        assertError(LISTEN + """
                policy:
                  allow_audit: false
                  mode: audit
                routes:
                  - match: a.example
                    upstream: "$sni:443"
                """, "routes.yaml:4: policy.mode is audit, but policy.allow_audit is false (line 3): this site never"
                + " runs its policy open; write enforce, or remove the setting");
    }

    @Test
    void allowAuditFalseWithEnforceLoads() throws Exception {
        ProxyConfig config = parse(LISTEN + """
                policy: { allow_audit: false, mode: enforce }
                routes:
                  - match: a.example
                    upstream: "$sni:443"
                    mode: enforce
                """);
        assertThat(config.policy().allowAudit()).isFalse();
    }

    @Test
    void policyMistakesNameTheirLine() {
        assertError(LISTEN + "policy: { mode: permissive }\nroutes:\n  - match: a.example\n    upstream: \"$sni:443\"\n",
                "routes.yaml:2: policy.mode \"permissive\" must be enforce (refuse what the policy refuses) or audit"
                        + " (forward it, and log and count what would have been refused)");
        assertError(LISTEN + "policy: { audit_upstream: \"$sni\" }\nroutes:\n  - match: a.example\n    upstream: \"$sni:443\"\n",
                "routes.yaml:2: audit_upstream \"$sni\": the port is missing; write it as $sni:443 or $sni:$port");
        assertError(LISTEN + "policy: { audit: yes }\n",
                "routes.yaml:2: unknown key \"audit\" in policy; expected one of: mode, audit_upstream, allow_audit, recheck_on_reload");
        assertError(LISTEN + "min_tls_version: 1.4\nroutes:\n  - match: a.example\n    upstream: \"$sni:443\"\n",
                "routes.yaml:2: min_tls_version \"1.4\": write the version as \"1.0\", \"1.1\", \"1.2\" or \"1.3\"");
        assertError(LISTEN + "limits: { client_ipv6_prefix: 0 }\nroutes:\n  - match: a.example\n    upstream: \"$sni:443\"\n",
                "routes.yaml:2: limits.client_ipv6_prefix is 0; it must be 1 to 128");
    }

    @Test
    void clientRuleMistakesNameTheirLine() {
        String route = "routes:\n  - match: a.example\n    upstream: \"$sni:443\"\n";
        assertError("listen:\n  - { address: \"127.0.0.1:8443\", clients: { allow: [] } }\n" + route,
                "routes.yaml:2: clients.allow is empty, which would admit nobody; leave allow out to admit every"
                        + " client not denied");
        assertError("listen:\n  - { address: \"127.0.0.1:8443\", clients: { allow: [\"10.0.0.0/33\"] } }\n" + route,
                "routes.yaml:2: clients.allow \"10.0.0.0/33\": prefix length 33 is more than 32");
        assertError(LISTEN + route + "    clients: { permit: [\"10.0.0.0/8\"] }\n",
                "routes.yaml:5: unknown key \"permit\" in clients; expected one of: allow, deny");
        assertError(LISTEN + route + "    clients: {}\n",
                "routes.yaml:5: clients has neither allow nor deny; leave clients out to admit every client");
        assertError(LISTEN + route + "    max_connections: lots\n",
                "routes.yaml:5: max_connections \"lots\" is not a whole number of connections; it must be 0 to"
                        + " 10000000 (0 means no limit), e.g. 1000");
    }

    @Test
    void theShippedRoutesYamlDocumentsEveryPolicyKeyWithItsDefault() throws Exception {
        String shipped = java.nio.file.Files.readString(java.nio.file.Path.of("routes.yaml"));
        assertThat(shipped)
                .contains("#   clients       Default: every client.")
                .contains("#     match_file\n#               a file of names, one a line, instead of or besides match. Default: none.")
                .contains("#     clients   Default: every client the listener admitted.")
                .contains("#     min_tls_version\n#               Default: the top-level min_tls_version.")
                .contains("#     mode      Default: policy.mode.")
                .contains("#     max_connections\n#               Default: 0 (no limit). Unit: connections")
                .contains("#   mode  Default: enforce.")
                .contains("#   audit_upstream  Default: none.")
                .contains("#   allow_audit  Default: true.")
                .contains("# min_tls_version -- ")
                .contains("#   client_ipv6_prefix  Default: 64. Unit: bits");
        ProxyConfig config = ConfigLoader.load(java.nio.file.Path.of("routes.yaml"));
        assertThat(config.policy()).isEqualTo(Policy.DEFAULTS);
    }

    @Test
    void denyBeatsAllowAndAbsentAllowAdmitsEveryoneNotDenied() throws Exception {
        ClientRules rules = new ClientRules(List.of(Cidr.parse("10.1.0.0/16")), List.of(Cidr.parse("10.1.66.0/24")));
        assertThat(rules.admits(ip("10.1.2.3"))).isTrue();
        assertThat(rules.admits(ip("10.1.66.7"))).isFalse();
        assertThat(rules.admits(ip("10.2.0.1"))).isFalse();
        ClientRules denyOnly = new ClientRules(List.of(), List.of(Cidr.parse("192.0.2.0/24")));
        assertThat(denyOnly.admits(ip("198.51.100.1"))).isTrue();
        assertThat(denyOnly.admits(ip("192.0.2.9"))).isFalse();
        assertThat(ClientRules.ANYONE.admits(ip("::1"))).isTrue();
    }

    @Test
    void ipv4AndIpv6AreWrittenApartAndAMappedClientIsIpv4() throws Exception {
        ClientRules everyIpv4 = new ClientRules(List.of(Cidr.parse("0.0.0.0/0")), List.of());
        assertThat(everyIpv4.admits(ip("203.0.113.9"))).isTrue();
        assertThat(everyIpv4.admits(ip("2001:db8::1"))).as("0.0.0.0/0 holds no IPv6 client").isFalse();
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = 10;
        mapped[15] = 7;
        InetAddress mappedClient = java.net.Inet6Address.getByAddress(null, mapped, -1);
        assertThat(mappedClient).isInstanceOf(java.net.Inet6Address.class);
        ClientRules tenSlash8 = new ClientRules(List.of(Cidr.parse("10.0.0.0/8")), List.of());
        assertThat(tenSlash8.admits(mappedClient)).as("::ffff:10.0.0.7 is matched as 10.0.0.7").isTrue();
        ClientRules ipv6Only = new ClientRules(List.of(Cidr.parse("::/0")), List.of());
        assertThat(ipv6Only.admits(mappedClient)).isFalse();
        ClientRules mappedDeny = new ClientRules(List.of(), List.of(Cidr.parse("::ffff:10.0.0.0/104")));
        assertThat(mappedDeny.admits(mappedClient)).as("a rule written mapped is the IPv4 range it spells").isFalse();
        assertThat(mappedDeny.admits(ip("10.9.9.9"))).isFalse();
        assertThat(mappedDeny.admits(ip("11.0.0.1"))).isTrue();
    }

    /** Slips that an allowlist must not take silently: octal-looking parts, and bits past the prefix. */
    @Test
    void rangesWithALeadingZeroOrBitsPastThePrefixAreRefusedWithTheFix() {
        assertThatThrownBy(() -> Cidr.parse("010.0.0.0/8")).hasMessage(
                "\"010.0.0.0\" has a leading zero, which some tools read as octal; write each part of the address without one");
        assertThatThrownBy(() -> Cidr.parse("10.1.2.3/16")).hasMessage(
                "\"10.1.2.3/16\" has bits set past its /16; write the range's first address (10.1.0.0/16), or the one "
                        + "address (10.1.2.3)");
        assertThatThrownBy(() -> Cidr.parse("fd00::1/8")).hasMessageContaining("(fd00::/8)");
        assertThat(Cidr.parse("10.1.0.0/16")).isEqualTo(Cidr.parse("10.1.0.0/16"));
        assertThat(Cidr.parse("10.1.2.3")).as("an address alone is its /32").isEqualTo(Cidr.parse("10.1.2.3/32"));
    }
}
