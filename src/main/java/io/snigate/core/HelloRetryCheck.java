package io.snigate.core;

import io.netty.buffer.ByteBuf;

/**
 * Holds a forwarded TLS 1.3 connection to the name it was routed by across a HelloRetryRequest.
 * The server's retry makes the client send a second ClientHello, in the clear like the first, that
 * RFC 8446 §4.1.2 says must ask for the same; a server may still take its name from the second,
 * so a client could be routed by an allowed name and then be served another. The relay shows the
 * check both sides' bytes until it is {@link #over}:
 * <ul>
 *   <li>before the server's first bytes, the client may send no handshake record after its
 *       first hello (no TLS client does; one sent then would reach the server before any retry
 *       request, unchecked);
 *   <li>after a retry, the client's bytes are held from the read that starts the second hello
 *       until that hello is whole, and sent on only if it asks for the same name, protocols,
 *       version and ECH as the first (what comes before it, early data the server skips, goes on).
 * </ul>
 * Used on the tunnel's event loop only.
 */
public interface HelloRetryCheck {
    /** Sees the server's bytes before the client does (not consumed). */
    void serverSent(ByteBuf bytes);

    /**
     * Takes the client's bytes and returns what goes on now: {@code bytes} themselves, everything
     * held once the second hello matched the first, or null while held or once {@link #refused}.
     * {@code endOfStream}: the client sent FIN after these.
     */
    ByteBuf clientSent(ByteBuf bytes, boolean endOfStream);

    /** Whether the server asked for a retry and the second hello is not judged yet. */
    boolean awaitingSecondHello();

    /** How long the client has, from the retry request, to send its second hello whole. */
    long secondHelloWithinMillis();

    /** Whether client bytes are held: the second hello has begun and is not judged yet. */
    boolean holdingClient();

    /**
     * Whether the check has nothing more to look at: the server answered without a retry, the
     * second hello passed, or the client sent what no TLS client sends, which the server refuses.
     */
    boolean over();

    /** Why the client was refused, or null. */
    Reason refused();

    /** Releases what is held: the tunnel closed first. */
    void release();
}
