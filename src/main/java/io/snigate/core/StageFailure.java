package io.snigate.core;

import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import org.slf4j.Logger;

/**
 * What an exception a stage's handler catches says about its connection, in one place for every
 * stage. No direct memory for a read is a budget of this process ({@link Reason#CONNECTION_LIMIT}),
 * said in one line without a stack, as many connections meet it at once under memory pressure. An
 * I/O error, or input a decoder refused, is the peer's or the network's: the stage's own reason,
 * which the access log says. Anything else is a bug: {@link Reason#INTERNAL_ERROR}, with its stack
 * trace on standard error.
 */
public final class StageFailure {
    private StageFailure() {}

    /**
     * @param peersFault the stage's reason for an I/O error or a decoder's refusal (null: none,
     *     a normal end)
     * @param log the stage's logger
     * @param what the stage and the connection, for the line, e.g. "closing tunnel for 10.0.0.7:51234"
     */
    public static Reason reasonOf(Throwable cause, Reason peersFault, Logger log, String what) {
        if (cause instanceof OutOfMemoryError) {
            log.warn("{}: {}", what, cause.toString());
            return Reason.CONNECTION_LIMIT;
        }
        if (cause instanceof IOException || cause instanceof DecoderException) {
            return peersFault;
        }
        log.warn("{} after an unexpected error", what, cause);
        return Reason.INTERNAL_ERROR;
    }
}
