package io.snigate.handover;

import io.snigate.core.Sysctl;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel setting a restart without refused connections depends on. When a process of a
 * {@code SO_REUSEPORT} group closes its listener, the connections the kernel had already queued
 * on it (handshake done but not yet accepted, or still in SYN-RECEIVED) are reset, unless
 * {@code net.ipv4.tcp_migrate_req} is 1 (Linux 5.14 and later): then they move to another
 * listener of the group. Read once at start, from the main thread, never on an event loop.
 */
public final class RequestMigration {
    private static final Logger LOG = LoggerFactory.getLogger(RequestMigration.class);
    static final Path SETTING = Path.of("/proc/sys/net/ipv4/tcp_migrate_req");

    private RequestMigration() {}

    /** Logs a warning, once, when a handover could reset connections on this machine. */
    public static void warnIfOff() {
        problem(SETTING).ifPresent(problem -> LOG.warn(
                "{}: if a second snigate takes over these listeners (a restart without refusing, "
                        + "deploy/README.md), the connections still queued on this one when it closes will be "
                        + "reset; `sysctl -w net.ipv4.tcp_migrate_req=1` makes the kernel move them to the new process",
                problem));
    }

    /** What is wrong with the setting in {@code file}, or empty when it is 1. */
    static Optional<String> problem(Path file) {
        String value;
        try {
            value = Sysctl.read(file);
        } catch (IOException e) {
            return Optional.of(file + " cannot be read (" + e.getClass().getSimpleName()
                    + "; Linux before 5.14 has no such setting)");
        }
        return value.equals("1") ? Optional.empty() : Optional.of("net.ipv4.tcp_migrate_req is " + value);
    }
}
