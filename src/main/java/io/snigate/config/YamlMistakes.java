package io.snigate.config;

import java.io.StringReader;
import java.util.HashSet;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.CollectionEndEvent;
import org.yaml.snakeyaml.events.CollectionStartEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.reader.ReaderException;

/**
 * Turns the YAML parser's complaints about a file into a {@link ConfigException} that gives the
 * line to fix and says what to do there, in the words of routes.yaml's keys. {@link YamlNodes}
 * calls it when a file does not compose.
 */
final class YamlMistakes {
    private YamlMistakes() {
    }

    /** A complaint with a place: the line to fix, which is where the mistake starts when the parser says so. */
    static ConfigException atMark(String file, String text, MarkedYAMLException e) {
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
        return new ConfigException(file, mark == null ? 0 : mark.getLine() + 1,
                "not valid YAML: " + problem + advice(e, text), e);
    }

    /** A character YAML does not allow (a control character, most often pasted): it has a place. */
    static ConfigException forbiddenCharacter(String file, String text, ReaderException e) {
        int at = text.offsetByCodePoints(0, Math.min(e.getPosition(), text.codePointCount(0, text.length())));
        int line = (int) text.substring(0, at).chars().filter(c -> c == '\n').count() + 1;
        return new ConfigException(file, line, String.format("not valid YAML: the character U+%04X on this line is"
                + " not allowed (a control character: pasted?); remove it", e.getCodePoint()), e);
    }

    /** The parser's own limits ({@code options}), which it reports without a place: found again in its events. */
    static ConfigException pastLimit(String file, String text, YAMLException e, LoaderOptions options) {
        String message = oneLine(e.getMessage());
        boolean nesting = message.contains("Nesting Depth");
        boolean aliases = message.contains("aliases");
        String advice = nesting ? "; no setting of routes.yaml nests more than a few levels"
                : aliases ? "; routes.yaml needs no aliases (&name, *name): write each value out"
                : "";
        int line = nesting || aliases
                ? lineOfLimit(text, nesting, nesting ? options.getNestingDepthLimit() : options.getMaxAliasesForCollections())
                : 0;
        return new ConfigException(file, line, "not valid YAML: " + message + advice, e);
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
            // The root mapping left open, and the line a key only the top level has: a top-level
            // key out of place (a route's key under an unindented list leaves the root open too).
            String bad = e.getProblemMark() == null ? "" : text.split("\n", -1)[e.getProblemMark().getLine()].strip();
            String key = bad.indexOf(':') > 0 ? bad.substring(0, bad.indexOf(':')) : "";
            boolean topLevel = e.getContextMark() != null && e.getContextMark().getColumn() == 0
                    && ConfigLoader.TOP_LEVEL_KEYS.contains(key) && !RoutesReader.ROUTE_KEYS.contains(key);
            return "; this line is indented differently from the lines it belongs with" + (above > 0 ? " (from line " + above
                    + ")" : "") + (topLevel ? ": the top-level keys (listen:, routes:, timeouts:, ...) start in the first"
                    + " column" : ": the keys of one route must start in the same column");
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

    private static String oneLine(String text) {
        return text == null ? "unknown problem" : text.replaceAll("\\s+", " ").trim();
    }
}
