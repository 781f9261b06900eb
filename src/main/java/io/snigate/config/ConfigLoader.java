package io.snigate.config;

import io.snigate.core.SystemWords;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

/**
 * Reads {@code routes.yaml} into a {@link ProxyConfig}, checking everything once so that the proxy
 * never meets a bad value at run time. This class is the file's contract at the top level; the
 * routes are read by {@link RoutesReader}, the proxy-wide sections by {@link SettingsReader}, and
 * {@link YamlNodes} turns every surprise into a message with the file and the line.
 */
public final class ConfigLoader {
    static final List<String> TOP_LEVEL_KEYS = List.of("listen", "admin", "routes", "default", "policy",
            "min_tls_version", "timeouts", "limits", "resolvers", "nat64_prefixes", "upstream_mark", "ech",
            "access_log");
    private static final String REJECT = "reject";

    private ConfigLoader() {}

    public static ProxyConfig load(Path file) throws ConfigException {
        return parse(readText(file), file.toString());
    }

    /**
     * The {@code admin} address of {@code file}, read with its {@code listen} (which it must not
     * clash with) and nothing else: no route, no list. For {@code --await-ready}, which runs in a
     * small heap and only asks a running proxy whether it is ready.
     */
    public static HostPort loadAdmin(Path file) throws ConfigException {
        return new Reader(new YamlNodes(file.toString())).readAdmin(readText(file));
    }

    /** The text of {@code file}, checked as {@link #load} checks it; parse it with {@link #parse}. */
    public static String readText(Path file) throws ConfigException {
        String name = file.toString();
        String text;
        try {
            if (Files.isDirectory(file)) {
                throw new ConfigException(name, 0, "is a directory, not a configuration file");
            }
            if (Files.exists(file) && !Files.isRegularFile(file)) {
                // A FIFO or a device would be read without end (a FIFO blocks until a writer comes).
                throw new ConfigException(name, 0, "is not a regular file (a pipe or a device?); pass the path of routes.yaml");
            }
            if (Files.size(file) > YamlNodes.MAX_FILE_CHARS * 4L) {
                throw new ConfigException(name, 0, "is larger than the 1 MiB a configuration may have");
            }
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(name, 0, "no such file in " + file.toAbsolutePath().getParent()
                    + "; pass the path of routes.yaml with --config FILE", e);
        } catch (AccessDeniedException e) {
            throw new ConfigException(name, 0, "permission denied; the proxy's user must be able to read it", e);
        } catch (CharacterCodingException e) {
            throw new ConfigException(name, lineOfFirstNonUtf8(file), "is not valid UTF-8 text: save it as UTF-8"
                    + " (a byte on this line is not; an editor's Latin-1 é, for one)", e);
        } catch (IOException e) {
            throw new ConfigException(name, 0, "cannot be read: " + SystemWords.plainly(e), e);
        }
        return text;
    }

    /** The line of {@code file}'s first byte that is not UTF-8, or 0 if it cannot be read again. */
    private static int lineOfFirstNonUtf8(Path file) {
        try {
            ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file));
            CoderResult result = StandardCharsets.UTF_8.newDecoder()
                    .decode(bytes, CharBuffer.allocate(bytes.remaining()), true);
            if (!result.isError()) {
                return 0;
            }
            int line = 1;
            for (int i = 0; i < bytes.position(); i++) {
                if (bytes.get(i) == '\n') {
                    line++;
                }
            }
            return line;
        } catch (IOException | OutOfMemoryError e) {
            return 0;
        }
    }

    public static ProxyConfig parse(String yamlText, String fileName) throws ConfigException {
        return new Reader(new YamlNodes(fileName)).read(yamlText);
    }

    /** One reading of one file. */
    private static final class Reader {
        private final YamlNodes nodes;
        private final PolicyReader policyReader;
        private final SettingsReader settings;

        Reader(YamlNodes nodes) {
            this.nodes = nodes;
            this.policyReader = new PolicyReader(nodes);
            this.settings = new SettingsReader(nodes);
        }

        ProxyConfig read(String text) throws ConfigException {
            Map<String, NodeTuple> top = topLevel(text);
            ListenersReader listenersReader = new ListenersReader(nodes, policyReader);
            List<Listener> listeners = listeners(top, listenersReader);
            HostPort admin = admin(top, listenersReader, listeners);

            Path baseDir = Path.of(nodes.file()).toAbsolutePath().getParent();
            UpstreamReader upstreamReader = new UpstreamReader(nodes, listeners);
            RoutesReader routesReader = new RoutesReader(nodes, listeners, policyReader, upstreamReader, baseDir);
            // Before the routes: policy.allow_audit: false refuses every audit in the file.
            Policy policy = policyReader.readPolicy(
                    YamlNodes.value(top, "policy"), YamlNodes.value(top, "min_tls_version"), upstreamReader);
            Node routesNode = YamlNodes.value(top, "routes");
            List<Route> routes = routesNode == null ? List.of() : routesReader.readRoutes(routesNode);
            Node defaultNode = YamlNodes.value(top, "default");
            Upstream defaultUpstream = null;
            if (defaultNode != null && !nodes.text(defaultNode, "default").equals(REJECT)) {
                defaultUpstream = upstreamReader.readUpstream(defaultNode, "default");
            }
            if (routes.isEmpty() && defaultUpstream == null) {
                throw new ConfigException(nodes.file(), routesNode == null ? 0 : YamlNodes.line(routesNode),
                        "there are no routes and no default upstream, so nothing would ever be forwarded;"
                                + " add a route, or set default: to an upstream");
            }

            Node timeoutsNode = YamlNodes.value(top, "timeouts");
            Node limitsNode = YamlNodes.value(top, "limits");
            Node resolversNode = YamlNodes.value(top, "resolvers");
            Node nat64Node = YamlNodes.value(top, "nat64_prefixes");
            Node markNode = YamlNodes.value(top, "upstream_mark");
            Node echNode = YamlNodes.value(top, "ech");
            Node accessLogNode = YamlNodes.value(top, "access_log");
            Node adminNode = YamlNodes.value(top, "admin");
            return new ProxyConfig(
                    nodes.file(),
                    listeners,
                    admin,
                    adminNode == null ? 0 : YamlNodes.line(adminNode),
                    routes,
                    defaultUpstream,
                    timeoutsNode == null ? Timeouts.DEFAULTS : settings.readTimeouts(timeoutsNode),
                    limitsNode == null ? Limits.DEFAULTS : settings.readLimits(limitsNode),
                    resolversNode == null ? List.of() : settings.readResolvers(resolversNode),
                    nat64Node == null ? List.of() : settings.readNat64Prefixes(nat64Node),
                    markNode == null ? 0 : settings.readMark(markNode),
                    markNode == null ? 0 : YamlNodes.line(markNode),
                    echNode == null ? Set.of() : settings.readEchPublicNames(echNode),
                    policy,
                    accessLogNode == null ? AccessLogSettings.DEFAULTS : settings.readAccessLog(accessLogNode));
        }

        HostPort readAdmin(String text) throws ConfigException {
            Map<String, NodeTuple> top = topLevel(text);
            ListenersReader listenersReader = new ListenersReader(nodes, policyReader);
            return admin(top, listenersReader, listeners(top, listenersReader));
        }

        private Map<String, NodeTuple> topLevel(String text) throws ConfigException {
            Node root = nodes.compose(text);
            if (root == null) {
                throw new ConfigException(nodes.file(), 0, "the file has no settings; it needs at least listen: and routes:");
            }
            if (!(root instanceof MappingNode)) {
                throw nodes.error(root, "the file must be a mapping of settings (listen:, routes:, ...), but it is "
                        + YamlNodes.kind(root));
            }
            return nodes.keys((MappingNode) root, "at the top level", TOP_LEVEL_KEYS);
        }

        private List<Listener> listeners(Map<String, NodeTuple> top, ListenersReader listenersReader)
                throws ConfigException {
            Node listenNode = YamlNodes.value(top, "listen");
            if (listenNode == null) {
                throw new ConfigException(nodes.file(), 0, "no listen address; add for example listen: [\"0.0.0.0:443\"]");
            }
            return listenersReader.readListen(listenNode);
        }

        private HostPort admin(Map<String, NodeTuple> top, ListenersReader listenersReader, List<Listener> listeners)
                throws ConfigException {
            Node adminNode = YamlNodes.value(top, "admin");
            return adminNode == null ? ProxyConfig.DEFAULT_ADMIN : listenersReader.readAdmin(adminNode, listeners);
        }
    }
}
