package io.snigate.preread;

/**
 * Fired down the client pipeline once a complete ClientHello is buffered. The bytes themselves
 * stay in {@link PrereadHandler} and flow on, unchanged, when it is removed from the pipeline.
 */
public record ClientHelloEvent(ClientHello hello) {}
