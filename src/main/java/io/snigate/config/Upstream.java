package io.snigate.config;

import io.netty.util.NetUtil;

/**
 * Where a routed connection goes: a fixed host and port, or ({@code dialSni}) the name the client
 * asked for, at a fixed port.
 *
 * @param host IP literal or host name; null when {@code dialSni}
 */
public record Upstream(String host, int port, boolean dialSni) {
    /** The placeholder that stands for the client's SNI name. */
    public static final String SNI_PLACEHOLDER = "$sni";

    public Upstream {
        if (dialSni != (host == null)) {
            throw new IllegalArgumentException(
                    dialSni ? "an upstream that dials the SNI has no host" : "the host is missing");
        }
        HostPort.checkPort(port);
    }

    public static Upstream fixed(HostPort target) {
        return new Upstream(target.host(), target.port(), false);
    }

    public static Upstream sni(int port) {
        return new Upstream(null, port, true);
    }

    /**
     * Parses {@code $sni:443} or anything {@link HostPort#parse} accepts.
     *
     * @throws IllegalArgumentException whose message says what is wrong but not where
     */
    public static Upstream parse(String text) {
        if (text.startsWith("$")) {
            String prefix = SNI_PLACEHOLDER + ":";
            if (text.equals(SNI_PLACEHOLDER)) {
                throw new IllegalArgumentException("the port is missing; write it as $sni:443");
            }
            if (!text.startsWith(prefix)) {
                throw new IllegalArgumentException(
                        "the only placeholder is $sni (the name the client asked for), as in $sni:443");
            }
            return sni(HostPort.parsePort(text.substring(prefix.length())));
        }
        return fixed(HostPort.parse(text));
    }

    /** The upstream as written in the configuration, e.g. {@code $sni:443} or {@code [2001:db8::1]:443}. */
    public String label() {
        return dialSni ? SNI_PLACEHOLDER + ":" + port : HostPort.format(host, port);
    }

    /** True for a fixed IP literal, which needs no DNS lookup. */
    public boolean isIpLiteral() {
        return !dialSni && (NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host));
    }

    /**
     * The fixed target.
     *
     * @throws IllegalStateException if this upstream dials the SNI: the target depends on the client
     */
    public HostPort hostPort() {
        if (dialSni) {
            throw new IllegalStateException("the target of " + label() + " depends on the client");
        }
        return new HostPort(host, port);
    }

    @Override
    public String toString() {
        return label();
    }
}
