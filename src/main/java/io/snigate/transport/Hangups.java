package io.snigate.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Whether a client its channel is not reading has gone. On io_uring a client's channel reads
 * nothing while its upstream is dialed (preread/PrereadHandler), so a client that leaves then is
 * not noticed; asked once a dial has run out of time, this keeps a client's reset from being
 * logged as the upstream's timeout. A FIN alone is not taken for gone: a client may half-close
 * and still wait for the answer, as the relay lets it; a reset after it is. The socket is read
 * without waiting, and what the client sent is discarded: the connection is being refused.
 */
public final class Hangups {
    /** Enough for a TLS client's bytes after its hello (a ChangeCipherSpec, early data) and what ends them. */
    private static final int READ_AT_MOST_BYTES = 64 * 1024;
    private static final int READ_BYTES = 16 * 1024;

    private Hangups() {}

    /**
     * Whether {@code client} has gone: its channel closed, or its socket reset. False while it may
     * still be there: nothing to read, its FIN alone, or more than this reads. On its event loop.
     */
    public static boolean hungUp(Channel client) {
        if (!client.isActive()) {
            return true;
        }
        if (!(client instanceof UnixChannel unix) || !(unix.fd() instanceof Socket socket)) {
            return false; // the channel reads on, and would be inactive by now
        }
        ByteBuf scratch = client.alloc().directBuffer(READ_BYTES);
        try {
            ByteBuffer into = scratch.internalNioBuffer(0, READ_BYTES);
            for (int read = 0; read < READ_AT_MOST_BYTES; ) {
                int n = socket.read(into, into.position(), into.limit());
                if (n < 0) {
                    // Its FIN, and it may still read the answer, unless a reset came after: a read
                    // after a FIN ends the stream whatever follows, and the reset is its error.
                    return socket.getSoError() != 0;
                }
                if (n == 0) {
                    return false; // nothing more yet
                }
                read += n;
            }
            return false;
        } catch (IOException reset) {
            return true;
        } finally {
            scratch.release();
        }
    }
}
