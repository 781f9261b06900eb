package io.snigate.config;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The names of one route's {@code match_file}, with the files they came from and how their load
 * went. The names themselves are in a {@link NameIndex}, packed so that a million of them cost
 * their length plus about 13 to 21 bytes each and a lookup allocates nothing.
 *
 * <p>A name is held once with its kinds: {@link #EXACT} for {@code name}, {@link #WILDCARD} for
 * {@code *.name} (any name below it), both for {@code .name}. {@link #contains} takes a name, an
 * offset into it and the backward hash of that suffix ({@link #hash}), as {@link NameIndex} says.
 *
 * <p>Built by {@link NameListReader} and never changed after, so every event loop can read it.
 */
public final class NameList {
    /** The name itself matches. */
    public static final byte EXACT = 1;
    /** Every name below it matches, at any depth (not the name itself). */
    public static final byte WILDCARD = 2;

    private final String label;
    private final Path pattern;
    private final List<Path> files;
    private final String stamp;
    private final NameIndex index;
    private final LoadReport report;

    /**
     * How the load went, reported once and never fatal.
     *
     * @param duplicates entries that repeat an earlier one exactly
     * @param firstDuplicate where the first of them is, as {@code file:line: text}, or null
     * @param covered entries that a wider entry of the same list already matches
     * @param firstCovered where the first of them is and what covers it, or null
     * @param unfinishedFile a file whose last line holds a name with no newline after it, as a file
     *     still being written has; or null
     * @param unfinishedLine that line's number
     */
    public record LoadReport(int duplicates, String firstDuplicate, int covered, String firstCovered,
            Path unfinishedFile, int unfinishedLine) {}

    NameList(String label, Path pattern, List<Path> files, String stamp, NameIndex index, LoadReport report) {
        this.label = label;
        this.pattern = pattern;
        this.files = List.copyOf(files);
        this.stamp = stamp;
        this.index = index;
        this.report = report;
    }

    /** The packed names, for a test of how far a miss may walk. */
    NameIndex index() {
        return index;
    }

    /** The {@code match_file} as written in the config: it names the route in logs and metrics. */
    public String label() {
        return label;
    }

    /** The resolved path of the {@code match_file}, which may end in a glob. */
    public Path pattern() {
        return pattern;
    }

    /** The files the names came from, in the order read. */
    public List<Path> files() {
        return files;
    }

    /** Whether {@code file}, one of the files read, differs on disk from what was read: changed or gone. */
    public boolean changedOnDisk(Path file) {
        String read = stampOf(file);
        return read == null || !read.equals(MatchFiles.stamp(List.of(file)));
    }

    /** What {@code file} was when it was read (as {@link MatchFiles#stamp} has it), or null if it is not one of these files. */
    public String stampOf(Path file) {
        String read = file + " ";
        return stamp.lines().filter(line -> line.startsWith(read)).findFirst().map(line -> line + "\n").orElse(null);
    }

    /**
     * Whether the files on disk differ from those read: changed, added to the glob, or gone.
     *
     * @throws UncheckedIOException when a glob's folder cannot be listed, as {@link MatchFiles#expand}
     */
    public boolean changedOnDisk() {
        return !MatchFiles.stamp(MatchFiles.expand(pattern)).equals(stamp);
    }

    /** The number of distinct names. */
    public int size() {
        return index.size();
    }

    public LoadReport report() {
        return report;
    }

    /** The load's one-line report: how many names, and the duplicates and covered entries if any. */
    public String summary() {
        StringBuilder text = new StringBuilder("match_file \"" + label + "\": " + size() + " names from "
                + files.size() + (files.size() == 1 ? " file" : " files"));
        if (report != null && report.duplicates() > 0) {
            text.append("; ").append(report.duplicates()).append(" repeated (first ").append(report.firstDuplicate())
                    .append(")");
        }
        if (report != null && report.covered() > 0) {
            text.append("; ").append(report.covered()).append(" already matched by a wider entry (first ")
                    .append(report.firstCovered()).append(")");
        }
        if (report != null && report.unfinishedFile() != null) {
            text.append("; ").append(report.unfinishedFile()).append(':').append(report.unfinishedLine())
                    .append(" has no newline after it (a reload refuses it when rewritten in place or changing as it is read)");
        }
        return text.toString();
    }

    /** {@link NameIndex#hash(CharSequence, int)}; public for the route table, whose suffixes hash the same way. */
    public static int hash(CharSequence text, int from) {
        return NameIndex.hash(text, from);
    }

    /** {@link NameIndex#spread}; public for the route table, whose suffixes take their slots the same way. */
    public static int spread(int hash) {
        return NameIndex.spread(hash);
    }

    /** Whether {@code name[from, end)}, whose backward hash is {@code hash}, is held with {@code kind}. */
    public boolean contains(String name, int from, int hash, byte kind) {
        return index.contains(name, from, hash, kind);
    }

    /**
     * The line of the list's files that makes it match {@code name}, as {@code file:line: text},
     * or null when it does not match: the exact entry, else the longest wildcard. The files are
     * read again, so this is for a person asking ({@code snigate explain}), never for routing.
     */
    public String whereMatched(String name) {
        if (contains(name, 0, hash(name, 0), EXACT)) {
            return NameListReader.locate(this, name, EXACT);
        }
        // From the left, the first suffix held as a wildcard is the longest.
        for (int dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
            if (contains(name, dot + 1, hash(name, dot + 1), WILDCARD)) {
                return NameListReader.locate(this, name.substring(dot + 1), WILDCARD);
            }
        }
        return null;
    }

    /** The bytes held: the arena and the per-name arrays, as the benchmark reports them. */
    public long heapBytes() {
        return index.heapBytes();
    }

    @Override
    public String toString() {
        return label + " (" + size() + " names)";
    }
}
