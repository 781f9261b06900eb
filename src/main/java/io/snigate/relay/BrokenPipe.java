package io.snigate.relay;

import io.netty.channel.unix.Errors;
import java.io.IOException;

/**
 * Whether a send failed with EPIPE: the peer had sent FIN before its reset. The kernel gives a
 * reset socket EPIPE when the reset came in CLOSE_WAIT (the peer's FIN received first), and
 * ECONNRESET otherwise, whether or not the relay has read the FIN yet. So a client that closed its
 * socket after the conversation (and then met the upstream's last bytes) is told apart from one
 * that reset in the middle of it.
 */
final class BrokenPipe {
    private BrokenPipe() {}

    /** For a completion's result (a negative errno). */
    static boolean is(int res) {
        return res == Errors.ERRNO_EPIPE_NEGATIVE;
    }

    /** For an exception of a send: Netty's native one carries the errno, the JDK's (NIO) says it. */
    static boolean is(Throwable cause) {
        if (cause instanceof Errors.NativeIoException nativeCause) {
            return is(nativeCause.expectedErr());
        }
        return cause instanceof IOException && "Broken pipe".equals(cause.getMessage());
    }
}
