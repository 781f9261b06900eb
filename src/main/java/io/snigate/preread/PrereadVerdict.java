package io.snigate.preread;

import io.snigate.core.Reason;
import java.util.Objects;

/**
 * The pre-read's answer for the bytes a client has sent so far.
 *
 * @param status whether to wait, forward or reject
 * @param reason why a connection is rejected; null unless {@link Status#REJECT}
 * @param hello what was parsed: always present when {@link Status#COMPLETE}; for a rejection of a
 *     parseable ClientHello (no SNI, invalid SNI) the facts that were found, with a null sni
 * @param rawSni for {@link Reason#INVALID_SNI}: the name as sent, lower-cased and with unprintable
 *     bytes escaped as {@code \xNN} so that it is safe to log; otherwise null
 */
public record PrereadVerdict(Status status, Reason reason, ClientHello hello, String rawSni) {

    public enum Status {
        NEED_MORE,
        COMPLETE,
        REJECT
    }

    /** Shared because it is the answer to almost every read of a slow client. */
    public static final PrereadVerdict NEED_MORE = new PrereadVerdict(Status.NEED_MORE, null, null, null);

    // Rejections that carry nothing but a reason are shared too: scanners and noise produce many.
    private static final PrereadVerdict[] BARE_REJECTIONS = bareRejections();

    public PrereadVerdict {
        Objects.requireNonNull(status, "status");
        if ((status == Status.REJECT) != (reason != null)) {
            throw new IllegalArgumentException("a reason is given exactly for a rejection");
        }
        if (status == Status.COMPLETE && (hello == null || hello.sni() == null)) {
            throw new IllegalArgumentException("a complete verdict needs a ClientHello with an SNI");
        }
    }

    public static PrereadVerdict complete(ClientHello hello) {
        return new PrereadVerdict(Status.COMPLETE, null, hello, null);
    }

    public static PrereadVerdict reject(Reason reason) {
        return BARE_REJECTIONS[reason.ordinal()];
    }

    /** A rejection of a ClientHello that was parsed, keeping its facts for the log. */
    public static PrereadVerdict reject(Reason reason, ClientHello parsed) {
        return new PrereadVerdict(Status.REJECT, reason, parsed, null);
    }

    public static PrereadVerdict invalidSni(String rawSni, ClientHello parsed) {
        return new PrereadVerdict(Status.REJECT, Reason.INVALID_SNI, parsed, rawSni);
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

    private static PrereadVerdict[] bareRejections() {
        Reason[] reasons = Reason.values();
        PrereadVerdict[] verdicts = new PrereadVerdict[reasons.length];
        for (Reason reason : reasons) {
            verdicts[reason.ordinal()] = new PrereadVerdict(Status.REJECT, reason, null, null);
        }
        return verdicts;
    }
}
