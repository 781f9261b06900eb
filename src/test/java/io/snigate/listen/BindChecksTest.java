package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.testing.ChildProxy;
import io.snigate.testing.LogCapture;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * An address another process already listens on: shared quietly through {@code SO_REUSEPORT}
 * unless snigate says so, and a bind that fails names the address, the reason and the fix.
 */
class BindChecksTest {
    private static final String ROUTE = "routes:\n  - match: \"a.example\"\n    upstream: \"127.0.0.1:9\"\n";

    @RegisterExtension
    final LogCapture logged = new LogCapture(BindChecks.class);

    @Test
    void aPortAnotherProcessSharesIsSaidAtStartAndAFreeOneIsNot() throws Exception {
        try (ServerSocket other = new ServerSocket()) {
            other.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            other.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            try (ProxyHarness proxy = ProxyHarness.start("listen: [\"127.0.0.1:" + other.getLocalPort() + "\"]\n" + ROUTE)) {
                assertThat(proxy.port()).isEqualTo(other.getLocalPort());
            }
        }
        assertThat(logged.events()).singleElement().satisfies(event -> {
            assertThat(event.getLevel()).isEqualTo(Level.WARN);
            assertThat(event.getFormattedMessage()).contains("listen 127.0.0.1:")
                    .contains("is already listened on by another process (java (pid " + ProcessHandle.current().pid() + "))");
        });

        logged.events().clear();
        try (ProxyHarness proxy = ProxyHarness.start(ROUTE)) {
            assertThat(logged.events()).as("port 0, and the admin's port 0").isEmpty();
            BindChecks.warnIfServed(new InetSocketAddress(InetAddress.getLoopbackAddress(), freePort()), "listen", "test.yaml");
            assertThat(logged.events()).as("a free port").isEmpty();
        }
    }

    /**
     * A restart handing over: the port is another snigate's (a real one, in a child process) on
     * the same config file, said as information with its process id, since it is expected on
     * every such start and a warning there would teach operators to ignore the one that matters.
     * A snigate on another config naming the same port is not a hand-over: warned of, with its
     * config (failed before: said as a hand-over).
     */
    @Test
    void aPortAnotherSnigateListensOnIsAHandOverOnlyOnTheSameConfig(@TempDir Path dir) throws Exception {
        try (ChildProxy old = ChildProxy.start(dir, 1, (admin, listen) -> "listen: [\"127.0.0.1:" + listen[0] + "\"]\n"
                + "admin: \"127.0.0.1:" + admin + "\"\n" + ROUTE)) {
            InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), old.listenPort());
            Path config = dir.resolve("routes.yaml");
            String other = "snigate (pid " + old.process().pid() + ", config " + config + ")";

            BindChecks.warnIfServed(address, "listen", config.toString());
            assertThat(logged.events()).singleElement().satisfies(event -> {
                assertThat(event.getLevel()).isEqualTo(Level.INFO);
                assertThat(event.getFormattedMessage()).isEqualTo("listen 127.0.0.1:" + old.listenPort()
                        + " is also listened on by " + other + ": the kernel splits new connections between it and"
                        + " this one until it closes its listeners, as when a restart hands over (deploy/README.md)");
            });

            // The same file through a link is the same config (failed: compared as paths, a warning).
            logged.events().clear();
            Path link = Files.createSymbolicLink(dir.resolve("link.yaml"), config);
            BindChecks.warnIfServed(address, "listen", link.toString());
            assertThat(logged.events()).singleElement().satisfies(event -> assertThat(event.getLevel()).isEqualTo(Level.INFO));

            logged.events().clear();
            BindChecks.warnIfServed(address, "listen", dir.resolve("other.yaml").toString());
            assertThat(logged.events()).singleElement().satisfies(event -> {
                assertThat(event.getLevel()).isEqualTo(Level.WARN);
                assertThat(event.getFormattedMessage()).startsWith("listen 127.0.0.1:" + old.listenPort()
                        + " is already listened on by another process (" + other + "): the kernel will split");
            });
        }
    }

    /**
     * The probes never listen: a listening probe with SO_REUSEPORT joins the other process's group
     * for a moment, and the connections the kernel hands it are reset at its close (failed before:
     * a few resets per thousands of connections made while probing).
     */
    @Test
    void probingASharedPortTakesNoConnectionFromItsListener(@TempDir Path noProc) throws Exception {
        try (ServerSocket other = new ServerSocket()) {
            other.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            other.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096);
            InetSocketAddress address = (InetSocketAddress) other.getLocalSocketAddress();
            Thread acceptor = new Thread(() -> {
                while (!other.isClosed()) {
                    try (Socket accepted = other.accept()) {
                        accepted.getOutputStream().write(1);
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
            acceptor.start();
            AtomicBoolean probing = new AtomicBoolean(true);
            CompletableFuture<List<String>> clients = CompletableFuture.supplyAsync(() -> {
                List<String> failed = new ArrayList<>();
                for (int i = 0; i < 20_000 && probing.get(); i++) {
                    try (Socket client = new Socket()) {
                        client.setSoTimeout(5_000);
                        client.connect(address, 5_000);
                        if (client.getInputStream().read() != 1) {
                            failed.add("closed without the listener's byte");
                        }
                    } catch (IOException e) {
                        failed.add(e.toString());
                    }
                }
                return failed;
            });
            PortListeners none = new PortListeners(noProc);
            for (int i = 0; i < 3_000; i++) {
                BindChecks.warnIfServed(address, "listen", "test.yaml", none);
            }
            probing.set(false);
            assertThat(clients.get(60, TimeUnit.SECONDS)).as("connections the probes took").isEmpty();
        }
    }

    @Test
    void aPortTakenWithoutSharingStopsTheStartWithTheAddressAndTheFix() throws Exception {
        try (ServerSocket other = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThatThrownBy(() -> start("listen: [\"127.0.0.1:" + other.getLocalPort() + "\"]\nadmin: \"127.0.0.1:0\"\n"))
                    .isInstanceOf(ConfigException.class)
                    .hasMessage("test.yaml:1: cannot listen on 127.0.0.1:%d: Address already in use; another process listens "
                            + "there without sharing it (ss -ltnp 'sport = :%d'): stop it, or choose another port",
                            other.getLocalPort(), other.getLocalPort());
            assertThatThrownBy(() -> start("listen: [\"127.0.0.1:0\"]\nadmin: \"127.0.0.1:" + other.getLocalPort() + "\"\n"))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("test.yaml:2: cannot serve admin on 127.0.0.1:" + other.getLocalPort()
                            + ": Address already in use; another process listens there");
        }
        assertThatThrownBy(() -> start("listen: [\"192.0.2.77:8443\"]\nadmin: \"127.0.0.1:0\"\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("test.yaml:1: cannot listen on 192.0.2.77:8443: Cannot assign requested address; "
                        + "192.0.2.77 is not an address of this host");
        assertThat(logged.events()).as("no warning that the kernel will split connections, before the error that it cannot")
                .isEmpty();
    }

    /**
     * Refused a port below the floor: the host's floor, whole (failed: its first digit), the fix for
     * a unit, and for a container, whose runtime may keep the floor at 1024.
     */
    @Test
    void aPortBelowTheFloorRefusedSaysWhatToDoInAContainerToo() throws Exception {
        ConfigException refused = BindChecks.failed("test.yaml", 1, "listen", new InetSocketAddress("0.0.0.0", 443),
                new java.net.BindException("Permission denied"));
        String floor = ProcessRunner.run(10, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout().strip();
        assertThat(refused.getMessage()).isEqualTo("test.yaml:1: cannot listen on 0.0.0.0:443: Permission denied; a port"
                + " below " + floor + " (net.ipv4.ip_unprivileged_port_start) needs root or CAP_NET_BIND_SERVICE"
                + " (deploy/systemd/snigate@.service grants it); in a container: --sysctl"
                + " net.ipv4.ip_unprivileged_port_start=0, or listen on port " + floor + " or above and publish it as 443");
    }

    /**
     * Refused a port the floor allows: not the floor's doing (failed: the floor's advice, "listen on
     * port 1024 or above and publish it as 65000").
     */
    @Test
    void aPortAboveTheFloorRefusedNamesWhatElseRefuses() throws Exception {
        ConfigException refused = BindChecks.failed("test.yaml", 1, "listen", new InetSocketAddress("0.0.0.0", 65000),
                new java.net.BindException("Permission denied"));
        String floor = ProcessRunner.run(10, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout().strip();
        assertThat(refused.getMessage()).isEqualTo("test.yaml:1: cannot listen on 0.0.0.0:65000: Permission denied; the"
                + " port is not below this host's floor for any user (" + floor + ", net.ipv4.ip_unprivileged_port_start):"
                + " a security module (SELinux, AppArmor) or a seccomp filter refused it, and its log says why");
    }

    /** An IPv6 address the host does not have, written as the config writes it (failed: 2001:db8:0:0:0:0:0:77). */
    @Test
    void anIpv6AddressNotOfThisHostIsSaidCompressed() {
        ConfigException refused = BindChecks.failed("test.yaml", 1, "listen", new InetSocketAddress("2001:db8::77", 8443),
                new java.net.BindException("Cannot assign requested address"));
        assertThat(refused.getMessage()).isEqualTo("test.yaml:1: cannot listen on [2001:db8::77]:8443: Cannot assign"
                + " requested address; 2001:db8::77 is not an address of this host");
    }

    private static void start(String yaml) throws Exception {
        ProxyServer server = new ProxyServer(ConfigLoader.parse(yaml + ROUTE, "test.yaml"), new ProxyMetrics(),
                line -> {}, Transport.select());
        try {
            server.start();
        } finally {
            server.close();
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
