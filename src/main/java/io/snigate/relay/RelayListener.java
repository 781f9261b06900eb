package io.snigate.relay;

import io.netty.buffer.ByteBuf;

/** What the relay hears from its {@link RelaySocket}s, on the event loop. */
interface RelayListener {
    /** {@code socket} is readable: the buffer to receive into, which the socket owns until it hands it back. */
    ByteBuf readBuffer(RelaySocket socket);

    /** Bytes arrived on {@code socket}; the listener owns them. */
    void bytesRead(RelaySocket socket, ByteBuf bytes);

    /** Bytes arrived on {@code socket}, and after them its peer's FIN; the listener owns them. */
    void lastBytesRead(RelaySocket socket, ByteBuf bytes);

    /** The peer of {@code socket} sent FIN. */
    void doneSending(RelaySocket socket);

    /**
     * An operation on {@code socket} failed (a reset, most often): the tunnel ends.
     * {@code sending}: a send (or the FIN after the sends) failed, rather than a receive;
     * {@code peerClosedFirst}: with EPIPE, the peer's FIN came before its reset ({@link BrokenPipe}).
     */
    void failed(RelaySocket socket, boolean sending, boolean peerClosedFirst);

    /**
     * Handling a completion of {@code socket} threw (said on standard error already): the tunnel
     * ends, over this process's budget when no direct memory could be had for a read, else as a bug.
     */
    void threw(RelaySocket socket, Throwable thrown);

    /** The write queue of {@code socket} fell below the low-water mark. */
    void writable(RelaySocket socket);
}
