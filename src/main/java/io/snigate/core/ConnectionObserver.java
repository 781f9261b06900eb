package io.snigate.core;

/**
 * Told of every connection's start and end: the access log and the metrics listen here. Called on
 * the connection's event loop, so implementations must not block.
 */
public interface ConnectionObserver {
    void opened(ConnectionRecord connection);

    void closed(ConnectionRecord connection);

    /** Told how long pre-read took, once the ClientHello was complete or the connection refused. */
    default void prereadDone(ConnectionRecord connection, long nanos) {}

    /** Told how long a DNS lookup for an upstream took, and whether it found an address. */
    default void dnsResolved(boolean found, long nanos) {}

    /** Told how long resolving and connecting to the upstream took, when it succeeded. */
    default void upstreamConnected(ConnectionRecord connection, long nanos) {}
}
