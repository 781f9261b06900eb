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
    @Test
    void aPortBelowTheUnprivilegedFloorWithoutTheCapabilityIsRefused() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")) || "true".equals(System.getenv("CI")),
                "needs root, to drop a capability it holds and make a namespace");
        Path config = Files.writeString(dir.resolve("routes.yaml"), """
                listen: "127.0.0.1:443"
                admin: "127.0.0.1:0"
                default: "$sni:443"
                """);
        ProcessRunner.Result result = ProcessRunner.run(60, "unshare", "--net", "sh", "-c",
                "ip link set lo up && sysctl -qw net.ipv4.ip_unprivileged_port_start=1024 && exec setpriv"
                        + " --bounding-set=-net_bind_service -- \"$@\"", "sh",
                JAVA, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--check", "--config",
                config.toString());
        assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
        assertThat(result.stderr()).contains("snigate: " + config + ":1: cannot listen on 127.0.0.1:443: Permission denied;"
                + " a port below 1024 needs root or CAP_NET_BIND_SERVICE (deploy/systemd/snigate@.service grants it);"
                + " here, ports from 1024 are open to any user").doesNotContain("is valid", "Exception");
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

        try (ServerSocket running = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Files.writeString(config, """
                    listen: "127.0.0.1:%d"
                    admin: "127.0.0.1:0"
                    default: "$sni:443"
                    """.formatted(running.getLocalPort()));
            result = check(config);
            assertThat(result.exitCode()).as(result.stderr()).isZero();
            assertThat(result.stdout() + result.stderr()).contains("is valid");
        }
    }

    private static ProcessRunner.Result check(Path config) throws Exception {
        return ProcessRunner.run(60, JAVA, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--check", "--config", config.toString());
    }
}
