package io.snigate.core;

/**
 * The user event a listener's PROXY header stage fires down the pipeline once it has taken the
 * header and the connection goes on: the pre-read's clock starts then, so that the header and the
 * ClientHello each have their own timeout, as nginx's {@code proxy_protocol_timeout} and
 * {@code preread_timeout} do.
 */
public enum ProxyHeaderTaken {
    /** A {@code PROXY} header: a client's connection, relayed by the balancer. */
    PROXIED,
    /**
     * A v2 {@code LOCAL} or v1 {@code UNKNOWN} header: the balancer's own connection, whose
     * endpoints are the socket's (the PROXY protocol's words). A health check when nothing follows it.
     */
    LOCAL
}
