package io.snigate.config;

import java.io.StringReader;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.reader.ReaderException;

/**
 * Walks the YAML node tree of one file and turns every surprise into a {@link ConfigException}
 * that names the file and the line ({@link YamlMistakes} words the parser's complaints). The
 * readers ({@link ConfigLoader}, {@link RoutesReader}) use it so that they read as the file's
 * contract, not as tree walking.
 *
 * <p>The file is composed into nodes rather than constructed into maps: only nodes know their
 * line, and every message must say where to look.
 */
final class YamlNodes {
    /** Far above any real route list; keeps a stray huge file from being read into memory. */
    static final int MAX_FILE_CHARS = 1024 * 1024;

    private final String file;

    YamlNodes(String file) {
        this.file = file;
    }

    String file() {
        return file;
    }

    Node compose(String text) throws ConfigException {
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
            throw YamlMistakes.atMark(file, text, e);
        } catch (ReaderException e) {
            throw YamlMistakes.forbiddenCharacter(file, text, e);
        } catch (YAMLException e) {
            throw YamlMistakes.pastLimit(file, text, e, options);
        }
    }

    /**
     * The keys of a mapping by name, in file order, after checking that each is a known,
     * unrepeated plain name: a misspelt key silently ignored is a setting silently not applied.
     */
    Map<String, NodeTuple> keys(MappingNode mapping, String where, List<String> allowed) throws ConfigException {
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

    /** The value node of {@code key}, or null when the mapping does not have it. */
    static Node value(Map<String, NodeTuple> keys, String key) {
        NodeTuple entry = keys.get(key);
        return entry == null ? null : entry.getValueNode();
    }

    MappingNode mapping(Node node, String what, String example) throws ConfigException {
        if (!(node instanceof MappingNode)) {
            throw error(node, what + " must be a mapping, such as { " + example + " }, but this is " + kind(node));
        }
        return (MappingNode) node;
    }

    /** A list, or a single value standing for a list of one. */
    List<Node> listOrSingle(Node node, String what, String items) throws ConfigException {
        if (node instanceof SequenceNode) {
            return ((SequenceNode) node).getValue();
        }
        if (isNull(node)) {
            throw error(node, what + " has no value");
        }
        if (node instanceof ScalarNode) {
            return List.of(node);
        }
        throw error(node, what + " must be a list of " + items + ", or a single one, but this is " + kind(node));
    }

    String text(Node node, String what) throws ConfigException {
        if (!(node instanceof ScalarNode)) {
            throw error(node, what + " must be a single value, but this is " + kind(node));
        }
        if (isNull(node)) {
            throw error(node, what + " has no value");
        }
        return ((ScalarNode) node).getValue();
    }

    /**
     * The value of {@code node} read by {@code parser}, whose {@link IllegalArgumentException}
     * says what is wrong but not where: the message becomes {@code what "text": problem}.
     */
    <T> T parsed(Node node, String what, Function<String, T> parser) throws ConfigException {
        String text = text(node, what);
        try {
            return parser.apply(text);
        } catch (IllegalArgumentException e) {
            throw error(node, what + " \"" + text + "\": " + e.getMessage());
        }
    }

    boolean bool(Node node, String what) throws ConfigException {
        String text = text(node, what);
        return switch (text) {
            case "true" -> true;
            case "false" -> false;
            default -> throw error(node, what + " \"" + text + "\" must be true or false");
        };
    }

    /** A whole number from {@code min} to {@code max}, in {@code unit}s; {@code example} is a valid one. */
    int wholeNumber(Node node, String what, String unit, int min, int max, int example) throws ConfigException {
        String text = text(node, what);
        String range = "it must be " + min + " to " + max + (min == 0 ? " (0 means no limit)" : "");
        if (text.isEmpty() || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw error(node, what + " \"" + text + "\" is not a whole number of " + unit + "; " + range
                    + ", e.g. " + example);
        }
        // No bound has more than 9 digits: a longer number (leading zeros aside) is above any range.
        if (text.replaceFirst("^0+(?=.)", "").length() > 9) {
            throw error(node, what + " is " + text + "; " + range);
        }
        int number = Integer.parseInt(text);
        if (number < min || number > max) {
            throw error(node, what + " is " + number + "; " + range);
        }
        return number;
    }

    /**
     * A duration such as {@code 10s}, at most {@code max} (a whole number of hours); more than 0
     * when {@code positive}. {@link Durations} messages already quote the text.
     */
    Duration duration(Node node, String what, boolean positive, Duration max) throws ConfigException {
        String text = text(node, what);
        Duration value;
        try {
            value = Durations.parse(text);
        } catch (IllegalArgumentException e) {
            throw error(node, e.getMessage());
        }
        if (positive && value.isZero()) {
            throw error(node, what + " must be more than 0");
        }
        if (value.compareTo(max) > 0) {
            long hours = max.toHours();
            throw error(node, what + " \"" + text + "\" is too long: it must be " + (positive ? "1ms" : "0s") + " to "
                    + hours + "h" + (hours >= 48 ? " (" + max.toDays() + " days)" : ""));
        }
        return value;
    }

    static boolean isNull(Node node) {
        return node instanceof ScalarNode && Tag.NULL.equals(node.getTag());
    }

    static String kind(Node node) {
        if (node instanceof MappingNode) {
            return "a mapping (key: value pairs)";
        }
        if (node instanceof SequenceNode) {
            return "a list";
        }
        return isNull(node) ? "empty" : "a single value";
    }

    static int line(Node node) {
        return node.getStartMark() == null ? 0 : node.getStartMark().getLine() + 1;
    }

    ConfigException error(Node node, String problem) {
        return new ConfigException(file, line(node), problem);
    }

    ConfigException error(Node node, String problem, Throwable cause) {
        return new ConfigException(file, line(node), problem, cause);
    }
}
