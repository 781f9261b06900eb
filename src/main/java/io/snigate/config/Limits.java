package io.snigate.config;

/**
 * @param maxClientHelloBytes the most bytes of TLS records the proxy buffers while waiting for a
 *     complete ClientHello; bigger hellos are rejected rather than buffered without bound
 */
public record Limits(int maxClientHelloBytes) {
    /** Below this, ordinary hellos with many cipher suites and extensions would not fit. */
    public static final int MIN_CLIENT_HELLO_BYTES = 512;
    /** Four maximal TLS records; post-quantum key shares fit with room to spare. */
    public static final int MAX_CLIENT_HELLO_BYTES = 65536;
    public static final Limits DEFAULTS = new Limits(16384);

    public Limits {
        if (maxClientHelloBytes < MIN_CLIENT_HELLO_BYTES || maxClientHelloBytes > MAX_CLIENT_HELLO_BYTES) {
            throw new IllegalArgumentException("max_client_hello_bytes must be " + MIN_CLIENT_HELLO_BYTES
                    + " to " + MAX_CLIENT_HELLO_BYTES);
        }
    }
}
