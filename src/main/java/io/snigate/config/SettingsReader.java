package io.snigate.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

/**
 * Reads the top-level sections of {@code routes.yaml} that are settings of the whole proxy rather
 * than of a listener or a route: {@code timeouts}, {@code limits}, {@code resolvers},
 * {@code nat64_prefixes}, {@code upstream_mark}, {@code ech} and {@code access_log}.
 * {@link ConfigLoader} calls each for a section the file has, and uses the defaults otherwise.
 */
final class SettingsReader {
    static final List<String> ECH_KEYS = List.of("public_names");
    static final List<String> ACCESS_LOG_KEYS = List.of("on_connect");
    static final List<String> TIMEOUT_KEYS = List.of("preread", "connect", "idle", "drain", "half_closed");
    static final List<String> LIMIT_KEYS = List.of("max_client_hello_bytes", "max_connections",
            "max_connections_per_client", "max_preread_connections", "client_ipv6_prefix");
    /** SO_MARK is an unsigned 32-bit value. */
    private static final long MAX_MARK = 0xFFFF_FFFFL;

    private final YamlNodes nodes;

    SettingsReader(YamlNodes nodes) {
        this.nodes = nodes;
    }

    Timeouts readTimeouts(Node node) throws ConfigException {
        Map<String, NodeTuple> keys =
                nodes.keys(nodes.mapping(node, "timeouts", "preread: 10s, connect: 5s"), "in timeouts", TIMEOUT_KEYS);
        Timeouts defaults = Timeouts.DEFAULTS;
        return new Timeouts(
                duration(keys, "preread", true, Timeouts.MAX_WAIT, defaults.preread()),
                duration(keys, "connect", true, Timeouts.MAX_WAIT, defaults.connect()),
                duration(keys, "idle", false, Timeouts.MAX_TUNNEL_WAIT, defaults.idle()),
                duration(keys, "drain", false, Timeouts.MAX_TUNNEL_WAIT, defaults.drain()),
                duration(keys, "half_closed", false, Timeouts.MAX_TUNNEL_WAIT, defaults.halfClosed()));
    }

    private Duration duration(Map<String, NodeTuple> keys, String key, boolean positive,
            Duration max, Duration fallback) throws ConfigException {
        Node node = YamlNodes.value(keys, key);
        return node == null ? fallback : nodes.duration(node, "timeouts." + key, positive, max);
    }

    Limits readLimits(Node node) throws ConfigException {
        Map<String, NodeTuple> keys =
                nodes.keys(nodes.mapping(node, "limits", "max_client_hello_bytes: 16384"), "in limits", LIMIT_KEYS);
        Limits defaults = Limits.DEFAULTS;
        return new Limits(
                limit(keys, "max_client_hello_bytes", "bytes", defaults.maxClientHelloBytes(),
                        Limits.MIN_CLIENT_HELLO_BYTES, Limits.MAX_CLIENT_HELLO_BYTES),
                limit(keys, "max_connections", "connections", defaults.maxConnections(), 0, Limits.MAX_CONNECTIONS),
                limit(keys, "max_connections_per_client", "connections", defaults.maxConnectionsPerClient(), 0,
                        Limits.MAX_CONNECTIONS),
                limit(keys, "max_preread_connections", "connections", defaults.maxPrereadConnections(), 0,
                        Limits.MAX_CONNECTIONS),
                limit(keys, "client_ipv6_prefix", "bits", defaults.clientIpv6Prefix(), 1, 128));
    }

    private int limit(Map<String, NodeTuple> keys, String key, String unit, int fallback, int min, int max)
            throws ConfigException {
        Node node = YamlNodes.value(keys, key);
        return node == null ? fallback : nodes.wholeNumber(node, "limits." + key, unit, min, max, fallback);
    }

    List<HostPort> readResolvers(Node node) throws ConfigException {
        List<HostPort> resolvers = new ArrayList<>();
        List<Node> items = nodes.listOrSingle(node, "resolvers", "\"ip:port\" addresses");
        if (items.isEmpty()) {
            throw nodes.error(node, "resolvers: [] names no DNS server; leave resolvers out to use the system's"
                    + " (/etc/resolv.conf)");
        }
        for (Node item : items) {
            HostPort resolver = nodes.parsed(item, "resolver", HostPort::parse);
            if (!resolver.isIpLiteral()) {
                throw nodes.error(item, "resolver \"" + resolver + "\": must be an IP address, such as"
                        + " 127.0.0.1:53; a DNS server cannot be found through DNS");
            }
            resolvers.add(resolver);
        }
        return resolvers;
    }

    List<Nat64Prefix> readNat64Prefixes(Node node) throws ConfigException {
        List<Nat64Prefix> prefixes = new ArrayList<>();
        for (Node item : nodes.listOrSingle(node, "nat64_prefixes", "IPv6 prefixes")) {
            prefixes.add(nodes.parsed(item, "nat64_prefixes", Nat64Prefix::parse));
        }
        return prefixes;
    }

    /** {@code access_log: { on_connect: true }}. */
    AccessLogSettings readAccessLog(Node node) throws ConfigException {
        Map<String, NodeTuple> keys = nodes.keys(nodes.mapping(node, "access_log", "on_connect: true"),
                "in access_log", ACCESS_LOG_KEYS);
        Node onConnect = YamlNodes.value(keys, "on_connect");
        return new AccessLogSettings(onConnect != null && nodes.bool(onConnect, "access_log.on_connect"));
    }

    /** {@code ech: { public_names: [...] }}: host names, normalized like match patterns. */
    Set<String> readEchPublicNames(Node node) throws ConfigException {
        Map<String, NodeTuple> keys = nodes.keys(nodes.mapping(node, "ech", "public_names: [\"cloudflare-ech.com\"]"),
                "in ech", ECH_KEYS);
        Node namesNode = YamlNodes.value(keys, "public_names");
        if (namesNode == null) {
            throw nodes.error(node, "ech needs public_names: the cover names ECH providers use, e.g."
                    + " [\"cloudflare-ech.com\"]");
        }
        Set<String> names = new LinkedHashSet<>();
        List<Node> items = nodes.listOrSingle(namesNode, "public_names", "host names");
        if (items.isEmpty()) {
            throw nodes.error(namesNode, "public_names: [] names no cover name; list them, e.g."
                    + " [\"cloudflare-ech.com\"], or leave ech out");
        }
        for (Node item : items) {
            String name = nodes.parsed(item, "public_names", Route::normalizePattern);
            if (Route.isWildcard(name)) {
                throw nodes.error(item, "public_names \"" + nodes.text(item, "public_names") + "\": write each"
                        + " cover name in full; ECH providers use a few exact names");
            }
            names.add(name);
        }
        return names;
    }

    /** {@code upstream_mark}: decimal or {@code 0x} hexadecimal, as iptables and nft write marks. */
    int readMark(Node node) throws ConfigException {
        String text = nodes.text(node, "upstream_mark");
        boolean hex = text.startsWith("0x") || text.startsWith("0X");
        String digits = hex ? text.substring(2) : text;
        long mark = -1;
        // Digits only: no sign, and no leading zero, which iptables and nft read as octal.
        boolean plain = digits.chars().allMatch(c -> hex ? Character.digit(c, 16) >= 0 : c >= '0' && c <= '9')
                && (hex || !digits.startsWith("0"));
        if (plain && !digits.isEmpty() && digits.length() <= 10) {
            try {
                mark = Long.parseLong(digits, hex ? 16 : 10);
            } catch (NumberFormatException e) {
                mark = -1;
            }
        }
        if (mark < 1 || mark > MAX_MARK) {
            throw nodes.error(node, "upstream_mark \"" + text + "\" must be a firewall mark from 1 to 0xffffffff,"
                    + " in hex (0x539) or decimal without a leading zero (1337); leave the key out for no mark");
        }
        return (int) mark;
    }
}
