package io.snigate.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Three network namespaces made by the test and joined by veth pairs, as a transparent proxy
 * meets them: a client, a gateway (where snigate and the firewall rules run) and a server.
 *
 * <pre>
 *   client  10.77.0.2/24  fd77::2/64       -- {prefix}-c0 | {prefix}-g0 --  gateway 10.77.0.1  fd77::1
 *   gateway 198.51.100.1/24 2001:db8:77::1 -- {prefix}-g1 | {prefix}-s0 --  server 198.51.100.10 and .66,
 *                                                                            2001:db8:77::10 and ::66
 * </pre>
 *
 * The client's default route is the gateway, which forwards. Nothing is linked to the host's own
 * namespace: the test's traffic stays inside. Everything is removed on {@link #close}, and the
 * processes started in the namespaces are killed.
 */
public final class TestNetwork implements AutoCloseable {
    public static final String SERVER = "198.51.100.10";
    public static final String ROGUE = "198.51.100.66";
    public static final String SERVER6 = "2001:db8:77::10";
    public static final String ROGUE6 = "2001:db8:77::66";
    public static final String GATEWAY_LAN = "10.77.0.1";
    public static final String GATEWAY_UPLINK = "198.51.100.1";

    private final String prefix;
    private final List<Process> processes = new ArrayList<>();

    private TestNetwork(String prefix) {
        this.prefix = prefix;
    }

    /**
     * Makes the namespaces, or skips the test with the reason when this machine cannot (not root,
     * no {@code ip netns}, no nft): except under {@code CI=true}, where a skip would hide that the
     * tests never ran, so it fails instead.
     */
    public static TestNetwork create() throws Exception {
        String missing = whyNotPossible();
        if (missing != null) {
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError("network namespace tests cannot run (" + missing + "), and CI=true"
                        + " does not allow skipping them; .ci/run installs what they need and runs as root");
            }
            Assumptions.abort("network namespace tests skipped: " + missing);
        }
        StaleNamespaces.sweep();
        TestNetwork network = new TestNetwork("sg" + (ProcessHandle.current().pid() % 100_000));
        try {
            network.build();
        } catch (Exception | AssertionError e) {
            network.close();
            throw e;
        }
        return network;
    }

    private static String whyNotPossible() throws InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) {
            return "not root";
        }
        for (String tool : new String[] {"ip", "nft", "iptables-restore", "ip6tables-restore", "dnsmasq", "squid", "openssl", "curl"}) {
            try {
                Process which = new ProcessBuilder("sh", "-c", "command -v " + tool).start();
                if (!which.waitFor(10, TimeUnit.SECONDS) || which.exitValue() != 0) {
                    return tool + " is not installed";
                }
            } catch (IOException e) {
                return "cannot run sh: " + e.getMessage();
            }
        }
        return null;
    }

    public String client() {
        return prefix + "-c";
    }

    public String gateway() {
        return prefix + "-g";
    }

    public String server() {
        return prefix + "-s";
    }

    /** The gateway's interface towards the client: the LAN side of the firewall rules. */
    public String gatewayLanInterface() {
        return prefix + "-g0";
    }

    private void build() throws Exception {
        for (String ns : List.of(client(), gateway(), server())) {
            sh("ip netns del " + ns + " 2>/dev/null || true");
            ip("netns", "add", ns);
            ip("-n", ns, "link", "set", "lo", "up");
        }
        ip("link", "add", prefix + "-c0", "netns", client(), "type", "veth", "peer", "name", prefix + "-g0", "netns", gateway());
        ip("link", "add", prefix + "-g1", "netns", gateway(), "type", "veth", "peer", "name", prefix + "-s0", "netns", server());
        address(client(), "-c0", "10.77.0.2/24", "fd77::2/64");
        address(gateway(), "-g0", GATEWAY_LAN + "/24", "fd77::1/64");
        address(gateway(), "-g1", GATEWAY_UPLINK + "/24", "2001:db8:77::1/64");
        address(server(), "-s0", SERVER + "/24", SERVER6 + "/64");
        address(server(), "-s0", ROGUE + "/24", ROGUE6 + "/64");
        ip("-n", client(), "route", "add", "default", "via", GATEWAY_LAN);
        ip("-n", client(), "-6", "route", "add", "default", "via", "fd77::1");
        ip("-n", server(), "route", "add", "default", "via", GATEWAY_UPLINK);
        ip("-n", server(), "-6", "route", "add", "default", "via", "2001:db8:77::1");
        run(gateway(), "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
    }

    private void address(String ns, String suffix, String ipv4, String ipv6) throws Exception {
        ip("-n", ns, "addr", "add", ipv4, "dev", prefix + suffix);
        // nodad: usable at once, without waiting for duplicate address detection.
        ip("-n", ns, "addr", "add", ipv6, "dev", prefix + suffix, "nodad");
        ip("-n", ns, "link", "set", prefix + suffix, "up");
    }

    private static void ip(String... args) throws Exception {
        String[] command = new String[args.length + 1];
        command[0] = "ip";
        System.arraycopy(args, 0, command, 1, args.length);
        ProcessRunner.Result result = ProcessRunner.run(30, command);
        assertThat(result.exitCode()).as(String.join(" ", command) + ": " + result.stderr()).isZero();
    }

    private static void sh(String script) throws Exception {
        ProcessRunner.run(30, "sh", "-c", script);
    }

    /** Runs a command in namespace {@code ns} to its end; fails the test unless it exits 0. */
    public ProcessRunner.Result run(String ns, String... command) throws Exception {
        ProcessRunner.Result result = exec(ns, 60, command);
        assertThat(result.exitCode()).as(String.join(" ", command) + " in " + ns + ": " + result.stderr()).isZero();
        return result;
    }

    /** Runs a command in namespace {@code ns} to its end, whatever its exit status. */
    public ProcessRunner.Result exec(String ns, int timeoutSeconds, String... command) throws Exception {
        return ProcessRunner.run(timeoutSeconds, inNamespace(ns, command));
    }

    /** Starts a long-running command in {@code ns}; it is killed when the network closes. */
    public Process start(String ns, Path log, String... command) throws IOException {
        Process process = new ProcessBuilder(inNamespace(ns, command))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        processes.add(process);
        return process;
    }

    /** Starts a command in {@code ns} whose standard output the test reads itself. */
    public Process startReading(String ns, Path stderr, String... command) throws IOException {
        Process process = new ProcessBuilder(inNamespace(ns, command)).redirectError(stderr.toFile()).start();
        processes.add(process);
        return process;
    }

    /**
     * Loads an nft rule file into {@code ns}, with each {@code define name = value} of the file
     * replaced where {@code defines} gives a value (name, value, name, value, ...).
     */
    public void loadNft(String ns, Path file, Path scratch, String... defines) throws Exception {
        String text = Files.readString(file);
        for (int i = 0; i < defines.length; i += 2) {
            String pattern = "(?m)^define " + defines[i] + " = .*$";
            assertThat(text).as(file + " defines " + defines[i]).containsPattern(pattern);
            text = text.replaceAll(pattern, "define " + defines[i] + " = " + defines[i + 1]);
        }
        Path edited = scratch.resolve(file.getFileName());
        Files.writeString(edited, text);
        run(ns, "nft", "-f", edited.toString());
    }

    /** Loads an iptables-restore file into {@code ns} with its literal {@code from} replaced by {@code to}. */
    public void loadIptables(String ns, String restore, Path file, Path scratch, String... replacements) throws Exception {
        String text = Files.readString(file);
        for (int i = 0; i < replacements.length; i += 2) {
            assertThat(text).as(file + " mentions " + replacements[i]).contains(replacements[i]);
            text = text.replace(replacements[i], replacements[i + 1]);
        }
        Path edited = scratch.resolve(file.getFileName());
        Files.writeString(edited, text);
        run(ns, "sh", "-c", restore + " < " + edited);
    }

    /** Removes every firewall rule of {@code ns}, whichever tool made it. */
    public void flushFirewall(String ns) throws Exception {
        run(ns, "nft", "flush", "ruleset");
    }

    private static String[] inNamespace(String ns, String... command) {
        String[] full = new String[command.length + 4];
        full[0] = "ip";
        full[1] = "netns";
        full[2] = "exec";
        full[3] = ns;
        System.arraycopy(command, 0, full, 4, command.length);
        return full;
    }

    @Override
    public void close() throws Exception {
        for (Process process : processes) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        for (String ns : List.of(client(), gateway(), server())) {
            sh("ip netns del " + ns + " 2>/dev/null || true");
        }
    }
}
