package io.snigate.config;

import java.io.StringReader;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.CollectionEndEvent;
import org.yaml.snakeyaml.events.CollectionStartEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.reader.ReaderException;

/**
 * Walks the YAML node tree of one file and turns every surprise into a {@link ConfigException}
 * that names the file and the line. The readers ({@link ConfigLoader}, {@link RoutesReader}) use
 * it so that they read as the file's contract, not as tree walking.
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
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String problem = oneLine(e.getProblem() != null ? e.getProblem() : e.getContext());
            if (e.getProblem() != null && e.getContext() != null && e.getContextMark() != null) {
                if (opensTheMistake(e.getContext()) && e.getProblemMark() != null) {
                    // An unclosed quote or bracket, a key without its ':': where it starts is the
                    // line to fix; the parser notices only further on.
                    problem += " (" + oneLine(e.getContext()) + " that starts on this line; noticed at line "
                            + (e.getProblemMark().getLine() + 1) + ")";
                    mark = e.getContextMark();
                } else {
                    problem += " (" + oneLine(e.getContext()) + " at line " + (e.getContextMark().getLine() + 1) + ")";
                }
            }
            throw new ConfigException(file, mark == null ? 0 : mark.getLine() + 1,
                    "not valid YAML: " + problem + advice(e, text), e);
        } catch (ReaderException e) {
            // A character YAML does not allow (a control character, most often pasted): it has a place.
            int at = text.offsetByCodePoints(0, Math.min(e.getPosition(), text.codePointCount(0, text.length())));
            int line = (int) text.substring(0, at).chars().filter(c -> c == '\n').count() + 1;
            throw new ConfigException(file, line, String.format("not valid YAML: the character U+%04X on this line is"
                    + " not allowed (a control character: pasted?); remove it", e.getCodePoint()), e);
        } catch (YAMLException e) {
            // The parser's own limits, which it reports without a place: found again in its events.
            String message = oneLine(e.getMessage());
            boolean nesting = message.contains("Nesting Depth");
            boolean aliases = message.contains("aliases");
            String advice = nesting ? "; no setting of routes.yaml nests more than a few levels"
                    : aliases ? "; routes.yaml needs no aliases (&name, *name): write each value out"
                    : "";
            int line = nesting || aliases
                    ? lineOfLimit(text, nesting, nesting ? options.getNestingDepthLimit() : options.getMaxAliasesForCollections())
                    : 0;
            throw new ConfigException(file, line, "not valid YAML: " + message + advice, e);
        }
    }

    /**
     * The line where the parser's events first pass {@code limit}: the collection nested one level
     * deeper ({@code nesting}), or the alias to a collection one past the count. 0 if none does.
     * Events expand no alias, so this costs what reading the file costs.
     */
    private static int lineOfLimit(String text, boolean nesting, int limit) {
        int depth = 0;
        int collectionAliases = 0;
        Set<String> collectionAnchors = new HashSet<>();
        try {
            for (Event event : new Yaml().parse(new StringReader(text))) {
                if (event instanceof CollectionStartEvent start) {
                    if (nesting && ++depth > limit) {
                        return event.getStartMark().getLine() + 1;
                    }
                    if (start.getAnchor() != null) {
                        collectionAnchors.add(start.getAnchor());
                    }
                } else if (event instanceof CollectionEndEvent) {
                    depth--;
                } else if (!nesting && event instanceof AliasEvent alias && collectionAnchors.contains(alias.getAnchor())
                        && ++collectionAliases > limit) {
                    return event.getStartMark().getLine() + 1;
                }
            }
        } catch (YAMLException unreadable) {
            // no place to give
        }
        return 0;
    }

    /** Whether the parser's context names the construct that is left open: a quoted value, a key, a [ or {. */
    private static boolean opensTheMistake(String context) {
        return context.startsWith("while scanning a quoted scalar") || context.startsWith("while scanning a simple key")
                || context.startsWith("while parsing a flow");
    }

    /** What to do about the parser's likeliest complaints, in the words of this file's keys. */
    private static String advice(MarkedYAMLException e, String text) {
        String problem = String.valueOf(e.getProblem()) + " " + e.getContext();
        if (problem.contains("while scanning an alias")) {
            return "; a value that starts with * must be quoted: match: \"*.example.com\"";
        }
        if (problem.contains("expected <block end>") && e.getProblemMark() != null
                && (problem.contains("found '-'") || problem.contains("found '<block sequence start>'"))) {
            return listItemAdvice(text.split("\n", -1), e.getProblemMark().getLine());
        }
        if (problem.contains("expected <block end>")) {
            int above = e.getContextMark() == null ? 0 : e.getContextMark().getLine() + 1;
            return "; this line is indented differently from the lines it belongs with" + (above > 0 ? " (from line " + above
                    + ")" : "") + ": the keys of one route must start in the same column";
        }
        if (problem.contains("mapping values are not allowed here")) {
            return "; a key on this line or the one before lacks its ':', or a value holds an unquoted ': '";
        }
        String context = String.valueOf(e.getContext());
        if (context.startsWith("while scanning a quoted scalar")) {
            return "; close the quote this value opens";
        }
        if (context.startsWith("while scanning a simple key")) {
            return "; the key on this line lacks its ':' (key: value)";
        }
        if (context.startsWith("while parsing a flow sequence")) {
            return "; close the [ this line opens with ], and put a comma between its items";
        }
        if (context.startsWith("while parsing a flow mapping")) {
            return "; close the { this line opens with }, and put a comma between its keys";
        }
        return "";
    }

    /**
     * A list item where no list is open (routes appended at the end of a file whose last key is
     * another): which line it follows, and where routes go.
     */
    private static String listItemAdvice(String[] lines, int itemLine) {
        StringBuilder advice = new StringBuilder("; this list item belongs to no list");
        for (int i = Math.min(itemLine, lines.length) - 1; i >= 0; i--) {
            String line = lines[i].strip();
            if (!line.isEmpty() && !line.startsWith("#")) {
                advice.append(": it follows line ").append(i + 1).append(" (").append(line).append(")");
                break;
            }
        }
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].startsWith("routes:")) {
                return advice.append("; a route goes under routes: (line ").append(i + 1).append("), indented like the routes there").toString();
            }
        }
        return advice.toString();
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

    private static String oneLine(String text) {
        return text == null ? "unknown problem" : text.replaceAll("\\s+", " ").trim();
    }

    ConfigException error(Node node, String problem) {
        return new ConfigException(file, line(node), problem);
    }

    ConfigException error(Node node, String problem, Throwable cause) {
        return new ConfigException(file, line(node), problem, cause);
    }
}
