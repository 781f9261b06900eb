package io.snigate.connect;

import io.snigate.core.Reason;

/**
 * Why an upstream could not be reached, in the reason vocabulary. Without a stack trace: the
 * reason says what happened, and the cause (if any) where.
 */
public final class UpstreamException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Reason reason;

    public UpstreamException(Reason reason, Throwable cause) {
        super(reason.label(), cause, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
