package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snigate.core.RouteLabels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    /** The example of the configuration contract, verbatim. */
    private static final String CONTRACT_EXAMPLE = """
            listen: ["0.0.0.0:443"]
            admin: "127.0.0.1:9090"
            routes:
              - match: "api.example.com"
                upstream: "192.0.2.10:443"
              - match: ["*.example.org", "example.org"]
                upstream: "$sni:443"
              - match: "h2.example.net"
                alpn: ["h2"]
                upstream: "192.0.2.20:443"
            default: reject
            timeouts: { preread: 10s, connect: 5s, idle: 15m }
            limits:   { max_client_hello_bytes: 16384 }
            resolvers: ["127.0.0.1:53"]
            """;

    private static final String ROUTE = """
            routes:
              - match: "api.example.com"
                upstream: "192.0.2.10:443"
            """;

    @Test
    void theShippedRoutesYamlLoads() throws Exception {
        ProxyConfig config = ConfigLoader.load(Path.of("routes.yaml"));

        assertThat(config.source()).isEqualTo("routes.yaml");
        assertThat(listenAddresses(config)).containsExactly(new HostPort("127.0.0.1", 8443));
        assertThat(config.admin()).isEqualTo(new HostPort("127.0.0.1", 9090));
        assertThat(config.routes()).isNotEmpty();
        assertThat(config.timeouts()).isEqualTo(Timeouts.DEFAULTS);
        assertThat(config.limits()).isEqualTo(Limits.DEFAULTS);
    }

    /**
     * The shipped routes.yaml is the reference of every key: each top-level key the loader accepts
     * has a "# key --" section there that gives its default, and each key of a nested mapping is
     * named in the section of the top-level key it belongs under.
     */
    @Test
    void theShippedRoutesYamlDocumentsEveryKeyTheReadersAccept() throws Exception {
        String text = Files.readString(Path.of("routes.yaml"));
        Map<String, String> sections = new LinkedHashMap<>();
        Matcher header = Pattern.compile("(?m)^# ([a-z0-9_]+) -- ").matcher(text);
        String key = null;
        int start = 0;
        while (header.find()) {
            if (key != null) {
                sections.put(key, text.substring(start, header.start()));
            }
            key = header.group(1);
            start = header.start();
        }
        if (key != null) {
            sections.put(key, text.substring(start));
        }
        assertThat(sections.keySet()).as("the top-level keys with a \"# key --\" section in routes.yaml")
                .containsExactlyInAnyOrderElementsOf(ConfigLoader.TOP_LEVEL_KEYS);
        sections.forEach((name, section) -> assertThat(section).as("the section of %s in routes.yaml", name)
                .contains("Default"));
        Map<String, List<List<String>>> nested = Map.of(
                "listen", List.of(ListenersReader.LISTENER_KEYS, ListenersReader.PROXY_PROTOCOL_KEYS, PolicyReader.CLIENT_KEYS),
                "routes", List.of(RoutesReader.ROUTE_KEYS, PolicyReader.CLIENT_KEYS),
                "policy", List.of(PolicyReader.POLICY_KEYS),
                "timeouts", List.of(SettingsReader.TIMEOUT_KEYS),
                "limits", List.of(SettingsReader.LIMIT_KEYS),
                "ech", List.of(SettingsReader.ECH_KEYS),
                "access_log", List.of(SettingsReader.ACCESS_LOG_KEYS));
        List<String> missing = new ArrayList<>();
        nested.forEach((parent, keySets) -> keySets.stream().flatMap(List::stream).forEach(nestedKey -> {
            String section = sections.getOrDefault(parent, "");
            if (!Pattern.compile("(?<![a-z_])" + nestedKey + "(?![a-z_])").matcher(section).find()) {
                missing.add(parent + "." + nestedKey);
            }
        }));
        assertThat(missing).as("keys the readers accept that routes.yaml does not name in their section").isEmpty();
    }

    @Test
    void theContractExampleLoadsIntoTheExpectedRecords() throws Exception {
        ProxyConfig config = ConfigLoader.parse(CONTRACT_EXAMPLE, "routes.yaml");

        assertThat(listenAddresses(config)).containsExactly(new HostPort("0.0.0.0", 443));
        assertThat(config.admin()).isEqualTo(new HostPort("127.0.0.1", 9090));
        assertThat(config.routes()).containsExactly(
                route(List.of("api.example.com"), List.of(), Upstream.fixed(new HostPort("192.0.2.10", 443)), 4),
                route(List.of("*.example.org", "example.org"), List.of(), Upstream.sni(443), 6),
                route(List.of("h2.example.net"), List.of("h2"), Upstream.fixed(new HostPort("192.0.2.20", 443)), 8));
        assertThat(config.defaultUpstream()).isNull();
        assertThat(config.timeouts()).isEqualTo(new Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(5),
                Duration.ofMinutes(15), Duration.ofSeconds(30), Duration.ofSeconds(60)));
        assertThat(config.limits()).isEqualTo(Limits.DEFAULTS);
        assertThat(config.resolvers()).containsExactly(new HostPort("127.0.0.1", 53));
    }

    @Test
    void onlyListenAndOneRouteAreRequiredAndEverythingElseHasADefault() throws Exception {
        ProxyConfig config = ConfigLoader.parse("listen: 127.0.0.1:8443\n" + ROUTE, "routes.yaml");

        assertThat(listenAddresses(config)).containsExactly(new HostPort("127.0.0.1", 8443));
        assertThat(config.admin()).isEqualTo(ProxyConfig.DEFAULT_ADMIN);
        assertThat(config.defaultUpstream()).isNull();
        assertThat(config.timeouts()).isEqualTo(Timeouts.DEFAULTS);
        assertThat(config.limits()).isEqualTo(Limits.DEFAULTS);
        assertThat(config.resolvers()).isEmpty();
    }

    @Test
    void patternsAreNormalizedAndIpv6AddressesKeepNoBrackets() throws Exception {
        ProxyConfig config = ConfigLoader.parse("""
                listen: ["[::]:443", "0.0.0.0:443"]
                routes:
                  - match: ["API.Example.COM.", "*.Example.org"]
                    upstream: "[2001:db8::1]:8443"
                default: "Fallback.Example.com:443"
                """, "routes.yaml");

        assertThat(listenAddresses(config)).containsExactly(new HostPort("::", 443), new HostPort("0.0.0.0", 443));
        assertThat(config.listeners().get(0).name()).isEqualTo("[::]:443");
        Route route = config.routes().get(0);
        assertThat(route.match()).containsExactly("api.example.com", "*.example.org");
        assertThat(route.upstream().label()).isEqualTo("[2001:db8::1]:8443");
        assertThat(config.defaultUpstream()).isEqualTo(Upstream.fixed(new HostPort("fallback.example.com", 443)));
    }

    @Test
    void aDefaultUpstreamAloneIsEnough() throws Exception {
        ProxyConfig config = ConfigLoader.parse("listen: 127.0.0.1:8443\ndefault: $sni:443\n", "routes.yaml");

        assertThat(config.routes()).isEmpty();
        assertThat(config.defaultUpstream()).isEqualTo(Upstream.sni(443));
    }

    @Test
    void aPatternMayRepeatWithDisjointAlpnListsAndOnceWithout() throws Exception {
        ProxyConfig config = ConfigLoader.parse("""
                listen: 127.0.0.1:8443
                routes:
                  - match: "app.example.com"
                    upstream: "192.0.2.1:443"
                  - match: "app.example.com"
                    alpn: ["h2"]
                    upstream: "192.0.2.2:443"
                  - match: "app.example.com"
                    alpn: ["http/1.1", "acme-tls/1"]
                    upstream: "192.0.2.3:443"
                """, "routes.yaml");

        assertThat(config.routes()).hasSize(3);
    }

    // --- every mistake names the file, the line and the fix

    @Test
    void unknownKeyAtTheTopLevel() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "rotues: []\n",
                "routes.yaml:5: unknown key \"rotues\" at the top level; expected one of: "
                        + "listen, admin, routes, default, policy, min_tls_version, timeouts, limits, resolvers, nat64_prefixes, upstream_mark, ech, access_log");
    }

    @Test
    void nat64PrefixesAreIpv6PrefixesOfRfc6052Lengths() throws Exception {
        ProxyConfig config = ConfigLoader.parse("listen: 127.0.0.1:8443\n" + ROUTE
                + "nat64_prefixes: [\"2001:db8:64::/96\", \"2001:db8:100::/40\"]\n", "routes.yaml");
        assertThat(config.nat64Prefixes()).extracting(Nat64Prefix::toString)
                .containsExactly("2001:db8:64::/96", "2001:db8:100::/40");
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "nat64_prefixes:\n  - \"64:ff9b::/96\"\n  - \"2001:db8::/33\"\n",
                "routes.yaml:7: nat64_prefixes \"2001:db8::/33\": /33 is not a NAT64 prefix length; RFC 6052 allows"
                        + " /32, /40, /48, /56, /64 and /96");
    }

    @Test
    void unknownKeyInARoute() {
        assertError("""
                listen: 127.0.0.1:8443
                routes:
                  - match: "api.example.com"
                    upstrem: "192.0.2.10:443"
                """,
                "routes.yaml:4: unknown key \"upstrem\" in a route; expected one of: match, match_file, alpn, ports, upstream, allow_destinations, verify_destination, clients, mode, min_tls_version, max_connections, send_proxy_protocol, via, via_credentials");
    }

    @Test
    void unknownKeyInTimeouts() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts:\n  preread: 10s\n  idel: 15m\n",
                "routes.yaml:7: unknown key \"idel\" in timeouts; expected one of: preread, connect, idle, drain, half_closed");
    }

    @Test
    void duplicateKey() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "listen: 127.0.0.1:9443\n",
                "routes.yaml:5: key \"listen\" appears twice at the top level (first at line 1); keep only one");
    }

    @Test
    void portOutOfRange() {
        assertError("listen: [\"0.0.0.0:99999\"]\n" + ROUTE,
                "routes.yaml:1: listen address \"0.0.0.0:99999\": port must be 1 to 65535");
    }

    @Test
    void listenAddressWithoutPort() {
        assertError("listen: 0.0.0.0\n" + ROUTE,
                "routes.yaml:1: listen address \"0.0.0.0\": the port is missing; "
                        + "write it as host:port, e.g. 192.0.2.10:443 or [2001:db8::1]:443");
    }

    @Test
    void listenAddressThatIsAName() {
        assertError("listen:\n  - 127.0.0.1:8443\n  - localhost:8443\n" + ROUTE,
                "routes.yaml:3: listen address \"localhost:8443\": the host must be an IP address such as "
                        + "0.0.0.0, 127.0.0.1 or [::]; names are not looked up for listening");
    }

    @Test
    void ipv6ListenAddressWithoutBrackets() {
        assertError("listen: \"::1:8443\"\n" + ROUTE,
                "routes.yaml:1: listen address \"::1:8443\": an IPv6 address must be in brackets, "
                        + "as in [2001:db8::1]:443");
    }

    @Test
    void duplicateListenAddress() {
        assertError("listen:\n  - \"[::1]:8443\"\n  - \"[0:0:0:0:0:0:0:1]:8443\"\n" + ROUTE,
                "routes.yaml:3: listen address \"[0:0:0:0:0:0:0:1]:8443\" is listed twice (first at line 2); "
                        + "remove one");
    }

    @Test
    void missingListen() {
        assertError(ROUTE, "routes.yaml: no listen address; add for example listen: [\"0.0.0.0:443\"]");
    }

    @Test
    void adminOnAListenAddress() throws ConfigException {
        assertError("listen: 127.0.0.1:8443\nadmin: 127.0.0.1:8443\n" + ROUTE,
                "routes.yaml:2: admin address \"127.0.0.1:8443\" is also a listen address (line 1); "
                        + "give the admin endpoint its own port");
        // A wildcard on the same port takes the other's connections, whichever is the admin.
        assertError("listen: 0.0.0.0:8443\nadmin: 127.0.0.1:8443\n" + ROUTE,
                "routes.yaml:2: admin address \"127.0.0.1:8443\" is also a listen address (line 1); "
                        + "give the admin endpoint its own port");
        assertError("listen: 127.0.0.1:8443\nadmin: \"[::]:8443\"\n" + ROUTE,
                "routes.yaml:2: admin address \"[::]:8443\" is also a listen address (line 1); "
                        + "give the admin endpoint its own port");
        assertThat(ConfigLoader.parse("listen: \"[::1]:8443\"\nadmin: 0.0.0.0:8443\n" + ROUTE, "routes.yaml").admin().port())
                .as("an IPv4 wildcard holds no IPv6 address").isEqualTo(8443);
    }

    /**
     * A listener on an address inside another's wildcard, on one port, takes the connections to
     * that address under its own rules (the kernel's choice, and nginx's per-address listens): said,
     * not refused. Two wildcards ([::] beside 0.0.0.0: IPv4 always goes to the IPv4 socket) and
     * alike listeners are not.
     */
    @Test
    void aNarrowerListenerWithOtherRulesIsSaid() throws ConfigException {
        ProxyConfig narrower = ConfigLoader.parse("""
                listen:
                  - "127.0.0.1:8443"
                  - { address: "0.0.0.0:8443", clients: { allow: ["10.0.0.0/8"] } }
                  - { address: "[::]:8443", proxy_protocol: { trusted: ["10.0.0.0/8"] } }
                """ + ROUTE, "routes.yaml");
        assertThat(narrower.narrowerListenersWithOtherRules()).containsExactly(
                "listen 127.0.0.1:8443 (line 2) takes the connections to its address that 0.0.0.0:8443 (line 3) would"
                        + " otherwise take, under its own clients, original_dst and proxy_protocol, which differ from the"
                        + " wider one's",
                "listen 127.0.0.1:8443 (line 2) takes the connections to its address that [::]:8443 (line 4) would"
                        + " otherwise take, under its own clients, original_dst and proxy_protocol, which differ from the"
                        + " wider one's");
        assertThat(ConfigLoader.parse("""
                listen:
                  - { address: "0.0.0.0:8443", proxy_protocol: { trusted: ["10.0.0.0/8"] } }
                  - "[::]:8443"
                  - { address: "10.1.2.3:9443", clients: { allow: ["10.0.0.0/8"] } }
                  - { address: "0.0.0.0:9443", clients: { allow: ["10.0.0.0/8"] } }
                """ + ROUTE, "routes.yaml").narrowerListenersWithOtherRules()).isEmpty();
    }

    /** A route's port no listener takes (none transparent): its names would go to a wider route. */
    @Test
    void aRoutePortNoListenerTakes() throws ConfigException {
        assertError("""
                listen: "127.0.0.1:8443"
                routes:
                  - match: "secret.example.com"
                    ports: [8443, 443]
                    upstream: "192.0.2.10:443"
                """,
                "routes.yaml:4: port 443: no listener takes it, so no client reaches this route through it (and a wider"
                        + " route gets its names); list a port a listener has (127.0.0.1:8443), or add a listener on it");
        assertThat(ConfigLoader.parse("""
                listen: "127.0.0.1:8443"
                routes:
                  - match: "secret.example.com"
                    ports: [8443]
                    upstream: "192.0.2.10:443"
                """, "routes.yaml").routes()).hasSize(1);
    }

    @Test
    void durationWithoutUnit() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts: { preread: 10 }\n",
                "routes.yaml:5: duration \"10\" has no unit; write it like 10s, 500ms, 5m or 1h");
    }

    @Test
    void badDuration() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts:\n  connect: 5 seconds\n",
                "routes.yaml:6: duration \"5 seconds\" has an unknown unit \" seconds\"; "
                        + "use ms, s, m or h, as in 10s, 500ms, 5m or 1h");
    }

    @Test
    void zeroConnectTimeout() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts:\n  connect: 0s\n",
                "routes.yaml:6: timeouts.connect must be more than 0");
    }

    /**
     * Durations have an upper bound, checked at load: a client or upstream that has not answered
     * within an hour will not, no tunnel needs to wait more than a week, and beyond such values
     * the timers' arithmetic overflows at run time.
     */
    @Test
    void durationsAboveTheirBoundAreRefusedWithTheRange() throws Exception {
        for (String key : List.of("preread", "connect")) {
            assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts:\n  " + key + ": 2600000h\n",
                    "routes.yaml:6: timeouts." + key + " \"2600000h\" is too long: it must be 1ms to 1h");
            assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts:\n  " + key + ": 3601s\n",
                    "routes.yaml:6: timeouts." + key + " \"3601s\" is too long: it must be 1ms to 1h");
        }
        for (String key : List.of("idle", "drain", "half_closed")) {
            assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts:\n  " + key + ": 2600000h\n",
                    "routes.yaml:6: timeouts." + key + " \"2600000h\" is too long: it must be 0s to 168h (7 days)");
            assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts:\n  " + key + ": 169h\n",
                    "routes.yaml:6: timeouts." + key + " \"169h\" is too long: it must be 0s to 168h (7 days)");
        }
        assertError("listen:\n  - { address: \"0.0.0.0:443\", proxy_protocol: { trusted: [\"10.0.0.0/8\"], timeout: 61m } }\n"
                        + ROUTE,
                "routes.yaml:2: proxy_protocol.timeout \"61m\" is too long: it must be 1ms to 1h");
        ProxyConfig atTheBounds = ConfigLoader.parse("listen:\n  - { address: \"0.0.0.0:443\", proxy_protocol:"
                + " { trusted: [\"10.0.0.0/8\"], timeout: 1h } }\n" + ROUTE
                + "timeouts: { preread: 60m, connect: 3600s, idle: 168h, drain: 10080m, half_closed: 604800000ms }\n",
                "routes.yaml");
        assertThat(atTheBounds.timeouts()).isEqualTo(new Timeouts(Duration.ofHours(1), Duration.ofHours(1),
                Duration.ofDays(7), Duration.ofDays(7), Duration.ofDays(7)));
        assertThat(atTheBounds.listeners().get(0).proxyProtocol().timeout()).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void zeroIdleTimeoutTurnsItOff() throws Exception {
        ProxyConfig config = ConfigLoader.parse(
                "listen: 127.0.0.1:8443\n" + ROUTE + "timeouts: { idle: 0s }\n", "routes.yaml");

        assertThat(config.timeouts().idle()).isZero();
    }

    @Test
    void clientHelloLimitOutOfRange() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "limits: { max_client_hello_bytes: 100 }\n",
                "routes.yaml:5: limits.max_client_hello_bytes is 100; it must be 512 to 65536");
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "limits: { max_client_hello_bytes: 16k }\n",
                "routes.yaml:5: limits.max_client_hello_bytes \"16k\" is not a whole number of bytes; "
                        + "it must be 512 to 65536, e.g. 16384");
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "limits: { max_connections: 10000000000 }\n",
                "routes.yaml:5: limits.max_connections is 10000000000; it must be 0 to " + Limits.MAX_CONNECTIONS
                        + " (0 means no limit)");
    }

    @Test
    void badMatchPatterns() {
        assertError(route("match: \"*\""),
                "routes.yaml:3: match \"*\": a lone \"*\" is not a pattern; "
                        + "to forward every other name, set default: to an upstream");
        assertError(route("match: \"*.*.example.com\""),
                "routes.yaml:3: match \"*.*.example.com\": \"*\" may only be the whole first label, "
                        + "as in \"*.example.com\"");
        assertError(route("match: \"a.*.example.com\""),
                "routes.yaml:3: match \"a.*.example.com\": \"*\" may only be the whole first label, "
                        + "as in \"*.example.com\"");
        assertError(route("match: \"bad name.example.com\""),
                "routes.yaml:3: match \"bad name.example.com\": not a valid host name: use dot-separated "
                        + "labels of 1 to 63 letters, digits, hyphens or underscores, 253 characters at most");
        assertError(route("match: \"192.0.2.1\""),
                "routes.yaml:3: match \"192.0.2.1\": an IP address is not a name: "
                        + "clients never send one as SNI (RFC 6066)");
        // A Unicode name gets told to write the form clients send (failed before: only the
        // letters-and-digits hint, and ü is a letter).
        assertError(route("match: \"*.bücher.example\""),
                "routes.yaml:3: match \"*.bücher.example\": not a valid host name: use dot-separated labels of 1 to 63"
                        + " letters, digits, hyphens or underscores, 253 characters at most; write an internationalized"
                        + " name in its xn-- (punycode) form, as clients send it (idn2 NAME prints it)");
    }

    /**
     * "default" and "none" already label the default upstream and the connections no route took,
     * in the access log and the metrics: a route matching a host of that name is refused, since
     * its counts would merge with theirs. (Failed before: accepted.)
     */
    @Test
    void aPatternThatWouldTakeAReservedLabelIsRefused() {
        assertThat(RouteLabels.RESERVED).containsExactlyInAnyOrder("default", "none");
        assertError(route("match: \"Default.\""),
                "routes.yaml:3: match \"Default.\" would be labelled \"default\" in the access log and metrics, which"
                        + " already stands for the default upstream; a single-label name cannot be routed by its own"
                        + " pattern, put it in a match_file list");
        assertError(route("match_file: \"default\""),
                "routes.yaml:3: match_file \"default\" would label its route \"default\" in the access log and metrics,"
                        + " which already stands for the default upstream; name the file otherwise, or write \"./default\"");
        assertError(route("match: [\"a.example\", \"none\"]"),
                "routes.yaml:3: match \"none\" would be labelled \"none\" in the access log and metrics, which"
                        + " already stands for connections no route took; a single-label name cannot be routed by its own"
                        + " pattern, put it in a match_file list");
    }

    @Test
    void aSingleLabelWildcardSuffixIsAllowed() throws Exception {
        ProxyConfig config = ConfigLoader.parse(route("match: \"*.com.\""), "routes.yaml");

        assertThat(config.routes().get(0).match()).containsExactly("*.com");
    }

    @Test
    void thePatternOfTwoRoutesThatAcceptAnyClient() {
        assertError("""
                listen: 127.0.0.1:8443
                routes:
                  - match: "api.example.com"
                    upstream: "192.0.2.10:443"
                  - match: ["www.example.com", "API.example.com"]
                    upstream: "192.0.2.11:443"
                """,
                "routes.yaml:5: match \"API.example.com\" is also in the route at line 3, and both accept any "
                        + "client; a name may be in several routes only with alpn lists or ports that do not overlap");
    }

    @Test
    void thePatternOfTwoRoutesWithOverlappingAlpn() {
        assertError("""
                listen: 127.0.0.1:8443
                routes:
                  - match: "api.example.com"
                    alpn: ["h2", "http/1.1"]
                    upstream: "192.0.2.10:443"
                  - match: "api.example.com"
                    alpn: ["http/1.1"]
                    upstream: "192.0.2.11:443"
                """,
                "routes.yaml:6: match \"api.example.com\" is also in the route at line 3, and both accept alpn "
                        + "\"http/1.1\"; a name may be in several routes only with alpn lists or ports that do not overlap");
    }

    @Test
    void routeWithoutUpstream() {
        assertError("listen: 127.0.0.1:8443\nroutes:\n  - match: api.example.com\n",
                "routes.yaml:3: this route has no upstream; add upstream: \"host:port\" or \"$sni:443\"");
    }

    @Test
    void routeWithoutMatch() {
        assertError("listen: 127.0.0.1:8443\nroutes:\n  - upstream: 192.0.2.1:443\n",
                "routes.yaml:3: this route has no match; add match: \"name.example.com\", "
                        + "match: [\"*.example.com\", \"example.com\"] or match_file: \"allow.list\"");
    }

    @Test
    void badUpstreams() {
        assertError(route("match: api.example.com", "192.0.2.10"),
                "routes.yaml:4: upstream \"192.0.2.10\": the port is missing; "
                        + "write it as host:port, e.g. 192.0.2.10:443 or [2001:db8::1]:443");
        assertError(route("match: api.example.com", "$host:443"),
                "routes.yaml:4: upstream \"$host:443\": the placeholders are $sni (the name the client asked for), "
                        + "$port (the port it dialed) and $original_dst (the address it dialed), as in $sni:443, "
                        + "$sni:$port or $original_dst");
        assertError(route("match: api.example.com", "$sni"),
                "routes.yaml:4: upstream \"$sni\": the port is missing; write it as $sni:443 or $sni:$port");
        assertError(route("match: api.example.com", "bad_host!:443"),
                "routes.yaml:4: upstream \"bad_host!:443\": \"bad_host!\" is neither an IP address "
                        + "nor a valid host name");
    }

    @Test
    void badDefault() {
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "default: forward\n",
                "routes.yaml:5: default \"forward\": the port is missing; write it as host:port, "
                        + "e.g. 192.0.2.10:443 or [2001:db8::1]:443 (or write reject)");
    }

    @Test
    void upstreamThatIsTheProxyItself() {
        assertError(route("match: api.example.com", "127.0.0.1:8443"),
                "routes.yaml:4: upstream \"127.0.0.1:8443\" is this proxy's own listen address (line 1): "
                        + "it would dial itself in a loop");
        assertError("listen: \"0.0.0.0:443\"\ndefault: \"127.0.0.1:443\"\n",
                "routes.yaml:2: default \"127.0.0.1:443\" is this proxy's own listen address (line 1): "
                        + "it would dial itself in a loop");
        // The IPv6 loopback, not 0.0.0.1 (failed before: valid).
        assertError("listen: \"[::]:443\"\ndefault: \"[::1]:443\"\n",
                "routes.yaml:2: default \"[::1]:443\" is this proxy's own listen address (line 1): "
                        + "it would dial itself in a loop");
    }

    /**
     * A config name whose last label is a number still loads, as before: only a client's server
     * name is refused for it (invalid_sni), and no client's will match it.
     */
    @Test
    void aNameEndingInANumberIsStillAConfigName() throws Exception {
        ProxyConfig config = ConfigLoader.parse(route("match: printer.lan.1", "127.0.0.1:8080"), "routes.yaml");

        assertThat(config.routes()).hasSize(1);
    }

    @Test
    void loopbackOnAnotherPortIsNotALoop() throws Exception {
        ProxyConfig config = ConfigLoader.parse(route("match: api.example.com", "127.0.0.1:8080"), "routes.yaml");

        assertThat(config.routes().get(0).upstream()).isEqualTo(Upstream.fixed(new HostPort("127.0.0.1", 8080)));
    }

    @Test
    void nothingToForward() {
        assertError("listen: 127.0.0.1:8443\nroutes: []\n",
                "routes.yaml:2: there are no routes and no default upstream, so nothing would ever be "
                        + "forwarded; add a route, or set default: to an upstream");
    }

    @Test
    void emptyAlpnList() {
        assertError("""
                listen: 127.0.0.1:8443
                routes:
                  - match: "api.example.com"
                    alpn: []
                    upstream: "192.0.2.10:443"
                """,
                "routes.yaml:4: alpn: [] would match no client; to accept any client, leave alpn out");
    }

    @Test
    void wrongTypes() {
        assertError("listen: 127.0.0.1:8443\nroutes:\n  match: api.example.com\n  upstream: 192.0.2.1:443\n",
                "routes.yaml:3: routes must be a list of routes (each with match: and upstream:), "
                        + "but this is a mapping (key: value pairs)");
        assertError("listen: { host: 0.0.0.0, port: 443 }\n" + ROUTE,
                "routes.yaml:1: listen must be a list of \"host:port\" addresses or listeners, or a single one, "
                        + "but this is a mapping (key: value pairs)");
        assertError("listen: 127.0.0.1:8443\n" + ROUTE + "timeouts: 10s\n",
                "routes.yaml:5: timeouts must be a mapping, such as { preread: 10s, connect: 5s }, "
                        + "but this is a single value");
        assertError("listen: 127.0.0.1:8443\nroutes:\n  - match: api.example.com\n    upstream: [192.0.2.1:443]\n",
                "routes.yaml:4: upstream must be a single value, but this is a list");
        assertError("just some text\n",
                "routes.yaml:1: the file must be a mapping of settings (listen:, routes:, ...), "
                        + "but it is a single value");
    }

    @Test
    void keyWithoutValue() {
        assertError("listen:\n" + ROUTE, "routes.yaml:1: listen has no value");
    }

    @Test
    void yamlSyntaxError() {
        assertError("listen: 127.0.0.1:8443\nroutes:\n  - match: \"api.example.com\n    upstream: 192.0.2.1:443\n",
                "routes.yaml:3: not valid YAML: found unexpected end of stream (while scanning a quoted scalar that"
                        + " starts on this line; noticed at line 5); close the quote this value opens");
        assertError("listen: [127.0.0.1:8443\n" + ROUTE,
                "routes.yaml:1: not valid YAML: expected ',' or ']', but got : (while parsing a flow sequence that"
                        + " starts on this line; noticed at line 2); close the [ this line opens with ], and put a comma"
                        + " between its items");
        assertError("listen: 127.0.0.1:8443\nroutes:\n  - match: \"api.example.com\"\n    upstream \"192.0.2.1:443\"\n"
                        + "default: \"192.0.2.9:443\"\n",
                "routes.yaml:4: not valid YAML: could not find expected ':' (while scanning a simple key that starts on"
                        + " this line; noticed at line 5); the key on this line lacks its ':' (key: value)");
    }

    /** The parser's limits against YAML bombs give the line that passes them, and say what to do instead. */
    @Test
    void yamlBombLimitsSayWhatToDo() {
        // Nesting over several lines, after collections that closed: only the open ones count.
        StringBuilder deep = new StringBuilder("listen: \"127.0.0.1:8443\"\nroutes:\n");
        for (int i = 0; i < 3; i++) {
            deep.append("  - match: [\"r").append(i).append(".example\"]\n    upstream: \"192.0.2.1:443\"\n");
        }
        deep.append("deep:\n");
        for (int level = 1; level <= 25; level++) {
            deep.append(" ".repeat(level)).append("-\n");
        }
        assertError(deep.toString(), "routes.yaml:29: not valid YAML: Nesting Depth exceeded max 20; no setting of routes.yaml nests more than a few levels");
        assertError("listen: \"127.0.0.1:8443\"\nroutes:\n  - match: " + "[".repeat(30) + "]".repeat(30) + "\n",
                "routes.yaml:3: not valid YAML: Nesting Depth exceeded max 20; no setting of routes.yaml nests more than a few levels");
        StringBuilder laughs = new StringBuilder("listen: \"127.0.0.1:8443\"\nx0: &x0 [a, b]\n");
        for (int i = 1; i < 12; i++) {
            laughs.append("x").append(i).append(": &x").append(i).append(" [*x").append(i - 1).append(", *x").append(i - 1).append("]\n");
        }
        // The eleventh alias to a collection, two a line from line 3.
        assertError(laughs.toString(), "routes.yaml:8: not valid YAML: Number of aliases for non-scalar nodes exceeds the specified "
                + "max=10; routes.yaml needs no aliases (&name, *name): write each value out");
    }

    /** The slips likeliest at 3 a.m. get what to do, not only the parser's words. */
    @Test
    void commonYamlSlipsGetAdvice() {
        assertError("listen: \"127.0.0.1:8443\"\nroutes:\n  - match: *.example.com\n    upstream: \"192.0.2.1:443\"\n",
                "routes.yaml:3: not valid YAML: unexpected character found .(46) (while scanning an alias at line 3); "
                        + "a value that starts with * must be quoted: match: \"*.example.com\"");
        assertError("listen: \"127.0.0.1:8443\"\nroutes:\n  - match \"a.example.com\"\n    upstream: \"192.0.2.1:443\"\n",
                "routes.yaml:4: not valid YAML: mapping values are not allowed here; a key on this line or the one before "
                        + "lacks its ':', or a value holds an unquoted ': '");
        assertError("listen: \"127.0.0.1:8443\"\nroutes:\n  - match: \"a.example.com\"\n     upstream: \"192.0.2.1:443\"\n",
                "routes.yaml:4: not valid YAML: expected <block end>, but found '<block mapping start>' (while parsing a "
                        + "block mapping at line 3); this line is indented differently from the lines it belongs with "
                        + "(from line 3): the keys of one route must start in the same column");
        // A top-level key indented by one column is no route key (failed: the route's advice).
        assertError("listen: \"127.0.0.1:8443\"\nroutes:\n  - match: \"a.example.com\"\n    upstream: \"192.0.2.1:443\"\n"
                        + " timeouts: { drain: 5s }\n",
                "routes.yaml:5: not valid YAML: expected <block end>, but found '<block mapping start>' (while parsing a "
                        + "block mapping at line 1); this line is indented differently from the lines it belongs with "
                        + "(from line 1): the top-level keys (listen:, routes:, timeouts:, ...) start in the first column");
        // A route's key under a list written without indentation leaves the root open too: the route's advice.
        assertError("listen: \"127.0.0.1:8443\"\nroutes:\n- match: \"a.example.com\"\n upstream: \"192.0.2.1:443\"\n",
                "routes.yaml:4: not valid YAML: expected <block end>, but found '<block mapping start>' (while parsing a "
                        + "block mapping at line 1); this line is indented differently from the lines it belongs with "
                        + "(from line 1): the keys of one route must start in the same column");
        // Routes appended to a file whose last key is another (cat >> routes.yaml).
        assertError("listen: \"127.0.0.1:8443\"\nroutes:\n  - match: \"a.example.com\"\n    upstream: \"192.0.2.1:443\"\n"
                        + "timeouts: { connect: 5s }\n  - match: \"b.example.com\"\n    upstream: \"192.0.2.2:443\"\n",
                "routes.yaml:6: not valid YAML: expected <block end>, but found '<block sequence start>' (while parsing a "
                        + "block mapping at line 1); this list item belongs to no list: it follows line 5 (timeouts: "
                        + "{ connect: 5s }); a route goes under routes: (line 2), indented like the routes there");
    }

    @Test
    void emptyFile() {
        assertError("", "routes.yaml: the file has no settings; it needs at least listen: and routes:");
        assertError("# only a comment\n", "routes.yaml: the file has no settings; it needs at least listen: and routes:");
    }

    @Test
    @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // without the check, opening it waits for a writer
    void aPipeIsRefusedRatherThanWaitedFor(@TempDir Path dir) throws Exception {
        Path fifo = dir.resolve("routes.yaml");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        assertThatThrownBy(() -> ConfigLoader.load(fifo))
                .isInstanceOf(ConfigException.class)
                .hasMessage(fifo + ": is not a regular file (a pipe or a device?); pass the path of routes.yaml");
    }

    /** An empty list where one is required would silently mean something else: said instead. */
    @Test
    void emptyResolversAndEchNamesAreErrors() {
        assertError("listen: 127.0.0.1:8443\nresolvers: []\n" + ROUTE,
                "routes.yaml:2: resolvers: [] names no DNS server; leave resolvers out to use the system's (/etc/resolv.conf)");
        assertError("listen: 127.0.0.1:8443\nech: { public_names: [] }\n" + ROUTE,
                "routes.yaml:2: public_names: [] names no cover name; list them, e.g. [\"cloudflare-ech.com\"], or leave"
                        + " ech out");
    }

    /** A control character YAML refuses is found on its line. */
    @Test
    void aControlCharacterNamesItsLine() {
        assertError("listen: 127.0.0.1:8443\nroutes:\n  - match: \"api.\u0001example.com\"\n    upstream: 192.0.2.1:443\n",
                "routes.yaml:3: not valid YAML: the character U+0001 on this line is not allowed (a control character:"
                        + " pasted?); remove it");
    }

    /** A byte that is no UTF-8 (an editor's Latin-1) is found on its line. */
    @Test
    void textThatIsNotUtf8NamesItsLine(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("routes.yaml");
        byte[] latin1 = "listen: 127.0.0.1:8443\n# caf\u00e9 routes\n# the caf\u00e9's own\n".getBytes(StandardCharsets.ISO_8859_1);
        Files.write(file, latin1);
        assertThatThrownBy(() -> ConfigLoader.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ":2: is not valid UTF-8 text: save it as UTF-8 (a byte on this line is not; an"
                        + " editor's Latin-1 \u00e9, for one)");
    }

    @Test
    void missingFile(@TempDir Path dir) {
        Path missing = dir.resolve("nope.yaml");

        assertThatThrownBy(() -> ConfigLoader.load(missing))
                .isInstanceOf(ConfigException.class)
                .hasMessage(missing + ": no such file in " + dir + "; pass the path of routes.yaml with --config FILE")
                .satisfies(e -> assertThat(((ConfigException) e).line()).isZero());
    }

    @Test
    void loadNamesTheFileAsGiven(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("edge.yaml");
        Files.writeString(file, "listen: 127.0.0.1:8443\nroutes: 42\n");

        assertThatThrownBy(() -> ConfigLoader.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ":2: routes must be a list of routes (each with match: and upstream:), "
                        + "but this is a single value")
                .satisfies(e -> {
                    ConfigException error = (ConfigException) e;
                    assertThat(error.file()).isEqualTo(file.toString());
                    assertThat(error.line()).isEqualTo(2);
                });
    }

    private static String route(String matchLine) {
        return route(matchLine, "192.0.2.10:443");
    }

    /** A file whose route's match is on line 3 and upstream on line 4. */
    private static String route(String matchLine, String upstream) {
        return "listen: 127.0.0.1:8443\nroutes:\n  - " + matchLine + "\n    upstream: \"" + upstream + "\"\n";
    }

    private static void assertError(String yaml, String expectedMessage) {
        assertThatThrownBy(() -> ConfigLoader.parse(yaml, "routes.yaml"))
                .isInstanceOf(ConfigException.class)
                .hasMessage(expectedMessage);
    }

    private static List<HostPort> listenAddresses(ProxyConfig config) {
        return config.listeners().stream().map(Listener::address).toList();
    }

    private static Route route(List<String> match, List<String> alpn, Upstream upstream, int line) {
        return new Route(match, alpn, List.of(), upstream, List.of(), true, Delivery.DIRECT, line, RoutePolicy.INHERITED, null);
    }
}
