package io.snigate.config;

/**
 * The budgets that keep one client, or many, from taking the proxy's resources. The loader checks
 * the ranges, with the file and line of a value out of them.
 *
 * @param maxClientHelloBytes the most bytes of TLS records the proxy buffers while waiting for a
 *     complete ClientHello; bigger hellos are rejected rather than buffered without bound
 * @param maxConnections client connections open at once, in any stage; 0 means no limit
 * @param maxConnectionsPerClient client connections open at once from one source IP; 0 means no
 *     limit
 * @param maxPrereadConnections connections still sending their ClientHello (the slowloris
 *     budget); 0 means no limit
 * @param clientIpv6Prefix how many leading bits of an IPv6 client's address make "one client"
 *     for {@code maxConnectionsPerClient}: one host commonly owns a whole /64
 */
public record Limits(
        int maxClientHelloBytes,
        int maxConnections,
        int maxConnectionsPerClient,
        int maxPrereadConnections,
        int clientIpv6Prefix) {
    /** Below this, ordinary hellos with many cipher suites and extensions would not fit. */
    public static final int MIN_CLIENT_HELLO_BYTES = 512;
    /** Four maximal TLS records; post-quantum key shares fit with room to spare. */
    public static final int MAX_CLIENT_HELLO_BYTES = 65536;
    /** The largest value any connection limit takes. */
    public static final int MAX_CONNECTIONS = 10_000_000;

    /** A /64 is what one IPv6 host, or one customer's network, is commonly given. */
    public static final int DEFAULT_CLIENT_IPV6_PREFIX = 64;

    public static final Limits DEFAULTS = new Limits(16384, 10000, 0, 4096, DEFAULT_CLIENT_IPV6_PREFIX);
}
