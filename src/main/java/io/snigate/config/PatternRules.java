package io.snigate.config;

import io.snigate.core.RouteLabels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.nodes.Node;

/**
 * The rules a route's name patterns and {@code match_file} list keep with the routes above it in
 * the file: a name, or a list, may be in several routes only when no client fits two of them
 * (their alpn lists or ports do not overlap). {@link RoutesReader} keeps one for a reading of
 * {@code routes:}, and adds each route once it is read.
 */
final class PatternRules {
    private final YamlNodes nodes;
    /** For each pattern, and each list by its path, the routes already read that carry it. */
    private final Map<String, List<Route>> routesByPattern = new HashMap<>();

    PatternRules(YamlNodes nodes) {
        this.nodes = nodes;
    }

    /** Counts {@code route} among the earlier routes of the next ones. */
    void add(Route route) {
        for (String pattern : route.match()) {
            routesByPattern.computeIfAbsent(pattern, p -> new ArrayList<>()).add(route);
        }
        if (route.names() != null) {
            routesByPattern.computeIfAbsent(listKey(route.names()), p -> new ArrayList<>()).add(route);
        }
    }

    /** A route's {@code match}: its patterns, none reserved, repeated or clashing with an earlier route. */
    List<String> readPatterns(Node matchNode, List<String> alpn, List<Integer> ports) throws ConfigException {
        List<Node> patternNodes = nodes.listOrSingle(matchNode, "match", "name patterns");
        if (patternNodes.isEmpty()) {
            throw nodes.error(matchNode, "match has no pattern; add at least one name");
        }
        Set<String> patterns = new LinkedHashSet<>();
        for (Node patternNode : patternNodes) {
            String written = nodes.text(patternNode, "a match pattern");
            String pattern = nodes.parsed(patternNode, "match", Route::normalizePattern);
            if (RouteLabels.RESERVED.contains(pattern)) {
                throw nodes.error(patternNode, "match \"" + written + "\" would be labelled \"" + pattern + "\" in the"
                        + " access log and metrics, which already stands for " + reservedFor(pattern)
                        + "; a single-label name cannot be routed by its own pattern, put it in a match_file list");
            }
            if (!patterns.add(pattern)) {
                throw nodes.error(patternNode, "match \"" + written + "\" is listed twice in this route");
            }
            for (Route earlier : routesByPattern.getOrDefault(pattern, List.of())) {
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

    /** A route's {@code match_file} list, {@code names}, must not clash with an earlier route that has it. */
    void checkList(NameList names, Node matchFileNode, List<String> alpn, List<Integer> ports) throws ConfigException {
        for (Route earlier : routesByPattern.getOrDefault(listKey(names), List.of())) {
            String clash = clash(earlier, alpn, ports);
            if (clash != null) {
                throw nodes.error(matchFileNode, "match_file \"" + names.label() + "\" is also the list of the route"
                        + " at line " + earlier.line() + ", " + clash + "; a list may be in several routes only with"
                        + " alpn lists or ports that do not overlap");
            }
        }
    }

    /**
     * A list's place among the patterns (no name pattern can hold a colon): its path as the
     * system would open it, so that "./lists/x" and "lists/x" are one list.
     */
    private static String listKey(NameList names) {
        return "match_file:" + names.pattern().toAbsolutePath().normalize();
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

    /** What the route label {@code label}, one of {@link RouteLabels#RESERVED}, already stands for. */
    static String reservedFor(String label) {
        return label.equals("none") ? "connections no route took" : "the default upstream";
    }
}
