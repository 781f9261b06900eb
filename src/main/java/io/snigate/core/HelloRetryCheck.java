package io.snigate.core;

import io.netty.buffer.ByteBuf;

/**
 * Holds a forwarded TLS 1.3 connection to the name it was routed by across a HelloRetryRequest.
 * The server's retry makes the client send a second ClientHello, in the clear like the first, that
 * RFC 8446 §4.1.2 says must ask for the same; a server may still take its name from the second,
 * so a client could be routed by an allowed name and then be served another. The relay shows the
 * check the server's first bytes; after a retry it holds the client's bytes until the second
 * hello is whole, and sends them on only if it asks for the same name, protocols, version and
 * ECH as the first. Used on the tunnel's event loop only.
 */
public interface HelloRetryCheck {
    /** Sees the server's bytes before the client does (not consumed); true once it needs no more. */
    boolean serverSent(ByteBuf bytes);

    /** Whether the server asked for a retry and the client's second hello is not yet judged. */
    boolean holdingClient();

    /**
     * Takes the client's bytes while {@link #holdingClient}: returns everything held once the
     * second hello matches the first (the check is then over), or null while more is needed or
     * when it is refused ({@link #refused}). {@code endOfStream}: the client sent FIN after these.
     */
    ByteBuf clientSent(ByteBuf bytes, boolean endOfStream);

    /** Why the second hello was refused, or null. */
    Reason refused();

    /** Releases what is held: the tunnel closed first. */
    void release();
}
