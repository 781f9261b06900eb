package io.snigate.config;

import io.netty.util.NetUtil;
import io.snigate.core.HostNames;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/**
 * A host and a port as written in the configuration: an IPv4 literal, an IPv6 literal (stored
 * without brackets) or a normalized host name.
 */
public record HostPort(String host, int port) {
    static final String FORMAT_HINT = "write it as host:port, e.g. 192.0.2.10:443 or [2001:db8::1]:443";

    public HostPort {
        Objects.requireNonNull(host, "host");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("the host is missing; " + FORMAT_HINT);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 1 to 65535");
        }
    }

    /**
     * Like {@link #parse}, but port 0 is allowed and means "any free port": for addresses this
     * host binds (listen, admin), so that tests and side-by-side runs need no fixed port.
     */
    public static HostPort parseBindable(String text) {
        if (text.endsWith(":0")) {
            HostPort probe = parse(text.substring(0, text.length() - 1) + "1");
            return new HostPort(probe.host(), 0);
        }
        return parse(text);
    }

    /**
     * Parses {@code 192.0.2.1:443}, {@code [2001:db8::1]:443} or {@code name.example:443}.
     *
     * @throws IllegalArgumentException whose message says what is wrong but not where: the caller
     *     knows which setting and line the text came from
     */
    public static HostPort parse(String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("it is empty; " + FORMAT_HINT);
        }
        if (text.startsWith("$")) {
            throw new IllegalArgumentException("$sni can only be used as an upstream");
        }
        String host;
        String portText;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("the \"]\" after the IPv6 address is missing; " + FORMAT_HINT);
            }
            host = text.substring(1, close);
            if (host.indexOf('%') >= 0) {
                throw new IllegalArgumentException("IPv6 zone IDs (the %... part) are not supported");
            }
            if (!NetUtil.isValidIpV6Address(host)) {
                throw new IllegalArgumentException("\"" + host + "\" is not a valid IPv6 address");
            }
            if (close == text.length() - 1) {
                throw new IllegalArgumentException("the port is missing; " + FORMAT_HINT);
            }
            if (text.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("expected \":port\" after \"]\"; " + FORMAT_HINT);
            }
            portText = text.substring(close + 2);
        } else {
            int colon = text.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("the port is missing; " + FORMAT_HINT);
            }
            if (text.indexOf(':') != colon) {
                throw new IllegalArgumentException(
                        "an IPv6 address must be in brackets, as in [2001:db8::1]:443");
            }
            host = text.substring(0, colon);
            portText = text.substring(colon + 1);
            if (host.isEmpty()) {
                throw new IllegalArgumentException("the host is missing; " + FORMAT_HINT);
            }
            if (NetUtil.isValidIpV4Address(host)) {
                refuseLeadingZeros(host);
            } else {
                String name = HostNames.normalize(host);
                if (!HostNames.isValid(name)) {
                    throw new IllegalArgumentException(
                            "\"" + host + "\" is neither an IP address nor a valid host name");
                }
                host = name;
            }
        }
        return new HostPort(host, parsePort(portText));
    }

    static int parsePort(String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("the port is missing; " + FORMAT_HINT);
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException("port \"" + text + "\" is not a number");
            }
        }
        // More than five digits cannot be a port, and would overflow parseInt past ten.
        int port = text.length() > 5 ? -1 : Integer.parseInt(text);
        checkPort(port);
        return port;
    }

    static void checkPort(int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be 1 to 65535");
        }
    }

    public boolean isIpLiteral() {
        return NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host);
    }

    /**
     * The socket address of an IP literal, built without any DNS lookup.
     *
     * @throws IllegalStateException if the host is a name: resolving it is the resolver's job,
     *     off the event loop
     */
    public InetSocketAddress toResolvedLiteral() {
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(host);
        if (bytes == null) {
            throw new IllegalStateException("not an IP literal: " + this);
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(bytes), port);
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException("bad address length for " + this, impossible);
        }
    }

    @Override
    public String toString() {
        return formatHost(host) + ":" + port;
    }

    /** A host as it is written before {@code :port}: IPv6 literals in brackets. */
    public static String formatHost(String host) {
        return host.indexOf(':') >= 0 ? "[" + host + "]" : host;
    }

    /**
     * {@code ip:port} of a socket address, as the access log and the start-up messages print
     * addresses: IPv6 in brackets, compressed (RFC 5952) and without a scope; null stays null.
     */
    public static String format(InetSocketAddress address) {
        if (address == null) {
            return null;
        }
        InetAddress ip = address.getAddress();
        return formatHost(ip == null ? address.getHostString() : NetUtil.toAddressString(ip)) + ":" + address.getPort();
    }

    /**
     * Refuses an IPv4 literal with a leading zero in a part: Netty reads 010.0.0.1 as 10.0.0.1;
     * inet_aton, and so a parent proxy asked for it or a firewall given the same range, 8.0.0.1.
     */
    static void refuseLeadingZeros(String ipv4) {
        for (String octet : ipv4.split("\\.")) {
            if (octet.length() > 1 && octet.startsWith("0")) {
                throw new IllegalArgumentException("\"" + ipv4 + "\" has a leading zero, which some tools read"
                        + " as octal; write each part of the address without one");
            }
        }
    }
}
