package io.snigate.preread;

import io.snigate.core.Reason;
import java.util.Objects;

/**
 * The pre-read's answer for the bytes a client has sent so far. Every verdict is one of a few
 * shared constants: what a parsed ClientHello holds goes to a {@link io.snigate.core.ClientHelloSink}
 * instead, so that answering allocates nothing.
 *
 * @param status whether to wait, forward or reject
 * @param reason why a connection is rejected; null unless {@link Status#REJECT}
 */
public record PrereadVerdict(Status status, Reason reason) {

    public enum Status {
        NEED_MORE,
        COMPLETE,
        REJECT
    }

    /** Wait for more bytes: the answer to almost every read of a slow client. */
    public static final PrereadVerdict NEED_MORE = new PrereadVerdict(Status.NEED_MORE, null);

    /** A whole ClientHello with a valid host name: forward the connection. */
    public static final PrereadVerdict COMPLETE = new PrereadVerdict(Status.COMPLETE, null);

    private static final PrereadVerdict[] REJECTIONS = rejections();

    public PrereadVerdict {
        Objects.requireNonNull(status, "status");
        if ((status == Status.REJECT) != (reason != null)) {
            throw new IllegalArgumentException("a reason is given exactly for a rejection");
        }
    }

    /** The shared rejection for {@code reason}. */
    public static PrereadVerdict reject(Reason reason) {
        return REJECTIONS[reason.ordinal()];
    }

    public boolean needsMore() {
        return status == Status.NEED_MORE;
    }

    public boolean isComplete() {
        return status == Status.COMPLETE;
    }

    public boolean isRejected() {
        return status == Status.REJECT;
    }

    private static PrereadVerdict[] rejections() {
        Reason[] reasons = Reason.values();
        PrereadVerdict[] verdicts = new PrereadVerdict[reasons.length];
        for (Reason reason : reasons) {
            verdicts[reason.ordinal()] = new PrereadVerdict(Status.REJECT, reason);
        }
        return verdicts;
    }
}
