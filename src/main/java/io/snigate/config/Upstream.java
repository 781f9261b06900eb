package io.snigate.config;

import io.netty.util.NetUtil;
import java.util.Objects;

/**
 * Where a routed connection goes.
 *
 * <ul>
 *   <li>{@link Kind#FIXED}: a host written in the config ({@code ip:port} or {@code name:port});
 *   <li>{@link Kind#SNI}: the name the client asked for ({@code $sni:port}), resolved by the proxy;
 *   <li>{@link Kind#ORIGINAL_DST}: the exact address and port the client dialed before a firewall
 *       redirected it ({@code $original_dst}).
 * </ul>
 *
 * The port may be {@code $port} ({@link #ORIGINAL_PORT}): the port the client dialed, that is
 * the original destination's port on a transparent listener and the listener's own port
 * otherwise.
 *
 * @param host IP literal or host name for {@link Kind#FIXED}; null otherwise
 * @param port 1 to 65535, or {@link #ORIGINAL_PORT}
 */
public record Upstream(Kind kind, String host, int port) {
    /** The placeholder that stands for the client's SNI name. */
    public static final String SNI_PLACEHOLDER = "$sni";
    /** The placeholder that stands for the port the client dialed. */
    public static final String PORT_PLACEHOLDER = "$port";
    /** The upstream that is the address the client dialed. */
    public static final String ORIGINAL_DST_PLACEHOLDER = "$original_dst";
    /** The port value of {@code $port}. */
    public static final int ORIGINAL_PORT = 0;

    private static final String PLACEHOLDER_HINT = "the placeholders are $sni (the name the client asked for),"
            + " $port (the port it dialed) and $original_dst (the address it dialed), as in $sni:443,"
            + " $sni:$port or $original_dst";

    public enum Kind {
        FIXED,
        SNI,
        ORIGINAL_DST
    }

    public Upstream {
        Objects.requireNonNull(kind, "kind");
        if ((kind == Kind.FIXED) != (host != null)) {
            throw new IllegalArgumentException(kind == Kind.FIXED ? "the host is missing" : "only a fixed upstream has a host");
        }
        if (kind == Kind.ORIGINAL_DST && port != ORIGINAL_PORT) {
            throw new IllegalArgumentException("$original_dst takes the port the client dialed");
        }
        if (port != ORIGINAL_PORT) {
            HostPort.checkPort(port);
        }
    }

    public static Upstream fixed(HostPort target) {
        return new Upstream(Kind.FIXED, target.host(), target.port());
    }

    public static Upstream sni(int port) {
        return new Upstream(Kind.SNI, null, port);
    }

    public static Upstream originalDst() {
        return new Upstream(Kind.ORIGINAL_DST, null, ORIGINAL_PORT);
    }

    /**
     * Parses {@code $original_dst}, {@code $sni:443}, {@code $sni:$port}, {@code host:$port} or
     * anything {@link HostPort#parse} accepts.
     *
     * @throws IllegalArgumentException whose message says what is wrong but not where
     */
    public static Upstream parse(String text) {
        if (text.equals(ORIGINAL_DST_PLACEHOLDER)) {
            return originalDst();
        }
        if (text.startsWith(ORIGINAL_DST_PLACEHOLDER)) {
            throw new IllegalArgumentException("$original_dst is a whole address: write it alone, without a port");
        }
        String portSuffix = ":" + PORT_PLACEHOLDER;
        boolean originalPort = text.endsWith(portSuffix);
        String hostAndPort = originalPort ? text.substring(0, text.length() - PORT_PLACEHOLDER.length()) + "1" : text;
        if (hostAndPort.startsWith("$")) {
            String prefix = SNI_PLACEHOLDER + ":";
            if (hostAndPort.equals(SNI_PLACEHOLDER)) {
                throw new IllegalArgumentException("the port is missing; write it as $sni:443 or $sni:$port");
            }
            if (!hostAndPort.startsWith(prefix)) {
                throw new IllegalArgumentException(PLACEHOLDER_HINT);
            }
            int port = HostPort.parsePort(hostAndPort.substring(prefix.length()));
            return sni(originalPort ? ORIGINAL_PORT : port);
        }
        if (hostAndPort.contains("$")) {
            throw new IllegalArgumentException(PLACEHOLDER_HINT);
        }
        HostPort target = HostPort.parse(hostAndPort);
        return new Upstream(Kind.FIXED, target.host(), originalPort ? ORIGINAL_PORT : target.port());
    }

    /** The upstream as written in the configuration, e.g. {@code $sni:443} or {@code [2001:db8::1]:$port}. */
    public String label() {
        String portText = port == ORIGINAL_PORT ? PORT_PLACEHOLDER : Integer.toString(port);
        return switch (kind) {
            case FIXED -> HostPort.formatHost(host) + ":" + portText;
            case SNI -> SNI_PLACEHOLDER + ":" + portText;
            case ORIGINAL_DST -> ORIGINAL_DST_PLACEHOLDER;
        };
    }

    public boolean dialSni() {
        return kind == Kind.SNI;
    }

    public boolean dialsOriginalDst() {
        return kind == Kind.ORIGINAL_DST;
    }

    /** Whether the port is the one the client dialed ({@code $port} or {@code $original_dst}). */
    public boolean usesOriginalPort() {
        return port == ORIGINAL_PORT;
    }

    /** True for a fixed IP literal, which needs no DNS lookup. */
    public boolean isIpLiteral() {
        return kind == Kind.FIXED && (NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host));
    }

    /**
     * The fixed target.
     *
     * @throws IllegalStateException if the target depends on the client (its SNI, its original
     *     destination, or the port it dialed)
     */
    public HostPort hostPort() {
        if (kind != Kind.FIXED || port == ORIGINAL_PORT) {
            throw new IllegalStateException("the target of " + label() + " depends on the client");
        }
        return new HostPort(host, port);
    }

    @Override
    public String toString() {
        return label();
    }
}
