package io.snigate.config;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.SequenceNode;

/** Reads {@code routes:} and upstreams: the contract of one route, with every mistake's line. */
final class RoutesReader {
    private static final List<String> ROUTE_KEYS = List.of("match", "alpn", "ports", "upstream", "allow_destinations",
            "verify_destination", "send_proxy_protocol", "via", "via_credentials");
    /** A credentials file is one line; anything much longer is not one. */
    private static final int MAX_CREDENTIALS_BYTES = 4096;

    private final YamlNodes nodes;
    private final List<Listener> listeners;

    RoutesReader(YamlNodes nodes, List<Listener> listeners) {
        this.nodes = nodes;
        this.listeners = listeners;
    }

    List<Route> readRoutes(Node node) throws ConfigException {
        if (!(node instanceof SequenceNode)) {
            throw nodes.error(node, "routes must be a list of routes (each with match: and upstream:), but this is "
                    + YamlNodes.kind(node));
        }
        List<Route> routes = new ArrayList<>();
        // For each pattern, the routes already read that carry it.
        Map<String, List<Route>> routesByPattern = new HashMap<>();
        for (Node item : ((SequenceNode) node).getValue()) {
            Route route = readRoute(item, routesByPattern);
            routes.add(route);
            for (String pattern : route.match()) {
                routesByPattern.computeIfAbsent(pattern, p -> new ArrayList<>()).add(route);
            }
        }
        return routes;
    }

    private Route readRoute(Node node, Map<String, List<Route>> earlierRoutesByPattern) throws ConfigException {
        if (!(node instanceof MappingNode)) {
            throw nodes.error(node, "each route must be a mapping with match: and upstream:, but this is "
                    + YamlNodes.kind(node));
        }
        Map<String, NodeTuple> keys = nodes.keys((MappingNode) node, "in a route", ROUTE_KEYS);
        Node matchNode = YamlNodes.value(keys, "match");
        if (matchNode == null) {
            throw nodes.error(node, "this route has no match; add match: \"name.example.com\" or"
                    + " match: [\"*.example.com\", \"example.com\"]");
        }
        Node upstreamNode = YamlNodes.value(keys, "upstream");
        if (upstreamNode == null) {
            throw nodes.error(node, "this route has no upstream; add upstream: \"host:port\" or \"$sni:443\"");
        }
        Node alpnNode = YamlNodes.value(keys, "alpn");
        List<String> alpn = alpnNode == null ? List.of() : readAlpn(alpnNode);
        Node portsNode = YamlNodes.value(keys, "ports");
        List<Integer> ports = portsNode == null ? List.of() : readPorts(portsNode);
        List<String> patterns = readPatterns(matchNode, alpn, ports, earlierRoutesByPattern);

        Upstream upstream = readUpstream(upstreamNode, "upstream");
        List<Cidr> allowed = List.of();
        NodeTuple allowEntry = keys.get("allow_destinations");
        if (allowEntry != null) {
            if (upstream.kind() == Upstream.Kind.FIXED) {
                throw nodes.error(allowEntry.getKeyNode(), "allow_destinations only applies to a $sni or $original_dst"
                        + " upstream; an upstream written in the config is trusted as it is");
            }
            allowed = readCidrs(allowEntry.getValueNode());
        }
        boolean verify = true;
        NodeTuple verifyEntry = keys.get("verify_destination");
        if (verifyEntry != null) {
            if (!upstream.dialsOriginalDst()) {
                throw nodes.error(verifyEntry.getKeyNode(), "verify_destination only applies to a $original_dst upstream");
            }
            verify = nodes.bool(verifyEntry.getValueNode(), "verify_destination");
        }
        return new Route(patterns, alpn, ports, upstream, allowed, verify, readDelivery(keys), YamlNodes.line(node));
    }

    private Delivery readDelivery(Map<String, NodeTuple> keys) throws ConfigException {
        Node versionNode = YamlNodes.value(keys, "send_proxy_protocol");
        Delivery.ProxyProtocolVersion version = null;
        if (versionNode != null) {
            version = switch (nodes.text(versionNode, "send_proxy_protocol")) {
                case "v1" -> Delivery.ProxyProtocolVersion.V1;
                case "v2" -> Delivery.ProxyProtocolVersion.V2;
                default -> throw nodes.error(versionNode, "send_proxy_protocol must be v1 or v2 (leave it out to send"
                        + " none)");
            };
        }
        Node viaNode = YamlNodes.value(keys, "via");
        HostPort via = viaNode == null ? null : nodes.parsed(viaNode, "via", RoutesReader::parentProxy);
        Node credentialsNode = YamlNodes.value(keys, "via_credentials");
        String authorization = null;
        if (credentialsNode != null) {
            if (via == null) {
                throw nodes.error(credentialsNode, "via_credentials needs via: the parent proxy they are for");
            }
            authorization = readCredentials(credentialsNode);
        }
        return version == null && via == null ? Delivery.DIRECT : new Delivery(version, via, authorization);
    }

    /** {@code http://host:port}: a parent HTTP proxy that takes {@code CONNECT}. */
    private static HostPort parentProxy(String text) {
        String scheme = "http://";
        if (!text.startsWith(scheme)) {
            throw new IllegalArgumentException("write the parent proxy as http://host:port, e.g. http://proxy.corp.example:3128"
                    + " (snigate speaks HTTP CONNECT to it)");
        }
        String rest = text.endsWith("/") ? text.substring(scheme.length(), text.length() - 1) : text.substring(scheme.length());
        if (rest.contains("@") || rest.contains("/")) {
            throw new IllegalArgumentException("only http://host:port: put credentials in a via_credentials file,"
                    + " never in routes.yaml");
        }
        return HostPort.parse(rest);
    }

    /**
     * {@code user:password} from a file (relative to routes.yaml), as the value of a
     * {@code Proxy-Authorization: Basic} header. The secret appears in no message.
     */
    private String readCredentials(Node node) throws ConfigException {
        String written = nodes.text(node, "via_credentials");
        Path file = nodes.resolve(written);
        String content;
        try {
            if (Files.size(file) > MAX_CREDENTIALS_BYTES) {
                throw nodes.error(node, "via_credentials \"" + written + "\" is not a credentials file: it should"
                        + " hold one line, user:password");
            }
            content = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw nodes.error(node, "via_credentials \"" + written + "\" cannot be read (" + e.getClass().getSimpleName()
                    + "); it must be a file the proxy's user can read, holding user:password");
        }
        if (content.indexOf(':') <= 0 || content.contains("\n")) {
            throw nodes.error(node, "via_credentials \"" + written + "\" must hold one line, user:password");
        }
        return "Basic " + Base64.getEncoder().encodeToString(content.getBytes(StandardCharsets.UTF_8));
    }

    private List<String> readPatterns(Node matchNode, List<String> alpn, List<Integer> ports,
            Map<String, List<Route>> earlierRoutesByPattern) throws ConfigException {
        List<Node> patternNodes = nodes.listOrSingle(matchNode, "match", "name patterns");
        if (patternNodes.isEmpty()) {
            throw nodes.error(matchNode, "match has no pattern; add at least one name");
        }
        Set<String> patterns = new LinkedHashSet<>();
        for (Node patternNode : patternNodes) {
            String written = nodes.text(patternNode, "a match pattern");
            String pattern = nodes.parsed(patternNode, "match", Route::normalizePattern);
            if (!patterns.add(pattern)) {
                throw nodes.error(patternNode, "match \"" + written + "\" is listed twice in this route");
            }
            for (Route earlier : earlierRoutesByPattern.getOrDefault(pattern, List.of())) {
                String clash = clash(earlier, alpn, ports);
                if (clash != null) {
                    throw nodes.error(patternNode, "match \"" + written + "\" is also in the route at line "
                            + earlier.line() + ", " + clash + "; a name may be in several routes only with alpn"
                            + " lists or ports that do not overlap");
                }
            }
        }
        return List.copyOf(patterns);
    }

    /**
     * How a route with {@code alpn} and {@code ports} could take the same client as
     * {@code earlier}, or null when no client fits both: otherwise one of them could never be
     * chosen and the file would not say what it does.
     */
    private static String clash(Route earlier, List<String> alpn, List<Integer> ports) {
        String port = null;
        if (!ports.isEmpty() && !earlier.ports().isEmpty()) {
            port = ports.stream().filter(earlier.ports()::contains).findFirst().map(String::valueOf).orElse(null);
            if (port == null) {
                return null;
            }
        }
        String onPort = port == null ? "" : " on port " + port;
        if (alpn.isEmpty() && earlier.alpn().isEmpty()) {
            return "and both accept any client" + onPort;
        }
        for (String protocol : alpn) {
            if (earlier.alpn().contains(protocol)) {
                return "and both accept alpn \"" + protocol + "\"" + onPort;
            }
        }
        return null;
    }

    private List<Cidr> readCidrs(Node node) throws ConfigException {
        List<Cidr> ranges = new ArrayList<>();
        for (Node item : nodes.listOrSingle(node, "allow_destinations", "address ranges like \"10.0.0.0/8\"")) {
            ranges.add(nodes.parsed(item, "allow_destinations", Cidr::parse));
        }
        if (ranges.isEmpty()) {
            throw nodes.error(node, "allow_destinations is empty; leave the key out to allow only public addresses");
        }
        return ranges;
    }

    private List<String> readAlpn(Node node) throws ConfigException {
        List<Node> items = nodes.listOrSingle(node, "alpn", "protocol names");
        if (items.isEmpty()) {
            throw nodes.error(node, "alpn: [] would match no client; to accept any client, leave alpn out");
        }
        Set<String> protocols = new LinkedHashSet<>();
        for (Node item : items) {
            String protocol = nodes.text(item, "an alpn protocol");
            if (protocol.isEmpty() || protocol.length() > 255 || !isPrintableAscii(protocol)) {
                throw nodes.error(item, "alpn \"" + protocol + "\" is not a protocol name; use the IANA names,"
                        + " such as h2 or http/1.1");
            }
            if (!protocols.add(protocol)) {
                throw nodes.error(item, "alpn \"" + protocol + "\" is listed twice");
            }
        }
        return List.copyOf(protocols);
    }

    private List<Integer> readPorts(Node node) throws ConfigException {
        List<Node> items = nodes.listOrSingle(node, "ports", "port numbers");
        if (items.isEmpty()) {
            throw nodes.error(node, "ports: [] would match no client; to accept any port, leave ports out");
        }
        Set<Integer> ports = new LinkedHashSet<>();
        for (Node item : items) {
            int port = nodes.wholeNumber(item, "ports", "a port", 1, 65535, 443);
            if (!ports.add(port)) {
                throw nodes.error(item, "port " + port + " is listed twice");
            }
        }
        return List.copyOf(ports);
    }

    Upstream readUpstream(Node node, String what) throws ConfigException {
        String text = nodes.text(node, what);
        Upstream upstream;
        try {
            upstream = Upstream.parse(text);
        } catch (IllegalArgumentException e) {
            String hint = what.equals("default") ? " (or write reject)" : "";
            throw nodes.error(node, what + " \"" + text + "\": " + e.getMessage() + hint);
        }
        if (upstream.dialsOriginalDst() && listeners.stream().noneMatch(Listener::isTransparent)) {
            throw nodes.error(node, what + " \"" + text + "\" needs a listener that knows the original destination:"
                    + " give one original_dst: redirect or tproxy, or dial \"$sni:$port\" instead");
        }
        if (upstream.isIpLiteral() && !upstream.usesOriginalPort()) {
            InetSocketAddress target = upstream.hostPort().toResolvedLiteral();
            Listener own = ConfigLoader.listenerReachedBy(target, listeners);
            if (own != null) {
                throw nodes.error(node, what + " \"" + text + "\" is this proxy's own listen address (line "
                        + own.line() + "): it would dial itself in a loop");
            }
        }
        return upstream;
    }

    private static boolean isPrintableAscii(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c <= ' ' || c > '~') {
                return false;
            }
        }
        return true;
    }
}
