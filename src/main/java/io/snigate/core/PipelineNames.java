package io.snigate.core;

import java.util.List;

/**
 * The names of the handlers in a connection's pipelines: first the client's, one per stage, in the
 * order a client connection meets them, then the ones only an upstream channel has, and those of
 * a listening channel and of the admin endpoint's connections. The client
 * pipeline is composed by {@code listen.ClientInitializer}; the stages that come later find and
 * remove the earlier ones by these names.
 */
public final class PipelineNames {
    /** Lets a whole, valid PROXY protocol header through, within its timeout ({@code proxyprotocol.ProxyHeaderGate}). */
    public static final String PROXY_HEADER = "proxy-header";
    /** Netty's {@code HAProxyMessageDecoder}: parses the PROXY header. */
    public static final String PROXY_DECODER = "proxy-decoder";
    /** Takes the parsed header: the client it names ({@code proxyprotocol.ProxyHeaderReceived}). */
    public static final String PROXY_RECEIVED = "proxy-received";
    /** Buffers and classifies the ClientHello ({@code preread.PrereadHandler}); holds the bytes until the relay. */
    public static final String PREREAD = "preread";
    /** Picks the route and hands the connection to the connect stage ({@code route.RouteHandler}). */
    public static final String ROUTE = "route";
    /** Copies bytes to the other side of the tunnel, on both channels ({@code relay.RelayHandler}). */
    public static final String RELAY = "relay";
    /** Discards what a rejected client still sends until it closes ({@code core.Rejection}). */
    public static final String LINGERING_CLOSE = "lingering-close";

    /**
     * On an upstream channel, Netty's {@code HAProxyMessageEncoder} for the moment it writes the
     * PROXY header sent upstream ({@code connect.ProxyHeaderSender}).
     */
    public static final String PROXY_HEADER_ENCODER = "proxy-header-encoder";
    /**
     * On an upstream channel until the relay replaces it: closes the channel if it fails before
     * ({@code relay.Relay.pendingUpstreamHandler}).
     */
    public static final String PENDING_UPSTREAM = "pending-upstream";
    /**
     * On a parent proxy's channel, the {@code CONNECT} request and its answer, until the tunnel
     * stands ({@code connect.ParentProxyHandshake}).
     */
    public static final String PARENT_PROXY_HANDSHAKE = "parent-proxy-handshake";

    /**
     * On a listening channel (epoll, NIO), after Netty's acceptor: logs a failed accept, out of
     * descriptors most likely, which the acceptor pauses accepting for 1 s on
     * ({@code listen.ListenerSockets}).
     */
    public static final String ACCEPT_FAILURES = "accept-failures";

    /** On an admin endpoint's connection: closes it when an answer is not taken in time ({@code admin.AdminServer}). */
    public static final String ADMIN_WRITE_TIMEOUT = "admin-write-timeout";
    /** On an admin endpoint's connection: Netty's HTTP/1.1 codec. */
    public static final String ADMIN_HTTP_CODEC = "admin-http-codec";
    /** On an admin endpoint's connection: one whole request, at most 8 KiB. */
    public static final String ADMIN_AGGREGATOR = "admin-aggregator";
    /** On an admin endpoint's connection: one decoded request per read, so that one is answered at a time. */
    public static final String ADMIN_FLOW_CONTROL = "admin-flow-control";
    /** On an admin endpoint's connection: answers {@code /metrics}, {@code /healthz} and {@code /readyz}. */
    public static final String ADMIN_ENDPOINTS = "admin-endpoints";

    /** The pre-relay stages of a client pipeline, in the order they leave it when the relay starts. */
    public static final List<String> BEFORE_RELAY = List.of(ROUTE, PREREAD);

    private PipelineNames() {}
}
