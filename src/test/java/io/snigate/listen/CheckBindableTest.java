package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snigate.Main;
import io.snigate.testing.ProcessRunner;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --check} refuses the addresses this process could not bind, as the start would, and
 * passes one a running proxy holds, as a reload's check meets it (failed before: "is valid" for a
 * port below 1024 without the capability, and the start then refused).
 */
class CheckBindableTest {
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @TempDir
    Path dir;

    /**
     * The real main class without CAP_NET_BIND_SERVICE ({@code setpriv}), in a network namespace
     * of its own whose floor is the kernel's default, whatever the host's.
     */
    @ParameterizedTest
    @ValueSource(strings = {
            "listen: \"127.0.0.1:443\"",
            // Another host's address, as TPROXY takes: its port is still below the floor (failed
            // with the first version of the check, which the kernel's address check hid it from).
            "listen: [ { address: \"192.0.2.9:443\", original_dst: tproxy } ]"})
    void aPortBelowTheUnprivilegedFloorWithoutTheCapabilityIsRefused(String listen) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")) || "true".equals(System.getenv("CI")),
                "needs root, to drop a capability it holds and make a namespace");
        Path config = Files.writeString(dir.resolve("routes.yaml"), listen + """

                admin: "127.0.0.1:0"
                default: "$sni:443"
                """);
        ProcessRunner.Result result = ProcessRunner.run(60, "unshare", "--net", "sh", "-c",
                "ip link set lo up && sysctl -qw net.ipv4.ip_unprivileged_port_start=1024 && exec setpriv"
                        + " --inh-caps=-net_bind_service --ambient-caps=-net_bind_service"
                        + " --bounding-set=-net_bind_service -- \"$@\"", "sh",
                JAVA, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--check", "--config",
                config.toString());
        String address = listen.contains("tproxy") ? "192.0.2.9:443" : "127.0.0.1:443";
        assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
        assertThat(result.stderr()).contains("snigate: " + config + ":1: cannot listen on " + address + ": Permission denied;"
                + " a port below 1024 (net.ipv4.ip_unprivileged_port_start) needs root or CAP_NET_BIND_SERVICE"
                + " (deploy/systemd/snigate@.service grants it); in a container: --sysctl"
                + " net.ipv4.ip_unprivileged_port_start=0, or listen on port 1024 or above and publish it as 443; the file"
                + " itself is valid: check it as the service runs it (sudo, or systemctl reload, whose check has the"
                + " unit's capabilities)")
                .doesNotContain(config + " is valid", "Exception");
    }

    /**
     * An address the host no longer has (a moved VIP) that the running proxy still listens on
     * passes: a reload keeps its socket (failed with the first version of the check: "is not an
     * address of this host"). In a network namespace of its own, the address on its loopback.
     */
    @Test
    void anAddressGoneFromTheHostThatASocketStillListensOnPasses() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")) || "true".equals(System.getenv("CI")),
                "needs root, to make a namespace");
        Path config = Files.writeString(dir.resolve("routes.yaml"), """
                listen: "10.99.0.1:8443"
                admin: "127.0.0.1:0"
                default: "$sni:443"
                """);
        Path ready = dir.resolve("holder.ready");
        String script = """
                ip link set lo up && ip addr add 10.99.0.1/32 dev lo || exit 97
                python3 -c 'import socket, time
                s = socket.socket(); s.bind(("10.99.0.1", 8443)); s.listen(8)
                open("%s", "w").close(); time.sleep(60)' &
                holder=$!
                for i in $(seq 100); do [ -e "%s" ] && break; sleep 0.1; done
                ip addr del 10.99.0.1/32 dev lo || exit 98
                "$@"; status=$?
                kill $holder
                exit $status
                """.formatted(ready, ready);
        ProcessRunner.Result result = ProcessRunner.run(60, "unshare", "--net", "sh", "-c", script, "sh",
                JAVA, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--check", "--config",
                config.toString());
        assertThat(result.exitCode()).as(result.stdout() + result.stderr()).isZero();
        assertThat(result.stdout() + result.stderr()).contains(config + " is valid");
    }

    @Test
    void anAddressNotOfThisHostIsRefusedAndOneInUseIsNot() throws Exception {
        Path config = Files.writeString(dir.resolve("routes.yaml"), """
                listen: [ "127.0.0.1:0", "192.0.2.77:8443" ]
                admin: "127.0.0.1:0"
                default: "$sni:443"
                """);
        ProcessRunner.Result result = check(config);
        assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
        assertThat(result.stderr()).contains("snigate: " + config + ":1: cannot listen on 192.0.2.77:8443: Cannot assign"
                + " requested address; 192.0.2.77 is not an address of this host");

        // In use: a listener the running proxy holds, the wildcard of the other family beside it,
        // and its admin endpoint.
        try (ServerSocket running = new ServerSocket(0, 1, InetAddress.getByName("0.0.0.0"));
                ServerSocket admin = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Files.writeString(config, """
                    listen: [ "0.0.0.0:%d", "[::]:%d" ]
                    admin: "127.0.0.1:%d"
                    default: "$sni:443"
                    """.formatted(running.getLocalPort(), running.getLocalPort(), admin.getLocalPort()));
            result = check(config);
            assertThat(result.exitCode()).as(result.stderr()).isZero();
            assertThat(result.stdout() + result.stderr()).contains(config + " is valid");
        }
    }

    private static ProcessRunner.Result check(Path config) throws Exception {
        return ProcessRunner.run(60, JAVA, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--check", "--config", config.toString());
    }
}
