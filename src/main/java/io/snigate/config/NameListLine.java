package io.snigate.config;

import io.snigate.core.HostNames;
import java.nio.file.Path;

/**
 * One line of a {@code match_file} list, parsed in place and reused from line to line: a name
 * already in normal form (lower case, no trailing dot) is kept as a range of the file's text, with
 * no object made for it; any other name is normalized as {@code match} does, and a line that is not
 * a name is refused with the list's file and line. {@code #} starts a comment.
 */
final class NameListLine {
    /** Told of each line of a file: its text {@code [from, end)} and its number; false stops. */
    interface Visitor {
        boolean visit(int from, int end, int line) throws ConfigException;
    }

    private static final String FORM_HINT =
            "; a line is a name, *.suffix (every name below it) or .suffix (the name and all below it)";

    /** {@link NameList#EXACT}, {@link NameList#WILDCARD} or both; 0 for a blank or comment line. */
    byte kinds;
    /** The name as {@code text[from, to)} when it was already in normal form. */
    int from;
    int to;
    /** Otherwise the name normalized. */
    String normalized;
    /** The line as written, without comment and blanks: {@code text[writtenFrom, writtenTo)}. */
    int writtenFrom;
    int writtenTo;

    String name(String text) {
        return normalized != null ? normalized : text.substring(from, to);
    }

    String written(String text) {
        return text.substring(writtenFrom, writtenTo);
    }

    /** Hands each line of {@code text} to {@code visitor}, numbered from 1, until it returns false. */
    static void forEachLine(String text, Visitor visitor) throws ConfigException {
        int line = 0;
        for (int from = 0; from <= text.length(); ) {
            int end = text.indexOf('\n', from);
            if (end < 0) {
                end = text.length();
            }
            if (!visitor.visit(from, end, ++line)) {
                return;
            }
            from = end + 1;
        }
    }

    /**
     * Parses line {@code text[from, end)} into this; false for a blank or comment line.
     *
     * @throws ConfigException when the line holds something that is not a name
     */
    boolean parse(String text, int from, int end, Path path, int line) throws ConfigException {
        for (int i = from; i < end; i++) {
            if (text.charAt(i) == '#') {
                end = i;
                break;
            }
        }
        while (from < end && isBlank(text.charAt(from))) {
            from++;
        }
        while (end > from && isBlank(text.charAt(end - 1))) {
            end--;
        }
        if (from == end) {
            return false;
        }
        this.writtenFrom = from;
        this.writtenTo = end;
        byte kinds = NameList.EXACT;
        int name = from;
        if (text.startsWith(Route.WILDCARD_PREFIX, from)) {
            kinds = NameList.WILDCARD;
            name += Route.WILDCARD_PREFIX.length();
        } else if (text.charAt(from) == '.') {
            kinds = NameList.EXACT | NameList.WILDCARD;
            name++;
        }
        this.kinds = kinds;
        if (isNormal(text, name, end) && HostNames.isValid(text, name, end)) {
            this.from = name;
            this.to = end;
            this.normalized = null;
            return true;
        }
        this.normalized = normalize(text, from, end, kinds, path, line);
        return true;
    }

    /** Whether {@code text[from, to)} has no upper-case letter and no trailing dot. */
    private static boolean isNormal(String text, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                return false;
            }
        }
        return to > from && text.charAt(to - 1) != '.';
    }

    /** The name of a line not in normal form, normalized as {@code match} does, or the error that says why not. */
    private static String normalize(String text, int from, int end, byte kinds, Path path, int line)
            throws ConfigException {
        String written = text.substring(from, end);
        try {
            for (int i = 0; i < written.length(); i++) {
                if (isBlank(written.charAt(i))) {
                    throw new IllegalArgumentException("one name a line; start a comment with #");
                }
            }
            if (kinds == (NameList.EXACT | NameList.WILDCARD)) {
                String apex = written.substring(1);
                if (apex.startsWith(".") || apex.startsWith("*")) {
                    throw new IllegalArgumentException("write \".example.com\" for a name and all below it");
                }
                return Route.normalizePattern(apex);
            }
            String pattern = Route.normalizePattern(written);
            return Route.isWildcard(pattern) ? pattern.substring(Route.WILDCARD_PREFIX.length()) : pattern;
        } catch (IllegalArgumentException e) {
            String hint = e.getMessage().startsWith("one name a line") ? "" : FORM_HINT;
            throw new ConfigException(path.toString(), line, "\"" + printable(written) + "\": " + e.getMessage() + hint);
        }
    }

    private static boolean isBlank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
    }

    /** The line as a message may quote it: control and non-ASCII bytes escaped. */
    private static String printable(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), 80));
        for (int i = 0; i < text.length() && i < 80; i++) {
            char c = text.charAt(i);
            out.append(c < 0x20 || c > 0x7e ? String.format("\\x%02x", (int) c) : String.valueOf(c));
        }
        return text.length() > 80 ? out + "..." : out.toString();
    }

    /** {@link #parse}, with a line that is not a name (the file changed since it was loaded) as blank. */
    boolean parseIfValid(String text, int from, int end, Path path, int line) {
        try {
            return parse(text, from, end, path, line);
        } catch (ConfigException changedSinceLoaded) {
            return false;
        }
    }
}
