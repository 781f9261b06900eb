package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The keys of transparent interception: listeners in object form, the upstreams that use the original destination, ports, marks. */
class TransparentConfigTest {
    private static final String TRANSPARENT_LISTENER = """
            listen:
              - "127.0.0.1:8443"
              - { address: "[::]:15001", original_dst: redirect }
              - address: "0.0.0.0:15002"
                original_dst: tproxy
            """;

    @Test
    void listenersInObjectFormBesidePlainAddresses() throws Exception {
        ProxyConfig config = ConfigLoader.parse(TRANSPARENT_LISTENER + "default: \"$sni:$port\"\n", "routes.yaml");

        assertThat(config.listeners()).containsExactly(
                new Listener(new HostPort("127.0.0.1", 8443), Listener.OriginalDst.NONE, null, ClientRules.ANYONE, 2),
                new Listener(new HostPort("::", 15001), Listener.OriginalDst.REDIRECT, null, ClientRules.ANYONE, 3),
                new Listener(new HostPort("0.0.0.0", 15002), Listener.OriginalDst.TPROXY, null, ClientRules.ANYONE, 4));
        assertThat(config.listeners().get(1).name()).isEqualTo("[::]:15001");
        assertThat(config.hasTransparentListener()).isTrue();
        assertThat(config.defaultUpstream()).isEqualTo(Upstream.sni(Upstream.ORIGINAL_PORT));
        assertThat(config.upstreamMark()).isZero();
    }

    @Test
    void originalDstUpstreamsWithTheirVerificationAndPorts() throws Exception {
        ProxyConfig config = ConfigLoader.parse(TRANSPARENT_LISTENER + """
                upstream_mark: 0x539
                routes:
                  - match: "a.example.com"
                    upstream: "$original_dst"
                  - match: "b.example.com"
                    upstream: "$original_dst"
                    verify_destination: false
                    allow_destinations: ["10.0.0.0/8"]
                  - match: "*.example.com"
                    ports: [443, 8443]
                    upstream: "$sni:$port"
                  - match: "*.example.com"
                    ports: 9443
                    upstream: "upstream.example.net:$port"
                """, "routes.yaml");

        assertThat(config.upstreamMark()).isEqualTo(0x539);
        List<Route> routes = config.routes();
        assertThat(routes.get(0).upstream()).isEqualTo(Upstream.originalDst());
        assertThat(routes.get(0).verifyDestination()).as("the default").isTrue();
        assertThat(routes.get(1).verifyDestination()).isFalse();
        assertThat(routes.get(1).allowDestinations()).containsExactly(Cidr.parse("10.0.0.0/8"));
        assertThat(routes.get(2).ports()).containsExactly(443, 8443);
        assertThat(routes.get(3).ports()).containsExactly(9443);
        assertThat(routes.get(3).upstream().label()).isEqualTo("upstream.example.net:$port");
    }

    @Test
    void marksAreDecimalOrHexadecimalUpToThirtyTwoBits() throws Exception {
        assertThat(ConfigLoader.parse("listen: 127.0.0.1:8443\ndefault: $sni:443\nupstream_mark: 1337\n", "r.yaml")
                .upstreamMark()).isEqualTo(1337);
        assertThat(ConfigLoader.parse("listen: 127.0.0.1:8443\ndefault: $sni:443\nupstream_mark: 0xffffffff\n", "r.yaml")
                .upstreamMark()).isEqualTo(-1);
        // "+5" and "0777": a sign, and a leading zero that iptables and nft read as octal (511).
        for (String bad : List.of("0", "0x", "0x100000000", "-1", "mark", "0x53g", "+5", "0777", "0x-5")) {
            assertError("listen: 127.0.0.1:8443\ndefault: $sni:443\nupstream_mark: \"" + bad + "\"\n",
                    "routes.yaml:3: upstream_mark \"" + bad + "\" must be a firewall mark from 1 to 0xffffffff, in hex"
                            + " (0x539) or decimal without a leading zero (1337); leave the key out for no mark");
        }
        assertThat(ConfigLoader.parse("listen: 127.0.0.1:8443\ndefault: $sni:443\nupstream_mark: 0x0539\n", "r.yaml")
                .upstreamMark()).as("hex may have leading zeros").isEqualTo(0x539);
    }

    @Test
    void listenerMistakesNameTheirLine() {
        assertError("listen:\n  - { address: \"0.0.0.0:443\", orginal_dst: redirect }\ndefault: $sni:443\n",
                "routes.yaml:2: unknown key \"orginal_dst\" in a listener; expected one of: address, original_dst, proxy_protocol, clients");
        assertError("listen:\n  - { original_dst: redirect }\ndefault: $sni:443\n",
                "routes.yaml:2: this listener has no address; add address: \"0.0.0.0:443\"");
        assertError("listen:\n  - { address: \"0.0.0.0:443\", original_dst: nat }\ndefault: $sni:443\n",
                "routes.yaml:2: original_dst \"nat\" must be none, redirect (iptables/nftables REDIRECT or DNAT)"
                        + " or tproxy (TPROXY)");
        assertError("listen:\n  - \"0.0.0.0:443\"\n  - { address: \"0.0.0.0:443\", original_dst: redirect }\n"
                        + "default: $sni:443\n",
                "routes.yaml:3: listen address \"0.0.0.0:443\" is listed twice (first at line 2); remove one");
        assertError("listen:\n  - { address: \"localhost:443\" }\ndefault: $sni:443\n",
                "routes.yaml:2: listen address \"localhost:443\": the host must be an IP address such as 0.0.0.0,"
                        + " 127.0.0.1 or [::]; names are not looked up for listening");
    }

    @Test
    void originalDstNeedsATransparentListener() {
        assertError("listen: 127.0.0.1:8443\nroutes:\n  - match: a.example.com\n    upstream: $original_dst\n",
                "routes.yaml:4: upstream \"$original_dst\" needs a listener that knows the original destination:"
                        + " give one original_dst: redirect or tproxy, or dial \"$sni:$port\" instead");
        assertError("listen: 127.0.0.1:8443\ndefault: $original_dst\n",
                "routes.yaml:2: default \"$original_dst\" needs a listener that knows the original destination:"
                        + " give one original_dst: redirect or tproxy, or dial \"$sni:$port\" instead");
    }

    @Test
    void routeKeyMistakesNameTheirLine() {
        assertError(TRANSPARENT_LISTENER + "routes:\n  - match: a.example.com\n    upstream: $sni:443\n"
                        + "    verify_destination: false\n",
                "routes.yaml:9: verify_destination only applies to a $original_dst upstream");
        assertError(TRANSPARENT_LISTENER + "routes:\n  - match: a.example.com\n    upstream: $original_dst\n"
                        + "    verify_destination: no\n",
                "routes.yaml:9: verify_destination \"no\" must be true or false");
        assertError(TRANSPARENT_LISTENER + "routes:\n  - match: a.example.com\n    upstream: 192.0.2.1:443\n"
                        + "    allow_destinations: [10.0.0.0/8]\n",
                "routes.yaml:9: allow_destinations only applies to a $sni or $original_dst upstream; an upstream"
                        + " written in the config is trusted as it is");
        assertError(TRANSPARENT_LISTENER + "routes:\n  - match: a.example.com\n    ports: []\n    upstream: $sni:443\n",
                "routes.yaml:8: ports: [] would match no client; to accept any port, leave ports out");
        assertError(TRANSPARENT_LISTENER + "routes:\n  - match: a.example.com\n    ports: [443, 70000]\n"
                        + "    upstream: $sni:443\n",
                "routes.yaml:8: ports is 70000; it must be 1 to 65535");
        assertError(TRANSPARENT_LISTENER + "routes:\n  - match: a.example.com\n    ports: [443, 443]\n"
                        + "    upstream: $sni:443\n",
                "routes.yaml:8: port 443 is listed twice");
        assertError(TRANSPARENT_LISTENER + "routes:\n  - match: a.example.com\n    upstream: \"$original_dst:443\"\n",
                "routes.yaml:8: upstream \"$original_dst:443\": $original_dst is a whole address: write it alone,"
                        + " without a port");
    }

    @Test
    void aPatternMayRepeatOnDisjointPortsButNotOnAShared() throws Exception {
        String twoRoutes = TRANSPARENT_LISTENER + """
                routes:
                  - match: "a.example.com"
                    ports: [443]
                    upstream: "$sni:443"
                  - match: "a.example.com"
                    ports: %s
                    upstream: "$sni:8443"
                """;
        assertThat(ConfigLoader.parse(twoRoutes.formatted("[8443]"), "routes.yaml").routes()).hasSize(2);
        assertError(twoRoutes.formatted("[8443, 443]"),
                "routes.yaml:10: match \"a.example.com\" is also in the route at line 7, and both accept any client"
                        + " on port 443; a name may be in several routes only with alpn lists or ports that do not overlap");
    }

    private static void assertError(String yaml, String expectedMessage) {
        assertThatThrownBy(() -> ConfigLoader.parse(yaml, "routes.yaml"))
                .isInstanceOf(ConfigException.class)
                .hasMessage(expectedMessage);
    }
}
