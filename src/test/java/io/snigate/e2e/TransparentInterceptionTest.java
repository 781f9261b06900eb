package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snigate.Main;
import io.snigate.testing.ChildProxy;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.TestNetwork;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * snigate as a transparent proxy behind real iptables/nftables interception, in network
 * namespaces made by the test ({@link TestNetwork}): a client namespace whose HTTPS a gateway
 * namespace intercepts with the rule files shipped in {@code deploy/transparent/}, snigate itself
 * (the real main class, in a child JVM) and a DNS server (dnsmasq) in the gateway, real TLS
 * servers ({@code openssl s_server}) in a server namespace, and real clients ({@code curl},
 * {@code openssl s_client}) in the client namespace.
 *
 * <p>REDIRECT takes port 443 to the listener on 15001, TPROXY takes port 8443 to the one on 15002,
 * both over IPv4 and IPv6. The server answers at {@link TestNetwork#SERVER} with a certificate the
 * clients trust through {@code real.pem}; a rogue server at {@link TestNetwork#ROGUE} presents one
 * trusted only through {@code rogue.pem}, so a verified handshake proves which one was reached.
 */
class TransparentInterceptionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DEPLOY = Path.of("deploy", "transparent");
    /** A public address the gateway takes only during one test, after snigate has started. */
    private static final String LATE_ADDRESS = "203.0.113.77";
    private static final String CONFIG = """
            listen:
              - { address: "[::]:15001", original_dst: redirect }
              - { address: "[::]:15002", original_dst: tproxy }
              - { address: "[::]:15003", original_dst: redirect, clients: { allow: ["10.77.0.0/24"] } }
            admin: "127.0.0.1:19090"
            resolvers: ["127.0.0.1:53"]
            upstream_mark: 0x539
            nat64_prefixes: ["2001:db8:64::/96"]
            timeouts: { connect: 3s }
            routes:
              - match: ["allowed.test", "dual.test", "self.test", "late.test", "late-first.test", "nat64.test"]
                upstream: "$sni:$port"
              - match: "late-loop.test"
                upstream: "$sni:15001"
              - match: ["verify.test", "verify4.test"]
                upstream: "$original_dst"
              - match: ["trust.test", "private.test"]
                upstream: "$original_dst"
                verify_destination: false
              - match: "audit.test"
                upstream: "$original_dst"
                mode: audit
              - match: "parent.test"
                upstream: "$original_dst"
                mode: audit
                via: "http://127.0.0.1:3128"
            """;

    @TempDir
    static Path dir;

    private static TestNetwork network;
    private static Process snigate;
    private static Path accessLog;
    private static int linesSeen;

    @BeforeAll
    static void startTheNetwork() throws Exception {
        network = TestNetwork.create();
        for (String name : List.of("real", "rogue")) {
            ProcessRunner.Result made = ProcessRunner.run(30, "openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-keyout", dir.resolve(name + ".key").toString(), "-out", dir.resolve(name + ".pem").toString(),
                    "-subj", "/CN=" + name + "-server",
                    "-addext", "subjectAltName=DNS:allowed.test,DNS:dual.test,DNS:verify.test,DNS:trust.test,DNS:private.test,DNS:audit.test,DNS:parent.test,DNS:late-first.test");
            assertThat(made.exitCode()).as(made.stderr()).isZero();
        }
        for (String at : List.of(TestNetwork.SERVER + ":443", TestNetwork.SERVER + ":8443",
                "[" + TestNetwork.SERVER6 + "]:443", "[" + TestNetwork.SERVER6 + "]:8443")) {
            tlsServer(at, "real");
        }
        tlsServer(TestNetwork.ROGUE + ":443", "rogue");
        network.start(network.gateway(), dir.resolve("dnsmasq.log"), "dnsmasq", "--keep-in-foreground",
                "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--port=53", "--user=root", "--log-facility=-",
                "--address=/allowed.test/" + TestNetwork.SERVER, "--address=/allowed.test/" + TestNetwork.SERVER6,
                "--address=/verify.test/" + TestNetwork.SERVER, "--address=/verify.test/" + TestNetwork.SERVER6,
                "--address=/verify4.test/" + TestNetwork.SERVER,
                // An IPv4 address that refuses the port 8443 (the rogue server listens on 443 only), and the real server's IPv6 one.
                "--address=/dual.test/" + TestNetwork.ROGUE, "--address=/dual.test/" + TestNetwork.SERVER6,
                "--address=/trust.test/" + TestNetwork.SERVER,
                "--address=/audit.test/" + TestNetwork.SERVER, "--address=/parent.test/" + TestNetwork.SERVER,
                "--address=/self.test/" + TestNetwork.GATEWAY_UPLINK,
                "--address=/late.test/" + LATE_ADDRESS, "--address=/late-loop.test/" + LATE_ADDRESS,
                // dnsmasq answers a name's addresses in the reverse order of its options: LATE_ADDRESS first.
                "--address=/late-first.test/" + TestNetwork.SERVER, "--address=/late-first.test/" + LATE_ADDRESS,
                "--address=/nat64.test/2001:db8:64::a63:a", // DNS64's spelling of 10.99.0.10
                "--address=/private.test/10.99.0.10");
        // Twice, as a restarted unit runs it: the second run replaces what the first added.
        for (int run = 0; run < 2; run++) {
            network.run(network.gateway(), "sh", DEPLOY.resolve("tproxy-routing.sh").toString());
        }
        for (String family : List.of("-4", "-6")) {
            assertThat(network.run(network.gateway(), "ip", family, "rule", "show").stdout().lines()
                    .filter(rule -> rule.contains("lookup 100"))).as("ip " + family + " rule: one rule for the mark").hasSize(1);
        }
        // A real parent proxy on the gateway, for the route with via; it goes anywhere.
        Path squidConfig = Files.writeString(dir.resolve("squid.conf"), """
                http_port 127.0.0.1:3128
                pid_filename none
                access_log none
                cache_log /dev/null
                cache deny all
                cache_mem 8 MB
                dns_nameservers 127.0.0.1
                http_access allow all
                """);
        network.start(network.gateway(), dir.resolve("squid.log"), "squid", "-N", "-f", squidConfig.toString());

        Path config = Files.writeString(dir.resolve("routes.yaml"), CONFIG);
        accessLog = dir.resolve("access.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        snigate = network.start(network.gateway(), dir.resolve("snigate-launch.log"), "sh", "-c",
                "exec " + java + " " + String.join(" ", ChildProxy.jvmOptions()) + " -cp "
                        + System.getProperty("java.class.path") + " " + Main.class.getName()
                        + " --config " + config + " > " + accessLog + " 2> " + dir.resolve("snigate.err"));
        awaitReady();
        for (String ip : List.of(TestNetwork.SERVER, TestNetwork.SERVER6)) {
            for (int port : new int[] {443, 8443}) {
                await().atMost(Duration.ofSeconds(30)).until(() -> servedBy("real", ip, port));
            }
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> servedBy("rogue", TestNetwork.ROGUE, 443));
        await().atMost(Duration.ofSeconds(30)).until(() -> network.exec(network.gateway(), 10, "curl", "-sS",
                "-o", "/dev/null", "--max-time", "3", "http://127.0.0.1:3128/").exitCode() == 0);
    }

    /**
     * Waits for snigate's "ready" line. A child still starting after a minute gets a SIGQUIT first,
     * so that the failure shows where each of its threads was (the JVM prints them on stdout,
     * here the access log).
     */
    private static void awaitReady() throws Exception {
        Path err = dir.resolve("snigate.err");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (snigate.isAlive() && System.nanoTime() < deadline
                && !(Files.exists(err) && Files.readString(err).contains("ready with"))) {
            Thread.sleep(100);
        }
        if (snigate.isAlive() && !Files.readString(err).contains("ready with")) {
            ProcessRunner.run(10, "kill", "-QUIT", Long.toString(snigate.pid()));
            await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(accessLog).contains("JNI global refs"));
            // CI shows the end of the output only: the two threads that take part in the start.
            String threads = Stream.of(Files.readString(accessLog).split("\n\n"))
                    .filter(block -> block.startsWith("\"main\"") || block.startsWith("\"snigate-start\""))
                    .collect(Collectors.joining("\n"));
            throw new AssertionError("snigate not ready after 60 s (all its threads: " + accessLog + "); its stderr:\n"
                    + Files.readString(err) + "\nwhere it starts:\n" + threads);
        }
        assertThat(snigate.isAlive()).as("snigate started: " + Files.readString(err)).isTrue();
    }

    private static void tlsServer(String at, String name) throws IOException {
        network.start(network.server(), dir.resolve("s_server-" + at.replaceAll("[^0-9a-f]", "_") + ".log"),
                "openssl", "s_server", "-accept", at, "-cert", dir.resolve(name + ".pem").toString(),
                "-key", dir.resolve(name + ".key").toString(), "-www", "-quiet");
    }

    /** Whether the server namespace already answers at {@code ip:port} (from the gateway, not intercepted). */
    private static boolean servedBy(String name, String ip, int port) throws Exception {
        return network.exec(network.gateway(), 10, "curl", "-sS", "-o", "/dev/null", "--max-time", "3",
                "--cacert", dir.resolve(name + ".pem").toString(),
                "--resolve", "allowed.test:" + port + ":" + bracketed(ip), "https://allowed.test:" + port + "/").exitCode() == 0;
    }

    @AfterAll
    static void stopTheNetwork() throws Exception {
        if (network != null) {
            network.close();
        }
        Path log = dir == null ? null : dir.resolve("snigate.err");
        if (log != null && Files.exists(log)) {
            ChildProxy.assertNoLeakOrUnhandledException(Files.readString(log));
        }
    }

    /** Every test starts from the shipped gateway rules: REDIRECT for 443, TPROXY for 8443. */
    @BeforeEach
    void shippedGatewayRules() throws Exception {
        network.flushFirewall(network.gateway());
        String lan = "\"" + network.gatewayLanInterface() + "\"";
        network.loadNft(network.gateway(), DEPLOY.resolve("gateway-redirect.nft"), dir,
                "lan_if", lan, "intercepted_ports", "{ 443 }", "snigate_port", "15001");
        network.loadNft(network.gateway(), DEPLOY.resolve("gateway-tproxy.nft"), dir,
                "lan_if", lan, "intercepted_ports", "{ 8443 }", "snigate_port", "15002");
        newLines();
    }

    @Test
    void redirectOverIpv4ReachesTheServerTheClientDialed() throws Exception {
        assertThat(curl("allowed.test", TestNetwork.SERVER, 443, "real")).isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("listener").asText()).isEqualTo("[::]:15001");
        assertThat(line.get("client").asText()).startsWith("10.77.0.2:");
        assertThat(line.get("original_dst").asText()).isEqualTo("198.51.100.10:443");
        assertThat(line.get("upstream").asText()).isEqualTo("198.51.100.10:443");
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(line.get("dst_check").isNull()).isTrue();
    }

    @Test
    void redirectOverIpv6() throws Exception {
        assertThat(curl("allowed.test", TestNetwork.SERVER6, 443, "real")).isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("client").asText()).startsWith("[fd77::2]:");
        assertThat(line.get("original_dst").asText()).isEqualTo("[2001:db8:77::10]:443");
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void tproxyOverIpv4DialsThePortTheClientDialed() throws Exception {
        assertThat(curl("allowed.test", TestNetwork.SERVER, 8443, "real")).isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("listener").asText()).isEqualTo("[::]:15002");
        assertThat(line.get("original_dst").asText()).isEqualTo("198.51.100.10:8443");
        assertThat(line.get("upstream").asText()).as("$sni:$port").isEqualTo("198.51.100.10:8443");
    }

    @Test
    void tproxyOverIpv6WithOpensslSClient() throws Exception {
        ProcessRunner.Result result = network.exec(network.client(), 30, "sh", "-c",
                "echo Q | openssl s_client -connect '[" + TestNetwork.SERVER6 + "]:8443' -servername allowed.test"
                        + " -CAfile " + dir.resolve("real.pem") + " -verify_return_error");
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.stdout()).contains("Verify return code: 0 (ok)").contains("CN = real-server");
        JsonNode line = onlyNewLine();
        assertThat(line.get("original_dst").asText()).isEqualTo("[2001:db8:77::10]:8443");
        assertThat(line.get("upstream").asText()).endsWith(":8443");
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void anAllowedSniSentToARogueAddressStillReachesTheRealServerThroughSniAndPort() throws Exception {
        assertThat(curl("allowed.test", TestNetwork.ROGUE, 443, "real")).as("the real server's certificate").isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("original_dst").asText()).isEqualTo("198.51.100.66:443");
        assertThat(line.get("upstream").asText()).isEqualTo("198.51.100.10:443");
    }

    @Test
    void originalDstWithVerificationRefusesARogueAddress() throws Exception {
        assertThat(curl("verify.test", TestNetwork.ROGUE, 443, "real")).as("curl: TLS alert").isEqualTo(35);
        JsonNode line = onlyNewLine();
        assertThat(line.get("reason").asText()).isEqualTo("sni_destination_mismatch");
        assertThat(line.get("dst_check").asText()).isEqualTo("mismatch");
        assertThat(line.get("upstream").isNull()).isTrue();

        assertThat(curl("verify.test", TestNetwork.SERVER, 443, "real")).isZero();
        JsonNode matched = onlyNewLine();
        assertThat(matched.get("dst_check").asText()).isEqualTo("match");
        assertThat(matched.get("upstream").asText()).isEqualTo("198.51.100.10:443");
    }

    @Test
    void originalDstWithVerificationMatchesAnIpv6ClientAgainstTheNamesAaaaRecords() throws Exception {
        // verify.test has an A record too: the AAAA answer must not be dropped for it.
        assertThat(curl("verify.test", TestNetwork.SERVER6, 443, "real")).isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("dst_check").asText()).isEqualTo("match");
        assertThat(line.get("upstream").asText()).isEqualTo("[2001:db8:77::10]:443");
    }

    @Test
    void anIpv6DestinationOfANameWithOnlyAnARecordIsAMismatch() throws Exception {
        assertThat(curl("verify4.test", TestNetwork.SERVER6, 443, "real")).as("curl: TLS alert").isEqualTo(35);
        JsonNode line = onlyNewLine();
        assertThat(line.get("reason").asText()).as("the name resolves, not to it").isEqualTo("sni_destination_mismatch");
        assertThat(line.get("dst_check").asText()).isEqualTo("mismatch");
    }

    @Test
    void aNameWhoseIpv4AddressRefusesIsDialedAtItsIpv6Address() throws Exception {
        assertThat(curl("dual.test", TestNetwork.SERVER, 8443, "real")).isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("upstream").asText()).as("$sni:$port, IPv4 first").isEqualTo("[2001:db8:77::10]:8443");
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void anAuditedMismatchDialsTheAddressTheClientChoseAndSaysWhatEnforceWouldDo() throws Exception {
        assertThat(curl("audit.test", TestNetwork.ROGUE, 443, "rogue")).as("the rogue server's certificate").isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("dst_check").asText()).isEqualTo("mismatch");
        assertThat(line.get("upstream").asText()).isEqualTo("198.51.100.66:443");
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
        assertThat(line.get("policy_mode").asText()).isEqualTo("audit");
        assertThat(line.get("would_reject").asText()).isEqualTo("sni_destination_mismatch");
        String metrics = network.run(network.gateway(), "curl", "-sS", "--max-time", "10",
                "http://127.0.0.1:19090/metrics").stdout();
        assertThat(metrics).contains("snigate_policy_would_reject_total{listener=\"[::]:15001\","
                + "reason=\"sni_destination_mismatch\",route=\"audit.test\"} 1.0");
    }

    @Test
    void anAuditedMismatchOnARouteWithAParentGoesThroughTheParent() throws Exception {
        assertThat(curl("parent.test", TestNetwork.ROGUE, 443, "rogue")).as("the rogue server's certificate").isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("dst_check").asText()).isEqualTo("mismatch");
        assertThat(line.get("would_reject").asText()).isEqualTo("sni_destination_mismatch");
        assertThat(line.get("upstream").asText()).as("the parent, never the client's address directly")
                .isEqualTo("127.0.0.1:3128");
        assertThat(line.get("parent_status").asInt()).isEqualTo(200);
    }

    @Test
    void aNameThatResolvesToTheGatewaysOwnAddressIsForbidden() throws Exception {
        assertForbiddenBeforeAnyDial("self.test");
    }

    /** A client sending {@code name} to port 443 gets a TLS alert, and its line says forbidden, nothing dialed. */
    private static void assertForbiddenBeforeAnyDial(String name) throws Exception {
        assertThat(curl(name, TestNetwork.ROGUE, 443, "real")).as("curl: TLS alert").isEqualTo(35);
        JsonNode line = onlyNewLine();
        assertThat(line.get("reason").asText()).isEqualTo("forbidden_destination");
        assertThat(line.get("upstream").isNull()).isTrue();
    }

    /**
     * An address the gateway gained after snigate started (a VRRP address after a failover) is
     * not on the list of its own addresses made at start, so the name passes the policy and is
     * dialed; the connection's source address then equals its destination, which only the host
     * itself gives, and it is refused before the ClientHello is sent: forbidden (the gateway's
     * own TLS service stays out of reach), or a loop on a listener's port (stopped at the first
     * hop, one line).
     */
    @Test
    void anAddressTheGatewayGainedAfterTheStartIsStillItsOwn() throws Exception {
        withTheGatewaysOwnServiceOnALateAddress("real", () -> {
            assertThat(curl("late.test", TestNetwork.ROGUE, 443, "real")).as("curl: TLS alert").isEqualTo(35);
            JsonNode line = onlyNewLine();
            assertThat(line.get("reason").asText()).isEqualTo("forbidden_destination");
            assertThat(line.get("upstream").asText()).isEqualTo(LATE_ADDRESS + ":443");

            // The listener accepted the connection before it could be judged: it has a line too,
            // closed before the ClientHello reached it, so the loop ends at the first hop.
            assertThat(curl("late-loop.test", TestNetwork.ROGUE, 443, "real")).as("curl: TLS alert").isEqualTo(35);
            List<JsonNode> lines = newLinesAtLeast(2);
            assertThat(lines).hasSize(2);
            JsonNode client = lines.stream().filter(l -> l.get("client").asText().startsWith("10.77.0.2:")).findFirst()
                    .orElseThrow(() -> new AssertionError("no line for the client: " + lines));
            assertThat(client.get("reason").asText()).isEqualTo("loop_detected");
            assertThat(client.get("upstream").asText()).isEqualTo(LATE_ADDRESS + ":15001");
            assertThat(client.get("bytes_from_client").asLong()).as("the hello never sent").isZero();
            JsonNode looped = lines.get(lines.get(0) == client ? 1 : 0);
            assertThat(looped.get("client").asText()).startsWith(LATE_ADDRESS + ":");
            assertThat(looped.get("outcome").asText()).isEqualTo("rejected");
            assertThat(looped.get("bytes_from_client").asLong()).isZero();
        });
    }

    private interface NetworkStep {
        void run() throws Exception;
    }

    /**
     * Runs {@code test} while the gateway has {@link #LATE_ADDRESS}, gained after snigate started,
     * with a TLS service of its own on port 443 there that answers with {@code cert}.
     */
    private static void withTheGatewaysOwnServiceOnALateAddress(String cert, NetworkStep test) throws Exception {
        network.run(network.gateway(), "ip", "addr", "add", LATE_ADDRESS + "/32", "dev", "lo");
        Process ownService = network.start(network.gateway(), dir.resolve("own-service-" + cert + ".log"), "openssl",
                "s_server", "-accept", LATE_ADDRESS + ":443", "-cert", dir.resolve(cert + ".pem").toString(),
                "-key", dir.resolve(cert + ".key").toString(), "-www", "-quiet");
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> network.exec(network.gateway(), 10, "curl", "-sS", "-k",
                    "-o", "/dev/null", "--max-time", "3", "https://" + LATE_ADDRESS + "/").exitCode() == 0);
            test.run();
        } finally {
            ownService.destroy();
            network.run(network.gateway(), "ip", "addr", "del", LATE_ADDRESS + "/32", "dev", "lo");
        }
    }

    /**
     * The LAN's connections to the gateway's own addresses go to its own services, as the TPROXY
     * rules always let them: the REDIRECT rules used to send them to snigate, which routed them
     * by their name elsewhere.
     */
    @Test
    void aClientsConnectionToTheGatewaysOwnServiceIsNotRedirected() throws Exception {
        withTheGatewaysOwnServiceOnALateAddress("rogue", () -> {
            assertThat(curl("allowed.test", LATE_ADDRESS, 443, "rogue")).as("the gateway's own service answered").isZero();
            assertThat(newLines()).as("nothing went through snigate").isEmpty();
        });
    }

    /**
     * A name whose first address is one the gateway gained after the start and whose second is
     * the real server: the first is dialed, connects to the gateway itself and is given up before
     * the ClientHello is sent; the second is dialed next and the client reaches the real server,
     * with nothing of the refused address in its line.
     */
    @Test
    void anOwnAddressFoundAfterTheConnectIsSkippedForTheNameNextAddress() throws Exception {
        withTheGatewaysOwnServiceOnALateAddress("rogue", () -> {
            // Counts the connections the gateway opens to its own late address from here on (the
            // next test's flush of the ruleset removes the table).
            network.run(network.gateway(), "nft", "add table inet own_dials; "
                    + "add chain inet own_dials out { type filter hook output priority 0; }; "
                    + "add rule inet own_dials out ip daddr " + LATE_ADDRESS + " tcp dport 443 tcp flags syn counter");

            assertThat(curl("late-first.test", TestNetwork.ROGUE, 443, "real")).as("curl: the real server").isZero();
            JsonNode line = onlyNewLine();
            assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
            assertThat(line.get("reason").isNull()).as(line.toString()).isTrue();
            assertThat(line.get("upstream").asText()).isEqualTo(TestNetwork.SERVER + ":443");
            String counted = network.exec(network.gateway(), 10, "nft", "list", "table", "inet", "own_dials").stdout();
            assertThat(counted).as("the own address was dialed first, once").contains("packets 1 ");
        });
    }

    /**
     * On an IPv6-only network behind DNS64, a name whose A record is private comes back as an
     * address inside the network's NAT64 prefix: listed in {@code nat64_prefixes}, it is judged as
     * the private IPv4 address it carries. (The gateway has no route to the prefix: without the
     * setting the dial fails as upstream_unreachable.)
     */
    @Test
    void aPrivateAddressSpelledInTheNetworksNat64PrefixIsForbidden() throws Exception {
        assertForbiddenBeforeAnyDial("nat64.test");
    }

    @Test
    void originalDstWithoutVerificationTrustsTheClientAndSaysSo() throws Exception {
        assertThat(curl("trust.test", TestNetwork.ROGUE, 443, "rogue")).as("the rogue server's certificate").isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("dst_check").asText()).isEqualTo("skipped");
        assertThat(line.get("upstream").asText()).isEqualTo("198.51.100.66:443");
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void aPrivateOriginalDestinationIsForbidden() throws Exception {
        assertThat(curl("private.test", "10.99.0.10", 443, "real")).isEqualTo(35);
        JsonNode line = onlyNewLine();
        assertThat(line.get("reason").asText()).isEqualTo("forbidden_destination");
        assertThat(line.get("original_dst").asText()).isEqualTo("10.99.0.10:443");
    }

    /**
     * A gateway with no source port left towards a server: the dial fails (EADDRNOTAVAIL), the
     * line says upstream_unreachable, and standard error says why, as nginx logs {@code connect()
     * failed (99: Cannot assign requested address)} (failed before: nothing said, so an on-call
     * engineer would look at a healthy server). Two tunnels held to the server take the two ports
     * the gateway is given, two no socket of the gateway uses.
     */
    @Test
    void aGatewayOutOfSourcePortsSaysSo() throws Exception {
        String range = network.run(network.gateway(), "sysctl", "-n", "net.ipv4.ip_local_port_range").stdout().trim();
        Set<Integer> used = network.run(network.gateway(), "ss", "-Htan").stdout().lines()
                .flatMap(row -> Stream.of(row.trim().split("\\s+")))
                .filter(column -> column.matches(".*:\\d+"))
                .map(column -> Integer.parseInt(column.substring(column.lastIndexOf(':') + 1)))
                .collect(Collectors.toSet());
        int first = 40_000;
        while (used.contains(first) || used.contains(first + 1)) {
            first += 2;
        }
        List<Process> holders = new ArrayList<>();
        network.run(network.gateway(), "sysctl", "-w", "net.ipv4.ip_local_port_range=" + first + " " + (first + 1));
        try {
            for (int i = 0; i < 2; i++) {
                holders.add(network.start(network.client(), dir.resolve("hold-" + i + ".log"), "sh", "-c",
                        "sleep 60 | openssl s_client -quiet -connect " + TestNetwork.SERVER + ":443 -servername trust.test"));
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> network.run(network.gateway(), "ss", "-Htn", "state",
                    "established", "dst", TestNetwork.SERVER + ":443").stdout().lines().count() == 2);

            assertThat(curl("trust.test", TestNetwork.SERVER, 443, "real")).as("alert internal_error").isEqualTo(35);
            JsonNode line = onlyNewLine();
            assertThat(line.get("reason").asText()).as(line.toString()).isEqualTo("upstream_unreachable");
            assertThat(line.get("upstream").asText()).isEqualTo(TestNetwork.SERVER + ":443");
            assertThat(Files.readString(dir.resolve("snigate.err")))
                    .contains("no source port free to dial the upstream " + TestNetwork.SERVER + ":443");
        } finally {
            network.run(network.gateway(), "sysctl", "-w", "net.ipv4.ip_local_port_range=" + range.replaceAll("\\s+", " "));
            for (Process holder : holders) {
                holder.descendants().forEach(ProcessHandle::destroy);
                holder.destroy();
            }
        }
        assertThat(newLinesAtLeast(2)).as("the held tunnels' lines").hasSize(2);
    }

    @Test
    void aDirectConnectionToTheRedirectListenerHasNoOriginalDestination() throws Exception {
        int exit = curl("allowed.test", TestNetwork.GATEWAY_LAN, 15001, "real");
        assertThat(exit).isNotZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("reason").asText()).isEqualTo("no_original_destination");
        assertThat(line.get("sni").isNull()).as("closed at accept, before the ClientHello").isTrue();
    }

    @Test
    void aClientTheListenerRefusesIsLoggedWithWhereItWasGoing() throws Exception {
        // The third listener takes IPv4 clients only; 9443 is redirected to it.
        Path rule = Files.writeString(dir.resolve("redirect-9443.nft"), """
                table inet refusing {
                	chain prerouting {
                		type nat hook prerouting priority dstnat; policy accept;
                		tcp dport 9443 redirect to :15003
                	}
                }
                """);
        network.run(network.gateway(), "nft", "-f", rule.toString());
        assertThat(curl("allowed.test", TestNetwork.SERVER6, 9443, "real")).as("closed at accept").isNotZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("listener").asText()).isEqualTo("[::]:15003");
        assertThat(line.get("reason").asText()).isEqualTo("client_not_allowed");
        assertThat(line.get("original_dst").asText()).isEqualTo("[2001:db8:77::10]:9443");
    }

    @Test
    void aDirectConnectionToTheTproxyListenerHasNoOriginalDestination() throws Exception {
        // Its socket is bound to the listener's own port, which nothing diverts.
        assertThat(curl("allowed.test", TestNetwork.GATEWAY_LAN, 15002, "real")).isNotZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("listener").asText()).isEqualTo("[::]:15002");
        assertThat(line.get("reason").asText()).isEqualTo("no_original_destination");
        assertThat(line.get("upstream").isNull()).as("nothing dialed").isTrue();
        // The same at an address the gateway gained after the start.
        withTheGatewaysOwnServiceOnALateAddress("real", () -> {
            assertThat(curl("allowed.test", LATE_ADDRESS, 15002, "real")).isNotZero();
            assertThat(onlyNewLine().get("reason").asText()).isEqualTo("no_original_destination");
        });
    }

    @Test
    void whileNoListenerTakesTheTproxyPortAnInterceptedClientIsRefusedAtOnce() throws Exception {
        // The shipped rules, sending 8443 to a port nothing listens on: snigate stopped or restarting.
        network.flushFirewall(network.gateway());
        network.loadNft(network.gateway(), DEPLOY.resolve("gateway-tproxy.nft"), dir,
                "lan_if", "\"" + network.gatewayLanInterface() + "\"", "intercepted_ports", "{ 8443 }", "snigate_port", "15009");
        for (String server : List.of(TestNetwork.SERVER, TestNetwork.SERVER6)) {
            long started = System.nanoTime();
            // Neither passed on to the server beside the proxy (exit 0) nor left to hang (28): refused (7).
            assertThat(curl("allowed.test", server, 8443, "real")).as("curl's exit code for " + server).isEqualTo(7);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        }
        assertThat(newLines()).isEmpty();
    }

    @Test
    void theSameRulesWrittenForIptablesWorkTheSame() throws Exception {
        network.flushFirewall(network.gateway());
        String lan = network.gatewayLanInterface();
        for (String family : List.of("iptables", "ip6tables")) {
            // REDIRECT keeps 443, TPROXY gets 8443, as with the nft rules.
            network.loadIptables(network.gateway(), family + "-restore", DEPLOY.resolve("gateway-redirect." + family), dir,
                    "eth1", lan);
            network.loadIptables(network.gateway(), family + "-restore --noflush", DEPLOY.resolve("gateway-tproxy." + family),
                    dir, "eth1", lan, "--dport 443", "--dport 8443");
        }
        assertThat(curl("allowed.test", TestNetwork.SERVER, 443, "real")).isZero();
        assertThat(onlyNewLine().get("original_dst").asText()).isEqualTo("198.51.100.10:443");
        assertThat(curl("allowed.test", TestNetwork.SERVER6, 443, "real")).isZero();
        assertThat(onlyNewLine().get("original_dst").asText()).isEqualTo("[2001:db8:77::10]:443");
        assertThat(curl("allowed.test", TestNetwork.SERVER, 8443, "real")).isZero();
        assertThat(onlyNewLine().get("listener").asText()).isEqualTo("[::]:15002");
        assertThat(curl("allowed.test", TestNetwork.SERVER6, 8443, "real")).isZero();
        assertThat(onlyNewLine().get("original_dst").asText()).isEqualTo("[2001:db8:77::10]:8443");
        withTheGatewaysOwnServiceOnALateAddress("rogue", () -> {
            assertThat(curl("allowed.test", LATE_ADDRESS, 443, "rogue")).as("the gateway's own service answered").isZero();
            assertThat(newLines()).as("nothing went through snigate").isEmpty();
        });
    }

    @Test
    void interceptingItsOwnTrafficWithoutAnExclusionIsRefusedAtTheFirstHop() throws Exception {
        Path rule = Files.writeString(dir.resolve("no-exclusion.nft"), """
                table inet looping {
                	chain output_nat {
                		type nat hook output priority -100; policy accept;
                		oifname "lo" return
                		tcp dport 443 redirect to :15001
                	}
                }
                """);
        network.run(network.gateway(), "nft", "-f", rule.toString());
        Set<String> socketsBefore = openTcpSockets();
        assertThat(socketsBefore).as("the listen sockets: one per event loop (a loop per CPU) on each of the three listeners, "
                + "the metrics endpoint's").hasSize(3 * Runtime.getRuntime().availableProcessors() + 1);

        assertThat(curl("allowed.test", TestNetwork.SERVER, 443, "real")).as("curl: TLS alert").isEqualTo(35);
        List<JsonNode> lines = newLinesAtLeast(2);
        assertThat(lines).hasSize(2);
        // Both hops say loop_detected: the looped one, from snigate's own upstream socket, and the
        // real client's, whose upstream came back.
        assertThat(lines).allSatisfy(l -> assertThat(l.get("reason").asText()).isEqualTo("loop_detected"));
        JsonNode looped = lines.stream().filter(l -> l.get("client").asText().startsWith(TestNetwork.GATEWAY_UPLINK + ":"))
                .findFirst().orElseThrow();
        assertThat(looped.get("original_dst").asText()).isEqualTo("198.51.100.10:443");
        JsonNode real = lines.get(lines.get(0) == looped ? 1 : 0);
        assertThat(real.get("outcome").asText()).isEqualTo("rejected");
        assertThat(real.get("upstream").asText()).isEqualTo("198.51.100.10:443");
        // Both hops' sockets closed: no TCP socket open now that was not open before. Other
        // descriptors the process may open meanwhile (a jar a class is loaded from, the resolver's
        // UDP socket when this is an event loop's first lookup) are not the connections'.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(openTcpSockets())
                .as("sockets of the looped connections still open").isSubsetOf(socketsBefore));
        assertThat(newLines()).as("no further hop").isEmpty();
    }

    @Test
    void theShippedHostRulesExcludeSnigatesOwnTrafficByMark() throws Exception {
        network.loadNft(network.gateway(), DEPLOY.resolve("host-output.nft"), dir,
                "intercepted_ports", "{ 443 }", "snigate_port", "15001", "snigate_mark", "0x539");
        // From the client through the gateway, and from the gateway host itself.
        assertThat(curl("allowed.test", TestNetwork.SERVER, 443, "real")).isZero();
        assertThat(onlyNewLine().get("outcome").asText()).isEqualTo("forwarded");
        ProcessRunner.Result own = network.exec(network.gateway(), 30, "curl", "-sS", "-o", "/dev/null", "--max-time", "10",
                "--cacert", dir.resolve("real.pem").toString(),
                "--resolve", "allowed.test:443:" + TestNetwork.SERVER, "https://allowed.test/");
        assertThat(own.exitCode()).as(own.stderr()).isZero();
        JsonNode line = onlyNewLine();
        assertThat(line.get("client").asText()).startsWith(TestNetwork.GATEWAY_UPLINK + ":");
        assertThat(line.get("original_dst").asText()).isEqualTo("198.51.100.10:443");
        assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
    }

    @Test
    void everyShippedRuleFilePassesItsToolsCheck() throws Exception {
        List<Path> files;
        try (Stream<Path> listed = Files.list(DEPLOY)) {
            files = listed.sorted().toList();
        }
        int checked = 0;
        for (Path file : files) {
            String name = file.getFileName().toString();
            String check = name.endsWith(".nft") ? "nft -c -f "
                    : name.endsWith(".iptables") ? "iptables-restore --test < "
                    : name.endsWith(".ip6tables") ? "ip6tables-restore --test < " : null;
            if (check != null) {
                network.run(network.gateway(), "sh", "-c", check + file);
                checked++;
            }
        }
        assertThat(checked).as("3 nft files, 3 for iptables, 3 for ip6tables").isEqualTo(9);
    }

    /** curl from the client namespace to {@code ip:port} for {@code name}, trusting {@code cert}; its exit code. */
    private static int curl(String name, String ip, int port, String cert) throws Exception {
        ProcessRunner.Result result = network.exec(network.client(), 30, "curl", "-sS", "-o", "/dev/null",
                "--max-time", "10", "--cacert", dir.resolve(cert + ".pem").toString(),
                "--resolve", name + ":" + port + ":" + bracketed(ip), "https://" + name + ":" + port + "/");
        return result.exitCode();
    }

    private static String bracketed(String ip) {
        return ip.contains(":") ? "[" + ip + "]" : ip;
    }

    /**
     * The snigate process's open TCP sockets, as their descriptors name them ("socket:[inode]").
     * Only TCP: the DNS resolver opens a UDP socket per event loop at its first query and keeps it.
     */
    private static Set<String> openTcpSockets() throws IOException {
        Path process = Path.of("/proc", Long.toString(snigate.pid()));
        Set<String> tcp = new HashSet<>();
        for (String table : List.of("tcp", "tcp6")) {
            // The process's own network namespace's table; the inode is the tenth column.
            for (String row : Files.readAllLines(process.resolve("net").resolve(table))) {
                String[] columns = row.trim().split("\\s+");
                if (columns.length > 9 && !columns[0].equals("sl")) {
                    tcp.add("socket:[" + columns[9] + "]");
                }
            }
        }
        Set<String> sockets = new HashSet<>();
        try (Stream<Path> fds = Files.list(process.resolve("fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (tcp.contains(target)) {
                        sockets.add(target);
                    }
                } catch (IOException closedMeanwhile) {
                    // gone between the listing and the look: not open
                }
            }
        }
        return sockets;
    }

    /** The one access-log line the last client made. */
    private static JsonNode onlyNewLine() throws Exception {
        List<JsonNode> lines = newLinesAtLeast(1);
        assertThat(lines).as("one connection, one line").hasSize(1);
        return lines.get(0);
    }

    private static List<JsonNode> newLinesAtLeast(int count) throws Exception {
        List<JsonNode> lines = new ArrayList<>();
        await().atMost(Duration.ofSeconds(15)).until(() -> {
            lines.addAll(newLines());
            return lines.size() >= count;
        });
        // Whatever else the same connection caused has been written by now too.
        lines.addAll(newLines());
        return lines;
    }

    /** The whole access-log lines written since the last call. */
    private static List<JsonNode> newLines() throws IOException {
        String text = Files.readString(accessLog);
        List<String> all = List.of(text.substring(0, text.lastIndexOf('\n') + 1).split("\n", -1)).subList(0,
                (int) text.chars().filter(c -> c == '\n').count());
        List<JsonNode> fresh = new ArrayList<>();
        for (String line : all.subList(Math.min(linesSeen, all.size()), all.size())) {
            if (line.startsWith("{")) {
                fresh.add(JSON.readTree(line));
            }
        }
        linesSeen = Math.max(linesSeen, all.size());
        return fresh;
    }
}
