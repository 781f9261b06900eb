package io.snigate.config;

import java.io.IOException;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Reads {@code routes.yaml} into a {@link ProxyConfig}, checking everything once so that the proxy
 * never meets a bad value at run time.
 *
 * <p>The YAML is composed into a node tree rather than constructed into maps: only nodes know
 * their line, and every message must say where to look.
 */
public final class ConfigLoader {
    /** Far above any real route list; keeps a stray huge file from being read into memory. */
    static final int MAX_FILE_CHARS = 1024 * 1024;

    private static final List<String> TOP_LEVEL_KEYS =
            List.of("listen", "admin", "routes", "default", "timeouts", "limits", "resolvers");
    private static final List<String> ROUTE_KEYS = List.of("match", "alpn", "upstream", "allow_destinations");
    private static final List<String> TIMEOUT_KEYS = List.of("preread", "connect", "idle", "drain", "half_closed");
    private static final List<String> LIMIT_KEYS = List.of(
            "max_client_hello_bytes", "max_connections", "max_connections_per_client", "max_preread_connections");
    private static final String REJECT = "reject";

    private ConfigLoader() {}

    public static ProxyConfig load(Path file) throws ConfigException {
        String name = file.toString();
        String text;
        try {
            if (Files.isDirectory(file)) {
                throw new ConfigException(name, 0, "is a directory, not a configuration file");
            }
            if (Files.size(file) > MAX_FILE_CHARS * 4L) {
                throw new ConfigException(name, 0, "is larger than the 1 MiB a configuration may have");
            }
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(name, 0, "no such file; pass the path of routes.yaml", e);
        } catch (AccessDeniedException e) {
            throw new ConfigException(name, 0, "permission denied; the proxy's user must be able to read it", e);
        } catch (CharacterCodingException e) {
            throw new ConfigException(name, 0, "is not valid UTF-8 text", e);
        } catch (IOException e) {
            throw new ConfigException(name, 0, "cannot be read: " + e, e);
        }
        return parse(text, name);
    }

    public static ProxyConfig parse(String yamlText, String fileName) throws ConfigException {
        return new Reader(fileName).read(yamlText);
    }

    /** One reading of one file: carries the file name into every message. */
    private static final class Reader {
        private final String file;
        private final List<HostPort> listen = new ArrayList<>();
        private final List<Integer> listenLines = new ArrayList<>();

        Reader(String file) {
            this.file = file;
        }

        ProxyConfig read(String text) throws ConfigException {
            Node root = compose(text);
            if (root == null) {
                throw new ConfigException(file, 0, "the file has no settings; it needs at least listen: and routes:");
            }
            if (!(root instanceof MappingNode)) {
                throw error(root, "the file must be a mapping of settings (listen:, routes:, ...), but it is "
                        + kind(root));
            }
            Map<String, NodeTuple> top = keys((MappingNode) root, "at the top level", TOP_LEVEL_KEYS);

            NodeTuple listenEntry = top.get("listen");
            if (listenEntry == null) {
                throw new ConfigException(file, 0, "no listen address; add for example listen: [\"0.0.0.0:443\"]");
            }
            readListen(listenEntry.getValueNode());

            HostPort admin = ProxyConfig.DEFAULT_ADMIN;
            NodeTuple adminEntry = top.get("admin");
            if (adminEntry != null) {
                admin = readAdmin(adminEntry.getValueNode());
            }

            List<Route> routes = new ArrayList<>();
            NodeTuple routesEntry = top.get("routes");
            if (routesEntry != null) {
                routes = readRoutes(routesEntry.getValueNode());
            }

            Upstream defaultUpstream = null;
            NodeTuple defaultEntry = top.get("default");
            if (defaultEntry != null) {
                defaultUpstream = readDefault(defaultEntry.getValueNode());
            }
            if (routes.isEmpty() && defaultUpstream == null) {
                int line = routesEntry != null ? line(routesEntry.getValueNode()) : 0;
                throw new ConfigException(file, line, "there are no routes and no default upstream, so nothing"
                        + " would ever be forwarded; add a route, or set default: to an upstream");
            }

            Timeouts timeouts = Timeouts.DEFAULTS;
            NodeTuple timeoutsEntry = top.get("timeouts");
            if (timeoutsEntry != null) {
                timeouts = readTimeouts(timeoutsEntry.getValueNode());
            }

            Limits limits = Limits.DEFAULTS;
            NodeTuple limitsEntry = top.get("limits");
            if (limitsEntry != null) {
                limits = readLimits(limitsEntry.getValueNode());
            }

            List<HostPort> resolvers = List.of();
            NodeTuple resolversEntry = top.get("resolvers");
            if (resolversEntry != null) {
                resolvers = readResolvers(resolversEntry.getValueNode());
            }

            return new ProxyConfig(file, listen, admin, routes, defaultUpstream, timeouts, limits, resolvers);
        }

        private Node compose(String text) throws ConfigException {
            if (text.length() > MAX_FILE_CHARS) {
                throw new ConfigException(file, 0, "is larger than the 1 MiB a configuration may have");
            }
            LoaderOptions options = new LoaderOptions();
            options.setAllowDuplicateKeys(false);
            // Aliases have no use in a route list, and many of them are how "billion laughs" starts.
            options.setMaxAliasesForCollections(10);
            options.setNestingDepthLimit(20);
            options.setCodePointLimit(MAX_FILE_CHARS);
            try {
                return new Yaml(new SafeConstructor(options)).compose(new StringReader(text));
            } catch (MarkedYAMLException e) {
                Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
                String problem = oneLine(e.getProblem() != null ? e.getProblem() : e.getContext());
                // The context often points at the real mistake, such as the unclosed bracket.
                if (e.getProblem() != null && e.getContext() != null && e.getContextMark() != null) {
                    problem += " (" + oneLine(e.getContext()) + " at line " + (e.getContextMark().getLine() + 1) + ")";
                }
                throw new ConfigException(file, mark == null ? 0 : mark.getLine() + 1, "not valid YAML: " + problem, e);
            } catch (YAMLException e) {
                throw new ConfigException(file, 0, "not valid YAML: " + oneLine(e.getMessage()), e);
            }
        }

        private void readListen(Node node) throws ConfigException {
            List<Node> items = listOrSingle(node, "listen", "\"host:port\" addresses");
            if (items.isEmpty()) {
                throw error(node, "listen has no address; add at least one, e.g. \"0.0.0.0:443\"");
            }
            Map<InetSocketAddress, Integer> seen = new HashMap<>();
            for (Node item : items) {
                String text = text(item, "a listen address");
                HostPort address = localAddress(item, text, "listen address");
                Integer first = seen.putIfAbsent(address.toResolvedLiteral(), line(item));
                if (first != null) {
                    throw error(item, "listen address \"" + text + "\" is listed twice (first at line " + first
                            + "); remove one");
                }
                listen.add(address);
                listenLines.add(line(item));
            }
        }

        private HostPort readAdmin(Node node) throws ConfigException {
            String text = text(node, "admin");
            HostPort admin = localAddress(node, text, "admin address");
            for (int i = 0; i < listen.size(); i++) {
                if (admin.port() != 0 && listen.get(i).toResolvedLiteral().equals(admin.toResolvedLiteral())) {
                    throw error(node, "admin address \"" + text + "\" is also a listen address (line "
                            + listenLines.get(i) + "); give the admin endpoint its own port");
                }
            }
            return admin;
        }

        /** An address this host binds: it must be an IP literal, as names would need DNS to bind. */
        private HostPort localAddress(Node node, String text, String what) throws ConfigException {
            HostPort address;
            try {
                address = HostPort.parseBindable(text);
            } catch (IllegalArgumentException e) {
                throw error(node, what + " \"" + text + "\": " + e.getMessage());
            }
            if (!address.isIpLiteral()) {
                throw error(node, what + " \"" + text + "\": the host must be an IP address such as 0.0.0.0,"
                        + " 127.0.0.1 or [::]; names are not looked up for listening");
            }
            return address;
        }

        private HostPort hostPort(Node node, String text, String what) throws ConfigException {
            try {
                return HostPort.parse(text);
            } catch (IllegalArgumentException e) {
                throw error(node, what + " \"" + text + "\": " + e.getMessage());
            }
        }

        private List<Route> readRoutes(Node node) throws ConfigException {
            if (!(node instanceof SequenceNode)) {
                throw error(node, "routes must be a list of routes (each with match: and upstream:), but this is "
                        + kind(node));
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

        private Route readRoute(Node node, Map<String, List<Route>> earlierRoutesByPattern)
                throws ConfigException {
            if (!(node instanceof MappingNode)) {
                throw error(node, "each route must be a mapping with match: and upstream:, but this is "
                        + kind(node));
            }
            Map<String, NodeTuple> keys = keys((MappingNode) node, "in a route", ROUTE_KEYS);
            NodeTuple matchEntry = keys.get("match");
            if (matchEntry == null) {
                throw error(node, "this route has no match; add match: \"name.example.com\" or"
                        + " match: [\"*.example.com\", \"example.com\"]");
            }
            NodeTuple upstreamEntry = keys.get("upstream");
            if (upstreamEntry == null) {
                throw error(node, "this route has no upstream; add upstream: \"host:port\" or \"$sni:443\"");
            }

            List<String> alpn = List.of();
            NodeTuple alpnEntry = keys.get("alpn");
            if (alpnEntry != null) {
                alpn = readAlpn(alpnEntry.getValueNode());
            }

            Node matchNode = matchEntry.getValueNode();
            List<Node> patternNodes = listOrSingle(matchNode, "match", "name patterns");
            if (patternNodes.isEmpty()) {
                throw error(matchNode, "match has no pattern; add at least one name");
            }
            Set<String> patterns = new LinkedHashSet<>();
            for (Node patternNode : patternNodes) {
                String written = text(patternNode, "a match pattern");
                String pattern;
                try {
                    pattern = Route.normalizePattern(written);
                } catch (IllegalArgumentException e) {
                    throw error(patternNode, "match \"" + written + "\": " + e.getMessage());
                }
                if (!patterns.add(pattern)) {
                    throw error(patternNode, "match \"" + written + "\" is listed twice in this route");
                }
                checkNotTaken(patternNode, written, pattern, alpn, earlierRoutesByPattern);
            }

            Upstream upstream = readUpstream(upstreamEntry.getValueNode(), "upstream");
            List<Cidr> allowed = List.of();
            NodeTuple allowEntry = keys.get("allow_destinations");
            if (allowEntry != null) {
                if (!upstream.dialSni()) {
                    throw error(allowEntry.getKeyNode(), "allow_destinations only applies to a $sni upstream;"
                            + " an upstream written in the config is trusted as it is");
                }
                allowed = readCidrs(allowEntry.getValueNode());
            }
            return new Route(List.copyOf(patterns), alpn, upstream, allowed, line(node));
        }

        private List<Cidr> readCidrs(Node node) throws ConfigException {
            List<Cidr> ranges = new ArrayList<>();
            for (Node item : listOrSingle(node, "allow_destinations", "address ranges like \"10.0.0.0/8\"")) {
                String text = text(item, "an address range");
                try {
                    ranges.add(Cidr.parse(text));
                } catch (IllegalArgumentException e) {
                    throw error(item, "allow_destinations \"" + text + "\": " + e.getMessage());
                }
            }
            if (ranges.isEmpty()) {
                throw error(node, "allow_destinations is empty; leave the key out to allow only public addresses");
            }
            return ranges;
        }

        /**
         * A pattern may be in several routes only when their alpn lists cannot both fit one client;
         * otherwise one of them could never be chosen and the file would not say what it does.
         */
        private void checkNotTaken(Node node, String written, String pattern, List<String> alpn,
                Map<String, List<Route>> earlierRoutesByPattern) throws ConfigException {
            for (Route earlier : earlierRoutesByPattern.getOrDefault(pattern, List.of())) {
                String clash;
                if (alpn.isEmpty() && earlier.alpn().isEmpty()) {
                    clash = "and both accept any client";
                } else {
                    String shared = null;
                    for (String protocol : alpn) {
                        if (earlier.alpn().contains(protocol)) {
                            shared = protocol;
                            break;
                        }
                    }
                    if (shared == null) {
                        continue;
                    }
                    clash = "and both accept alpn \"" + shared + "\"";
                }
                throw error(node, "match \"" + written + "\" is also in the route at line " + earlier.line()
                        + ", " + clash + "; a name may be in several routes only with alpn lists that do not"
                        + " overlap");
            }
        }

        private List<String> readAlpn(Node node) throws ConfigException {
            List<Node> items = listOrSingle(node, "alpn", "protocol names");
            if (items.isEmpty()) {
                throw error(node, "alpn: [] would match no client; to accept any client, leave alpn out");
            }
            Set<String> protocols = new LinkedHashSet<>();
            for (Node item : items) {
                String protocol = text(item, "an alpn protocol");
                if (protocol.isEmpty() || protocol.length() > 255 || !isPrintableAscii(protocol)) {
                    throw error(item, "alpn \"" + protocol + "\" is not a protocol name; use the IANA names,"
                            + " such as h2 or http/1.1");
                }
                if (!protocols.add(protocol)) {
                    throw error(item, "alpn \"" + protocol + "\" is listed twice");
                }
            }
            return List.copyOf(protocols);
        }

        private Upstream readDefault(Node node) throws ConfigException {
            String text = text(node, "default");
            return text.equals(REJECT) ? null : readUpstream(node, "default");
        }

        private Upstream readUpstream(Node node, String what) throws ConfigException {
            String text = text(node, what);
            Upstream upstream;
            try {
                upstream = Upstream.parse(text);
            } catch (IllegalArgumentException e) {
                String hint = what.equals("default") ? " (or write reject)" : "";
                throw error(node, what + " \"" + text + "\": " + e.getMessage() + hint);
            }
            if (upstream.isIpLiteral()) {
                InetSocketAddress target = upstream.hostPort().toResolvedLiteral();
                for (int i = 0; i < listen.size(); i++) {
                    if (reaches(target, listen.get(i).toResolvedLiteral())) {
                        throw error(node, what + " \"" + text + "\" is this proxy's own listen address (line "
                                + listenLines.get(i) + "): it would dial itself in a loop");
                    }
                }
            }
            return upstream;
        }

        /**
         * Whether dialing target would connect to a socket listening on listen. Only what is certain
         * without asking the network: addresses of other local interfaces are not known here.
         */
        private static boolean reaches(InetSocketAddress target, InetSocketAddress listen) {
            if (target.getPort() != listen.getPort()) {
                return false;
            }
            InetAddress to = target.getAddress();
            InetAddress at = listen.getAddress();
            if (to.equals(at)) {
                return true;
            }
            boolean toSelf = to.isLoopbackAddress() || to.isAnyLocalAddress();
            // An IPv4 any-address listens on IPv4 only; the IPv6 one also takes IPv4 on dual-stack hosts.
            boolean sameFamily = to.getClass() == at.getClass() || at.getAddress().length == 16;
            return (at.isAnyLocalAddress() && toSelf && sameFamily)
                    || (to.isAnyLocalAddress() && at.isLoopbackAddress());
        }

        private Timeouts readTimeouts(Node node) throws ConfigException {
            MappingNode mapping = mapping(node, "timeouts", "preread: 10s, connect: 5s");
            Map<String, NodeTuple> keys = keys(mapping, "in timeouts", TIMEOUT_KEYS);
            Timeouts defaults = Timeouts.DEFAULTS;
            return new Timeouts(
                    duration(keys.get("preread"), "preread", defaults.preread(), true),
                    duration(keys.get("connect"), "connect", defaults.connect(), true),
                    duration(keys.get("idle"), "idle", defaults.idle(), false),
                    duration(keys.get("drain"), "drain", defaults.drain(), false),
                    duration(keys.get("half_closed"), "half_closed", defaults.halfClosed(), false));
        }

        private Duration duration(NodeTuple entry, String name, Duration fallback, boolean positive)
                throws ConfigException {
            if (entry == null) {
                return fallback;
            }
            Node node = entry.getValueNode();
            String text = text(node, "timeouts." + name);
            Duration value;
            try {
                value = Durations.parse(text);
            } catch (IllegalArgumentException e) {
                throw error(node, e.getMessage());
            }
            if (positive && value.isZero()) {
                throw error(node, "timeouts." + name + " must be more than 0");
            }
            return value;
        }

        private Limits readLimits(Node node) throws ConfigException {
            MappingNode mapping = mapping(node, "limits", "max_client_hello_bytes: 16384");
            Map<String, NodeTuple> keys = keys(mapping, "in limits", LIMIT_KEYS);
            Limits defaults = Limits.DEFAULTS;
            return new Limits(
                    wholeNumber(keys.get("max_client_hello_bytes"), "max_client_hello_bytes", "bytes",
                            defaults.maxClientHelloBytes(), Limits.MIN_CLIENT_HELLO_BYTES, Limits.MAX_CLIENT_HELLO_BYTES),
                    wholeNumber(keys.get("max_connections"), "max_connections", "connections",
                            defaults.maxConnections(), 0, 10_000_000),
                    wholeNumber(keys.get("max_connections_per_client"), "max_connections_per_client", "connections",
                            defaults.maxConnectionsPerClient(), 0, 10_000_000),
                    wholeNumber(keys.get("max_preread_connections"), "max_preread_connections", "connections",
                            defaults.maxPrereadConnections(), 0, 10_000_000));
        }

        private int wholeNumber(NodeTuple entry, String name, String unit, int fallback, int min, int max)
                throws ConfigException {
            if (entry == null) {
                return fallback;
            }
            Node value = entry.getValueNode();
            String text = text(value, "limits." + name);
            String range = "it must be " + min + " to " + max + (min == 0 ? " (0 means no limit)" : "");
            if (text.isEmpty() || text.length() > 9 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw error(value, "limits." + name + " \"" + text + "\" is not a whole number of " + unit + "; "
                        + range + ", e.g. " + fallback);
            }
            int number = Integer.parseInt(text);
            if (number < min || number > max) {
                throw error(value, "limits." + name + " is " + number + "; " + range);
            }
            return number;
        }

        private List<HostPort> readResolvers(Node node) throws ConfigException {
            List<HostPort> resolvers = new ArrayList<>();
            for (Node item : listOrSingle(node, "resolvers", "\"ip:port\" addresses")) {
                String text = text(item, "a resolver");
                HostPort resolver = hostPort(item, text, "resolver");
                if (!resolver.isIpLiteral()) {
                    throw error(item, "resolver \"" + text + "\": must be an IP address, such as 127.0.0.1:53;"
                            + " a DNS server cannot be found through DNS");
                }
                resolvers.add(resolver);
            }
            return resolvers;
        }

        // --- walking the node tree

        /**
         * The keys of a mapping by name, in file order, after checking that each is a known,
         * unrepeated plain name: a misspelt key silently ignored is a setting silently not applied.
         */
        private Map<String, NodeTuple> keys(MappingNode mapping, String where, List<String> allowed)
                throws ConfigException {
            Map<String, NodeTuple> keys = new LinkedHashMap<>();
            for (NodeTuple tuple : mapping.getValue()) {
                Node keyNode = tuple.getKeyNode();
                if (!(keyNode instanceof ScalarNode)) {
                    throw error(keyNode, "a key must be a plain name, but this is " + kind(keyNode));
                }
                String key = ((ScalarNode) keyNode).getValue();
                if (!allowed.contains(key)) {
                    throw error(keyNode, "unknown key \"" + key + "\" " + where + "; expected one of: "
                            + String.join(", ", allowed));
                }
                NodeTuple first = keys.putIfAbsent(key, tuple);
                if (first != null) {
                    throw error(keyNode, "key \"" + key + "\" appears twice " + where + " (first at line "
                            + line(first.getKeyNode()) + "); keep only one");
                }
            }
            return keys;
        }

        private MappingNode mapping(Node node, String what, String example) throws ConfigException {
            if (!(node instanceof MappingNode)) {
                throw error(node, what + " must be a mapping, such as { " + example + " }, but this is "
                        + kind(node));
            }
            return (MappingNode) node;
        }

        /** A list, or a single value standing for a list of one. */
        private List<Node> listOrSingle(Node node, String what, String items) throws ConfigException {
            if (node instanceof SequenceNode) {
                return ((SequenceNode) node).getValue();
            }
            if (isNull(node)) {
                throw error(node, what + " has no value");
            }
            if (node instanceof ScalarNode) {
                return List.of(node);
            }
            throw error(node, what + " must be a list of " + items + ", or a single one, but this is "
                    + kind(node));
        }

        private String text(Node node, String what) throws ConfigException {
            if (!(node instanceof ScalarNode)) {
                throw error(node, what + " must be a single value, but this is " + kind(node));
            }
            if (isNull(node)) {
                throw error(node, what + " has no value");
            }
            return ((ScalarNode) node).getValue();
        }

        private static boolean isNull(Node node) {
            return node instanceof ScalarNode && Tag.NULL.equals(node.getTag());
        }

        private static String kind(Node node) {
            if (node instanceof MappingNode) {
                return "a mapping (key: value pairs)";
            }
            if (node instanceof SequenceNode) {
                return "a list";
            }
            return isNull(node) ? "empty" : "a single value";
        }

        private static int line(Node node) {
            return node.getStartMark() == null ? 0 : node.getStartMark().getLine() + 1;
        }

        private static String oneLine(String text) {
            return text == null ? "unknown problem" : text.replaceAll("\\s+", " ").trim();
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

        private ConfigException error(Node node, String problem) {
            return new ConfigException(file, line(node), problem);
        }
    }
}
