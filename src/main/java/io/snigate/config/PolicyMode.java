package io.snigate.config;

import java.util.Locale;

/**
 * Whether the policy's verdicts are carried out ({@link #ENFORCE}) or only reported
 * ({@link #AUDIT}): in audit mode a connection the policy would refuse is forwarded, and its
 * access-log line and the {@code snigate_policy_would_reject_total} metric say what would have
 * refused it.
 */
public enum PolicyMode {
    ENFORCE,
    AUDIT;

    private final String label = name().toLowerCase(Locale.ROOT);

    /** The value as written in the config and the access log. */
    public String label() {
        return label;
    }
}
