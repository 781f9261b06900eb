package io.snigate.config;

import java.util.Objects;

/**
 * The top-level {@code policy:} block and {@code min_tls_version}: the defaults that routes
 * inherit, and where audit mode sends a name no route matches.
 *
 * @param mode the mode of routes that set none, and of names no route matches
 * @param auditUpstream where an audited {@code no_route} goes; null when none is set (then only
 *     a transparent listener can forward it, to {@code $sni:$port})
 * @param allowAudit false when {@code audit} is forbidden anywhere in the file
 * @param minTlsVersion the lowest highest-offered TLS version accepted, as on the wire
 *     ({@code 0x0303} for 1.2); 0 for no floor
 * @param recheckOnReload whether a reload judges open connections again and closes those the new
 *     config refuses
 */
public record Policy(PolicyMode mode, Upstream auditUpstream, boolean allowAudit, int minTlsVersion,
        boolean recheckOnReload) {
    public static final Policy DEFAULTS = new Policy(PolicyMode.ENFORCE, null, true, 0, true);

    public Policy {
        Objects.requireNonNull(mode, "mode");
    }
}
