package io.snigate.core;

import java.util.Locale;

/** How a connection ended, as written in the access log and the {@code outcome} metric label. */
public enum Outcome {
    /** Routed and relayed to an upstream. */
    FORWARDED,
    /** Denied by the proxy before any upstream was dialed: the client or the policy is at fault. */
    REJECTED,
    /** The policy allowed it, but the proxy could not reach the upstream. */
    FAILED;

    private final String label = name().toLowerCase(Locale.ROOT);

    public String label() {
        return label;
    }
}
