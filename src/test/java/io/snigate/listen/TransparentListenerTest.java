package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.Main;
import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.testing.ChildProxy;
import io.snigate.testing.Corpus;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.transport.Transport;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Transparent listeners where no firewall is needed: what the proxy refuses to start with, and a
 * connection that reaches a redirect listener without having been redirected. The interception
 * itself, with real REDIRECT and TPROXY rules, is {@code e2e.TransparentInterceptionTest}.
 */
class TransparentListenerTest {
    private static final byte[] CURL = Corpus.resource("corpus/captured/curl-default.bin");

    @TempDir
    Path dir;

    @Test
    void aDirectConnectionToARedirectListenerIsClosedAtAcceptWithNoOriginalDestination() throws Exception {
        try (ProxyHarness proxy = ProxyHarness.start("""
                listen:
                  - { address: "127.0.0.1:0", original_dst: redirect }
                routes:
                  - match: "*.corpus.test"
                    upstream: "$sni:$port"
                """)) {
            try (Socket client = proxy.connect()) {
                assertThat(ProxyHarness.readUntilClosed(client)).as("closed before a byte is read").isEmpty();
            }
            JsonNode line = proxy.nextLog();
            assertThat(line.get("reason").asText()).isEqualTo("no_original_destination");
            assertThat(line.get("original_dst").isNull()).isTrue();
            assertThat(proxy.admin("/metrics", null).body())
                    .contains("snigate_original_dst_total{listener=\"127.0.0.1:0\",result=\"failure\"} 1.0")
                    .contains("snigate_original_dst_total{listener=\"127.0.0.1:0\",result=\"success\"} 0.0");
        }
    }

    @Test
    void aReloadThatChangesAListenersOriginalDstSaysSo() throws Exception {
        String config = """
                listen:
                  - { address: "127.0.0.1:0"%s }
                routes:
                  - match: "*.corpus.test"
                    upstream: "$sni:$port"
                """;
        Logger listenersLog = (Logger) LoggerFactory.getLogger(BoundListeners.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        listenersLog.addAppender(logged);
        try (ProxyHarness proxy = ProxyHarness.start(config.formatted(", original_dst: redirect"))) {
            assertThat(proxy.server().reload(ConfigLoader.parse(config.formatted(""), "routes.yaml"))).isTrue();
        } finally {
            listenersLog.detachAppender(logged);
        }
        assertThat(logged.list).extracting(ILoggingEvent::getFormattedMessage).filteredOn(line -> line.startsWith("listener "))
                .containsExactly("listener 127.0.0.1:0"
                + " changed original_dst from redirect to none: change the firewall rules that send it connections with it");
    }

    @Test
    void aPlainListenerHasNoOriginalDestinationSeriesAndDialsItsOwnPortForDollarPort() throws Exception {
        try (ProxyHarness proxy = ProxyHarness.start("""
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:$port"
                """)) {
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(CURL);
                ProxyHarness.readUntilClosed(client);
            }
            JsonNode line = proxy.nextLog();
            assertThat(line.get("upstream").isNull()).isTrue();
            assertThat(line.get("reason").asText()).as("its own port is itself").isEqualTo("loop_detected");
            assertThat(proxy.admin("/metrics", null).body()).doesNotContain("snigate_original_dst_total");
        }
    }

    @Test
    void aTransparentListenerOnNioRefusesToStartAndSaysWhatToDo() throws Exception {
        ProxyConfig config = ConfigLoader.parse("""
                listen:
                  - "127.0.0.1:0"
                  - { address: "127.0.0.2:0", original_dst: redirect }
                admin: "127.0.0.1:0"
                default: "$sni:443"
                """, "routes.yaml");
        Transport nio = Transport.select("nio", () -> null, () -> null);
        try (ProxyServer server = new ProxyServer(config, new ProxyMetrics(), line -> {}, nio)) {
            assertThatThrownBy(server::start)
                    .isInstanceOf(ConfigException.class)
                    .hasMessage("routes.yaml:3: listener 127.0.0.2:0 has original_dst: redirect, which needs the native"
                            + " epoll or io_uring transport, but this process runs on NIO (asked for with"
                            + " -Dsnigate.transport=nio); run on Linux x86-64 or aarch64 without -Dsnigate.transport=nio,"
                            + " or remove original_dst");
        }
    }

    @Test
    void anUpstreamMarkOnNioRefusesToStart() throws Exception {
        ProxyConfig config = ConfigLoader.parse("""
                listen: "127.0.0.1:0"
                admin: "127.0.0.1:0"
                upstream_mark: 0x539
                default: "$sni:443"
                """, "routes.yaml");
        Transport nio = Transport.select("nio", () -> null, () -> null);
        try (ProxyServer server = new ProxyServer(config, new ProxyMetrics(), line -> {}, nio)) {
            assertThatThrownBy(server::start)
                    .isInstanceOf(ConfigException.class)
                    .hasMessage("routes.yaml:3: upstream_mark needs the native epoll or io_uring transport, but this"
                            + " process runs on NIO (asked for with -Dsnigate.transport=nio); run on Linux x86-64 or"
                            + " aarch64 without -Dsnigate.transport=nio, or remove upstream_mark");
        }
    }

    /** The real main class, started without CAP_NET_ADMIN and CAP_NET_RAW by {@code setpriv}. */
    @Test
    void tproxyOrAnUpstreamMarkWithoutTheCapabilityIsAClearStartUpError() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")) || "true".equals(System.getenv("CI")),
                "needs root, to drop a capability it holds");
        Path config = Files.writeString(dir.resolve("routes.yaml"), """
                listen:
                  - { address: "127.0.0.1:0", original_dst: tproxy }
                admin: "127.0.0.1:0"
                default: "$sni:443"
                """);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessRunner.Result result = ProcessRunner.run(60, "setpriv", "--bounding-set=-net_admin,-net_raw", "--",
                java, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--config", config.toString());
        assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
        assertThat(result.stderr()).contains("snigate: cannot start: " + config + ":2: listener 127.0.0.1:0 has"
                + " original_dst: tproxy, which needs the capability CAP_NET_ADMIN (or CAP_NET_RAW) that this process"
                + " does not have; run snigate as root, or give it the capability").doesNotContain("Exception");

        Files.writeString(config, """
                listen: "127.0.0.1:0"
                admin: "127.0.0.1:0"
                upstream_mark: 0x539
                default: "$sni:443"
                """);
        result = ProcessRunner.run(60, "setpriv", "--bounding-set=-net_admin,-net_raw", "--",
                java, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--config", config.toString());
        assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
        assertThat(result.stderr()).contains("snigate: cannot start: " + config + ":3: upstream_mark needs the"
                + " capability CAP_NET_ADMIN (or CAP_NET_RAW) that this process does not have; run snigate as root,"
                + " or give it the capability").contains(", or remove upstream_mark").doesNotContain("Exception");

        // --check, as ExecReload runs it with the unit's capabilities, refuses it too: a reload's
        // check does not pass a file the running proxy would refuse.
        result = ProcessRunner.run(60, "setpriv", "--bounding-set=-net_admin,-net_raw", "--",
                java, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--check", "--config",
                config.toString());
        assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
        assertThat(result.stderr()).contains("snigate: " + config + ":3: upstream_mark needs the capability CAP_NET_ADMIN")
                .doesNotContain("is valid");
    }

    /**
     * A TPROXY listener's socket is transparent before it listens. A listening member of the
     * port's {@code SO_REUSEPORT} group that is not transparent yet (a restart beside the running
     * process) can be picked by TPROXY for a connection it cannot take, which the shipped rules
     * then refuse (failed before on io_uring: listen(), then IPV6_TRANSPARENT; a hand-over refused
     * a few clients). Read from the system calls of the real main class, under strace.
     */
    @Test
    void aTproxyListenersSocketIsTransparentBeforeItListens() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")) || "true".equals(System.getenv("CI")),
                "needs root, for IP_TRANSPARENT");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/strace")) || "true".equals(System.getenv("CI")),
                "needs strace (.ci/run installs it)");
        Path config = Files.writeString(dir.resolve("routes.yaml"), """
                listen:
                  - { address: "[::1]:0", original_dst: tproxy }
                  - { address: "127.0.0.3:0", original_dst: tproxy }
                admin: "127.0.0.1:0"
                default: "$sni:443"
                """);
        Path trace = dir.resolve("strace.txt");
        List<String> command = new ArrayList<>(List.of("strace", "-f", "-qq", "-e", "trace=bind,setsockopt,listen,close",
                "-o", trace.toString(), Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(ChildProxy.jvmOptions());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "--config",
                config.toString()));
        Process proxy = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            CompletableFuture<Boolean> listening = CompletableFuture.supplyAsync(() -> new BufferedReader(
                    new InputStreamReader(proxy.getInputStream(), StandardCharsets.UTF_8)).lines()
                    .anyMatch(line -> line.contains("ready with")));
            assertThat(listening.get(60, TimeUnit.SECONDS)).as("the proxy started").isTrue();
        } finally {
            proxy.descendants().forEach(ProcessHandle::destroy); // the proxy drains and exits, then strace
            if (!proxy.waitFor(30, TimeUnit.SECONDS)) {
                proxy.descendants().forEach(ProcessHandle::destroyForcibly);
                proxy.destroyForcibly();
            }
        }

        // pid, call, descriptor: the listeners' sockets are those bound to ::1 and 127.0.0.3 (the
        // admin's is on 127.0.0.1); a close ends what a descriptor's number says.
        Pattern call = Pattern.compile("^\\d+\\s+(bind|setsockopt|listen|close)\\((\\d+)(.*)");
        Map<String, String> listenerSockets = new HashMap<>(); // descriptor, the address bound
        Set<String> transparent = new HashSet<>();
        Set<String> listened = new HashSet<>();
        for (String line : Files.readAllLines(trace)) {
            Matcher m = call.matcher(line);
            if (!m.find()) {
                continue;
            }
            String fd = m.group(2);
            switch (m.group(1)) {
                case "bind" -> {
                    if (m.group(3).contains("\"::1\"")) {
                        listenerSockets.put(fd, "[::1]");
                    } else if (m.group(3).contains("127.0.0.3")) {
                        listenerSockets.put(fd, "127.0.0.3");
                    }
                }
                case "setsockopt" -> {
                    if (m.group(3).contains("_TRANSPARENT, [1]")) {
                        transparent.add(fd);
                    }
                }
                case "listen" -> {
                    if (listenerSockets.containsKey(fd)) {
                        assertThat(transparent).as("transparent before listen(): " + line).contains(fd);
                        listened.add(listenerSockets.get(fd));
                    }
                }
                default -> {
                    listenerSockets.remove(fd);
                    transparent.remove(fd);
                }
            }
        }
        assertThat(listened).as("the listeners' sockets listened: " + Files.readString(trace))
                .containsExactlyInAnyOrder("[::1]", "127.0.0.3");
    }

    @Test
    void decodesTheKernelsSocketAddresses() throws Exception {
        ByteBuffer ipv4 = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        ipv4.putShort((short) 2).order(ByteOrder.BIG_ENDIAN).putShort((short) 8443).put(new byte[] {(byte) 198, 51, 100, 10});
        ipv4.clear();
        assertThat(OriginalDestination.decode(ipv4)).isEqualTo(new InetSocketAddress(InetAddress.getByName("198.51.100.10"), 8443));

        ByteBuffer ipv6 = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
        ipv6.putShort((short) 10).order(ByteOrder.BIG_ENDIAN).putShort((short) 443).putInt(0)
                .put(InetAddress.getByName("2001:db8::10").getAddress());
        ipv6.clear();
        assertThat(OriginalDestination.decode(ipv6)).isEqualTo(new InetSocketAddress(InetAddress.getByName("2001:db8::10"), 443));

        ByteBuffer mapped = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
        mapped.putShort((short) 10).order(ByteOrder.BIG_ENDIAN).putShort((short) 443).putInt(0)
                .put(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 198, 51, 100, 10});
        mapped.clear();
        InetSocketAddress unmapped = OriginalDestination.decode(mapped);
        assertThat(unmapped.getAddress().getAddress()).as("an IPv4-mapped answer is unmapped").hasSize(4);
        assertThat(unmapped).isEqualTo(new InetSocketAddress(InetAddress.getByName("198.51.100.10"), 443));
    }
}
