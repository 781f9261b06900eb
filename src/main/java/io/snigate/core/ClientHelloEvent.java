package io.snigate.core;

/**
 * Fired down the client pipeline once a complete ClientHello is buffered. What it holds is in the
 * channel's {@link io.snigate.core.ConnectionRecord}, so one shared event serves every
 * connection. The bytes themselves stay in {@link PrereadHandler} and flow on, unchanged, when it
 * is removed from the pipeline.
 */
public final class ClientHelloEvent {
    public static final ClientHelloEvent INSTANCE = new ClientHelloEvent();

    private ClientHelloEvent() {}

    @Override
    public String toString() {
        return "ClientHelloEvent";
    }
}
