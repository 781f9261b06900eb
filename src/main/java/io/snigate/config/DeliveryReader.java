package io.snigate.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

/** Reads how a route's connections reach their upstream: a PROXY header to send, a parent proxy and its credentials. */
final class DeliveryReader {
    /** A credentials file is one line; anything much longer is not one. */
    private static final int MAX_CREDENTIALS_BYTES = 4096;

    private final YamlNodes nodes;
    private final Path baseDir;

    /** {@code baseDir} is where a relative {@code via_credentials} path starts: the config file's folder. */
    DeliveryReader(YamlNodes nodes, Path baseDir) {
        this.nodes = nodes;
        this.baseDir = baseDir;
    }

    /** The route's {@code send_proxy_protocol}, {@code via} and {@code via_credentials}. */
    Delivery read(Map<String, NodeTuple> keys) throws ConfigException {
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
        HostPort via = viaNode == null ? null : nodes.parsed(viaNode, "via", DeliveryReader::parentProxy);
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
        Path file;
        try {
            file = baseDir.resolve(written);
        } catch (InvalidPathException e) {
            throw nodes.error(node, "via_credentials \"" + written + "\" is not a path (" + e.getReason() + ");"
                    + " write the path of a file, relative to this file's folder or absolute");
        }
        String content;
        try {
            if (Files.exists(file) && !Files.isRegularFile(file)) {
                throw nodes.error(node, "via_credentials \"" + written + "\" is not a regular file (a pipe or a device?);"
                        + " it must be a file holding one line, user:password");
            }
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
}
