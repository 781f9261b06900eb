package io.snigate.testing;

import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Network namespaces that an earlier test run made and could not delete (it was killed: a CI
 * timeout, an OOM, Ctrl-C), with the processes still running in them (dnsmasq, squid,
 * {@code openssl s_server}, a snigate). Their names carry the test JVM's process id, so a
 * namespace whose JVM is gone is a leftover; one of a JVM still running (another build on the
 * same machine) is left alone.
 */
public final class StaleNamespaces {
    /** {@code sg<pid % 100000>-c|g|s} ({@link TestNetwork}), {@code snigate-handover-<pid>} (HandoverIT). */
    private static final Pattern OURS = Pattern.compile("(?:sg(\\d+)-[cgs]|snigate-handover-(\\d+))");

    private StaleNamespaces() {}

    /** Kills what runs in every leftover namespace, then deletes it. */
    public static void sweep() throws Exception {
        Set<Long> running = ProcessHandle.allProcesses().map(ProcessHandle::pid).collect(Collectors.toSet());
        Set<Long> runningShort = running.stream().map(pid -> pid % 100_000).collect(Collectors.toSet());
        for (String line : ProcessRunner.run(10, "ip", "netns", "list").stdout().split("\n")) {
            String name = line.split(" ")[0];
            Matcher ours = OURS.matcher(name);
            if (!ours.matches()) {
                continue;
            }
            boolean alive = ours.group(1) != null
                    ? runningShort.contains(Long.parseLong(ours.group(1)))
                    : running.contains(Long.parseLong(ours.group(2)));
            if (!alive) {
                ProcessRunner.run(10, "sh", "-c", "ip netns pids " + name + " | xargs -r kill -9");
                ProcessRunner.run(10, "ip", "netns", "delete", name);
                System.err.println("StaleNamespaces: deleted " + name + ", left by a test run that was killed");
            }
        }
    }
}
