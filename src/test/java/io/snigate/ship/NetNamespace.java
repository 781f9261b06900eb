package io.snigate.ship;

import static org.assertj.core.api.Assertions.assertThat;

import io.snigate.testing.ProcessRunner;
import io.snigate.testing.StaleNamespaces;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * A network namespace of the test's own, with its loopback up: its sysctls are its own, and
 * what runs in it reaches nothing outside. {@link #close} deletes it. Needs root and {@code ip}.
 */
final class NetNamespace implements AutoCloseable {
    private final String name;

    private NetNamespace(String name) {
        this.name = name;
    }

    /**
     * Makes the namespace, or skips the test when this machine cannot (not root, no iproute2):
     * except under {@code CI=true}, where that fails the test, since .ci/run provides both.
     */
    static NetNamespace create(String name) throws Exception {
        String missing = !"root".equals(System.getProperty("user.name")) ? "not root"
                : ProcessRunner.run(10, "sh", "-c", "command -v ip").exitCode() != 0 ? "no ip command (iproute2)" : null;
        if (missing != null) {
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError("a network namespace cannot be made (" + missing + "), and CI=true does not allow"
                        + " skipping the test: .ci/run runs as root and installs iproute2");
            }
            Assumptions.abort("needs a network namespace of its own: " + missing);
        }
        StaleNamespaces.sweep(); // leftovers of killed runs
        ProcessRunner.run(10, "ip", "netns", "delete", name);
        expectSuccess(ProcessRunner.run(10, "ip", "netns", "add", name), "ip netns add " + name);
        NetNamespace ns = new NetNamespace(name);
        ns.run("ip", "link", "set", "lo", "up");
        return ns;
    }

    /** {@code command} as run inside the namespace. */
    List<String> command(String... command) {
        List<String> inside = new ArrayList<>(List.of("ip", "netns", "exec", name));
        inside.addAll(List.of(command));
        return inside;
    }

    void run(String... command) throws IOException, InterruptedException {
        expectSuccess(ProcessRunner.run(10, command(command).toArray(String[]::new)), String.join(" ", command));
    }

    private static void expectSuccess(ProcessRunner.Result result, String what) {
        assertThat(result.exitCode()).as("%s: %s%s", what, result.stdout(), result.stderr()).isZero();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        ProcessRunner.run(10, "ip", "netns", "delete", name);
    }
}
