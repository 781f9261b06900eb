package io.snigate.config;

import io.netty.util.NetUtil;
import io.snigate.core.HostNames;
import java.util.List;
import java.util.Objects;

/**
 * One entry of {@code routes:}.
 *
 * @param match normalized patterns: host names, or {@code *.} followed by a host name
 * @param alpn protocols the client must offer at least one of; empty means any client
 * @param ports ports the client must have dialed (the original destination's port on a
 *     transparent listener, the listener's port otherwise); empty means any port
 * @param allowDestinations for an upstream the client's choices lead to ({@code $sni},
 *     {@code $original_dst}), the address ranges it may dial besides public ones (loopback,
 *     private and link-local ranges are refused unless listed here)
 * @param verifyDestination for {@code $original_dst}: dial it only when it is among the addresses
 *     the proxy's own resolver returns for the SNI
 * @param delivery a PROXY header to send, a parent proxy to go through; {@link Delivery#DIRECT} for neither
 * @param line the line of the route in the file, for messages and logs
 * @param policy who may use the route, its mode, TLS floor and connection budget
 * @param names the names of its {@code match_file}, or null when it has none
 */
public record Route(
        List<String> match,
        List<String> alpn,
        List<Integer> ports,
        Upstream upstream,
        List<Cidr> allowDestinations,
        boolean verifyDestination,
        Delivery delivery,
        int line,
        RoutePolicy policy,
        NameList names) {
    /** A pattern starting with this matches any name below the rest, at any depth. */
    public static final String WILDCARD_PREFIX = "*.";

    public Route {
        match = List.copyOf(match);
        alpn = List.copyOf(alpn);
        ports = List.copyOf(ports);
        allowDestinations = List.copyOf(allowDestinations);
        Objects.requireNonNull(upstream, "upstream");
        Objects.requireNonNull(delivery, "delivery");
        Objects.requireNonNull(policy, "policy");
        if (match.isEmpty() && names == null) {
            throw new IllegalArgumentException("a route needs at least one match pattern or a match_file");
        }
    }

    /**
     * What names the route in messages and tells it apart from the others: its first pattern (or
     * its {@code match_file}), with its alpn list and ports when it has them.
     */
    public String name() {
        String first = match.isEmpty() ? names.label() : match.get(0);
        return first + (alpn.isEmpty() ? "" : " alpn " + alpn) + (ports.isEmpty() ? "" : " ports " + ports);
    }

    /**
     * For a name written in Unicode, how to write it as clients send it, or nothing. The form is
     * not computed here: the JDK's IDN follows IDNA2003, which maps some names (straße) other
     * than browsers' IDNA2008 does, and a route written in the wrong form would never match.
     */
    private static String punycodeHint(String name) {
        if (name.chars().allMatch(c -> c < 0x80)) {
            return "";
        }
        return "; write an internationalized name in its xn-- (punycode) form, as clients send it (idn2 NAME prints it)";
    }

    public static boolean isWildcard(String pattern) {
        return pattern.startsWith(WILDCARD_PREFIX);
    }

    /**
     * Normalizes a match pattern as written and checks it.
     *
     * @throws IllegalArgumentException whose message says what is wrong but not where
     */
    public static String normalizePattern(String written) {
        String pattern = HostNames.normalize(written);
        if (pattern.isEmpty()) {
            throw new IllegalArgumentException("a pattern cannot be empty");
        }
        if (pattern.equals("*")) {
            throw new IllegalArgumentException(
                    "a lone \"*\" is not a pattern; to forward every other name, set default: to an upstream");
        }
        boolean wildcard = isWildcard(pattern);
        String name = wildcard ? pattern.substring(WILDCARD_PREFIX.length()) : pattern;
        if (name.indexOf('*') >= 0) {
            throw new IllegalArgumentException(
                    "\"*\" may only be the whole first label, as in \"*.example.com\"");
        }
        if (!HostNames.isValid(name)) {
            if (!wildcard && (NetUtil.isValidIpV4Address(name) || NetUtil.isValidIpV6Address(name))) {
                throw new IllegalArgumentException(
                        "an IP address is not a name: clients never send one as SNI (RFC 6066)");
            }
            throw new IllegalArgumentException("not a valid host name: use dot-separated labels of 1 to 63"
                    + " letters, digits, hyphens or underscores, 253 characters at most" + punycodeHint(name));
        }
        return pattern;
    }
}
