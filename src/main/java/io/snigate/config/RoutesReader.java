package io.snigate.config;

import io.snigate.core.RouteLabels;
import io.snigate.core.SystemWords;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.SequenceNode;

/** Reads {@code routes:}: the contract of one route, with every mistake's line. */
final class RoutesReader {
    static final List<String> ROUTE_KEYS = List.of("match", "match_file", "alpn", "ports", "upstream",
            "allow_destinations", "verify_destination", "clients", "mode", "min_tls_version", "max_connections",
            "send_proxy_protocol", "via", "via_credentials");

    private final YamlNodes nodes;
    private final List<Listener> listeners;
    private final PolicyReader policy;
    private final UpstreamReader upstreams;
    private final Path baseDir;

    /** {@code baseDir} is where relative {@code match_file} paths start: the config file's folder. */
    RoutesReader(YamlNodes nodes, List<Listener> listeners, PolicyReader policy, UpstreamReader upstreams, Path baseDir) {
        this.nodes = nodes;
        this.listeners = listeners;
        this.policy = policy;
        this.upstreams = upstreams;
        this.baseDir = baseDir;
    }

    List<Route> readRoutes(Node node) throws ConfigException {
        if (!(node instanceof SequenceNode)) {
            throw nodes.error(node, "routes must be a list of routes (each with match: and upstream:), but this is "
                    + YamlNodes.kind(node));
        }
        List<Route> routes = new ArrayList<>();
        PatternRules earlierRoutes = new PatternRules(nodes);
        for (Node item : ((SequenceNode) node).getValue()) {
            Route route = readRoute(item, earlierRoutes);
            routes.add(route);
            earlierRoutes.add(route);
        }
        return routes;
    }

    private Route readRoute(Node node, PatternRules earlierRoutes) throws ConfigException {
        if (!(node instanceof MappingNode)) {
            throw nodes.error(node, "each route must be a mapping with match: and upstream:, but this is "
                    + YamlNodes.kind(node));
        }
        Map<String, NodeTuple> keys = nodes.keys((MappingNode) node, "in a route", ROUTE_KEYS);
        Node matchNode = YamlNodes.value(keys, "match");
        Node matchFileNode = YamlNodes.value(keys, "match_file");
        if (matchNode == null && matchFileNode == null) {
            throw nodes.error(node, "this route has no match; add match: \"name.example.com\","
                    + " match: [\"*.example.com\", \"example.com\"] or match_file: \"allow.list\"");
        }
        Node upstreamNode = YamlNodes.value(keys, "upstream");
        if (upstreamNode == null) {
            throw nodes.error(node, "this route has no upstream; add upstream: \"host:port\" or \"$sni:443\"");
        }
        Node alpnNode = YamlNodes.value(keys, "alpn");
        List<String> alpn = alpnNode == null ? List.of() : readAlpn(alpnNode);
        Node portsNode = YamlNodes.value(keys, "ports");
        List<Integer> ports = portsNode == null ? List.of() : readPorts(portsNode);
        List<String> patterns = matchNode == null ? List.of() : earlierRoutes.readPatterns(matchNode, alpn, ports);
        NameList names = matchFileNode == null ? null : readMatchFile(matchFileNode);
        if (names != null) {
            earlierRoutes.checkList(names, matchFileNode, alpn, ports);
        }

        Upstream upstream = upstreams.readUpstream(upstreamNode, "upstream");
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
        return new Route(patterns, alpn, ports, upstream, allowed, verify, new DeliveryReader(nodes, baseDir).read(keys),
                YamlNodes.line(node), readPolicy(keys), names);
    }

    private RoutePolicy readPolicy(Map<String, NodeTuple> keys) throws ConfigException {
        Node clientsNode = YamlNodes.value(keys, "clients");
        Node modeNode = YamlNodes.value(keys, "mode");
        Node minTlsNode = YamlNodes.value(keys, "min_tls_version");
        Node maxNode = YamlNodes.value(keys, "max_connections");
        return new RoutePolicy(
                clientsNode == null ? ClientRules.ANYONE : policy.clients(clientsNode),
                modeNode == null ? null : policy.mode(modeNode, "mode"),
                minTlsNode == null ? 0 : policy.tlsVersion(minTlsNode, "min_tls_version"),
                maxNode == null ? 0 : nodes.wholeNumber(maxNode, "max_connections", "connections", 0,
                        Limits.MAX_CONNECTIONS, 1000));
    }

    /**
     * {@code match_file}: a path, relative to the config file's folder unless absolute, whose
     * file name may be a glob such as {@code *.list}; the files it names are read in name order.
     */
    private NameList readMatchFile(Node node) throws ConfigException {
        String written = nodes.text(node, "match_file");
        if (RouteLabels.RESERVED.contains(written)) {
            throw nodes.error(node, "match_file \"" + written + "\" would label its route \"" + written + "\" in the"
                    + " access log and metrics, which already stands for " + PatternRules.reservedFor(written)
                    + "; name the file otherwise, or write \"./" + written + "\"");
        }
        Path path;
        Path writtenFolder;
        try {
            path = baseDir.resolve(written);
            writtenFolder = Path.of(written).getParent();
        } catch (InvalidPathException e) {
            throw nodes.error(node, "match_file \"" + written + "\" is not a path (" + e.getReason() + "); write the"
                    + " path of a file, relative to this file's folder or absolute");
        }
        if (writtenFolder != null && MatchFiles.isGlob(writtenFolder.toString())) {
            throw nodes.error(node, "match_file \"" + written + "\": only the file name may have wildcards"
                    + " (* ? [ ] { }), as in \"/etc/snigate/allow.d/*.list\"");
        }
        List<Path> files;
        try {
            files = MatchFiles.expand(path);
        } catch (UncheckedIOException e) {
            throw nodes.error(node, "match_file \"" + written + "\": its folder cannot be listed now (" + SystemWords.plainly(e.getCause())
                    + "); this host's trouble, not the file's: a reload tries again every "
                    + MatchFiles.RETRY_AFTER_IO_ERROR_SECONDS + " s", e.getCause());
        } catch (PatternSyntaxException e) {
            throw nodes.error(node, "match_file \"" + written + "\": its file name is not a valid glob ("
                    + e.getDescription() + "); close every [ with ] and every { with }, as in \"allow.d/*.list\" or"
                    + " \"allow.d/{corp,vendor}.list\"");
        }
        if (files.isEmpty() && Files.isDirectory(path)) {
            throw nodes.error(node, "match_file \"" + written + "\" is a folder; name its files, as in \""
                    + written.replaceAll("/+$", "") + "/*.list\"");
        }
        if (files.isEmpty()) {
            throw nodes.error(node, "match_file \"" + written + "\" names no file (looked for " + path + ");"
                    + " create it (it may be empty), or fix the path");
        }
        return NameListReader.read(written, path, files);
    }

    private List<Cidr> readCidrs(Node node) throws ConfigException {
        return policy.cidrs(node, "allow_destinations",
                "allow_destinations is empty; leave the key out to allow only public addresses");
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
            if (!dialable(port)) {
                throw nodes.error(item, "port " + port + ": no listener takes it, so no client reaches this route through it"
                        + " (and a wider route gets its names); list a port a listener has ("
                        + listeners.stream().map(Listener::name).collect(Collectors.joining(", ")) + "), or add a"
                        + " listener on it");
            }
        }
        return List.copyOf(ports);
    }

    /**
     * Whether a client can have dialed {@code port}: any port through a transparent listener (the
     * original destination's), else one a listener binds (0: any, known only once bound).
     */
    private boolean dialable(int port) {
        return listeners.stream().anyMatch(listener -> listener.isTransparent() || listener.address().port() == 0
                || listener.address().port() == port);
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
