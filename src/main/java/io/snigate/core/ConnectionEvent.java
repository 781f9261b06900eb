package io.snigate.core;

/** The steps of a connection's life that observers are told of, in the order they happen. */
public enum ConnectionEvent {
    /** Accepted: the record exists. */
    OPENED,
    /** The ClientHello was classified, or the connection refused during pre-read; with its duration. */
    PREREAD_DONE,
    /** An upstream name resolved to at least one address; with the lookup's duration. */
    DNS_FOUND,
    /** An upstream name did not resolve (NXDOMAIN, SERVFAIL, no answer in time); with the lookup's duration. */
    DNS_FAILED,
    /** Resolving and connecting to the upstream succeeded; with their duration. */
    UPSTREAM_CONNECTED,
    /** The client connection closed: the record is complete. */
    CLOSED
}
