package io.snigate.config;

import java.util.Objects;

/**
 * How a route's connections reach their upstream, beyond the address: a PROXY protocol header
 * sent ahead of the client's bytes, and a parent HTTP proxy to tunnel through.
 *
 * @param sendProxyProtocol the PROXY protocol version sent to the upstream, or null for none
 * @param via the parent proxy that snigate asks with {@code CONNECT} to reach the upstream, or
 *     null to dial the upstream itself
 * @param viaAuthorization the {@code Proxy-Authorization} header value for the parent (read from
 *     {@code via_credentials}), or null
 */
public record Delivery(ProxyProtocolVersion sendProxyProtocol, HostPort via, String viaAuthorization) {
    /** Dial the upstream itself and send it only the client's bytes. */
    public static final Delivery DIRECT = new Delivery(null, null, null);

    public enum ProxyProtocolVersion { V1, V2 }

    public Delivery {
        if (viaAuthorization != null) {
            Objects.requireNonNull(via, "credentials without a parent proxy");
        }
    }

    /** Never the credentials: this may end up in a log. */
    @Override
    public String toString() {
        return "Delivery[sendProxyProtocol=" + sendProxyProtocol + ", via=" + via
                + (viaAuthorization == null ? "" : ", with credentials") + "]";
    }
}
