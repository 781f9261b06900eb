package io.snigate.listen;

import com.sun.management.UnixOperatingSystemMXBean;
import io.snigate.config.Limits;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * The process's open-file limit against {@code limits.max_connections}: a forwarded connection
 * holds two descriptors, so a limit under twice the connections runs out first, and then accepts
 * fail and upstream sockets cannot be made, with no budget of snigate's to say so.
 */
final class DescriptorLimit {
    /** Descriptors besides the connections': the listeners, the admin endpoint, the rings, DNS, the JVM's own. */
    static final int RESERVE = 100;

    private DescriptorLimit() {}

    /** What to say on standard error about this process's limit for {@code limits}, or null when it is enough or unknown. */
    static String warning(Limits limits) {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof UnixOperatingSystemMXBean unix ? warning(unix.getMaxFileDescriptorCount(), limits.maxConnections()) : null;
    }

    static String warning(long maxFiles, int maxConnections) {
        long needed = 2L * maxConnections + RESERVE;
        if (maxFiles <= 0 || maxConnections <= 0 || maxFiles >= needed) {
            return null;
        }
        long fits = (maxFiles - RESERVE) / 2;
        // Under the reserve, not even one connection fits: only a higher limit helps.
        String lower = fits >= 1 ? ", or lower max_connections to " + fits : "";
        return "the open-file limit (" + maxFiles + ") is under what limits.max_connections (" + maxConnections
                + ") needs, two a connection and " + RESERVE + " more (" + needed + "): descriptors run out first, and"
                + " then accepts fail and upstream connections end as connection_limit; raise LimitNOFILE or ulimit -n"
                + lower;
    }
}
