package io.snigate.listen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The Linux capabilities this process holds, read from {@code /proc/self/status} at start and at
 * reload (never on an event loop). Transparent interception needs one of them: the kernel lets
 * {@code IP_TRANSPARENT} and {@code SO_MARK} be set with {@code CAP_NET_ADMIN}, or with
 * {@code CAP_NET_RAW} on kernels from 5.17.
 */
final class Capabilities {
    static final int CAP_NET_ADMIN = 12;
    static final int CAP_NET_RAW = 13;

    private final long effective;

    private Capabilities(long effective) {
        this.effective = effective;
    }

    /** This process's effective set; empty when it cannot be read (not Linux). */
    static Capabilities ofThisProcess() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return new Capabilities(Long.parseUnsignedLong(line.substring("CapEff:".length()).trim(), 16));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Then nothing is known to be held; binding will say what failed.
        }
        return new Capabilities(0);
    }

    boolean has(int capability) {
        return (effective & (1L << capability)) != 0;
    }

    /** Whether the process may make sockets transparent and mark them. */
    boolean mayIntercept() {
        return has(CAP_NET_ADMIN) || has(CAP_NET_RAW);
    }
}
