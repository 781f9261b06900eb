package io.snigate.config;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The names of one route's {@code match_file}, packed for a million of them: every name's bytes
 * one after another in one array (the arena), an int per name for where it starts and a byte for
 * its kind, and an open-addressing index of ints. No object per name, so a name costs its length
 * plus about 13 to 21 bytes, and the garbage collector sees a handful of arrays.
 *
 * <p>A name is held once with its kinds: {@link #EXACT} for {@code name}, {@link #WILDCARD} for
 * {@code *.name} (any name below it), both for {@code .name}. Lookups take a name and an offset
 * into it, with the hash of that suffix computed backwards from its last character ({@link #hash}),
 * so that one backward pass over a SNI name yields the hash of each of its suffixes: finding the
 * most specific entry costs one probe per label and allocates nothing.
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
    private final byte[] arena;
    /** Entry {@code i} is {@code arena[starts[i], starts[i + 1])}. */
    private final int[] starts;
    private final byte[] kinds;
    /** Entry index + 1 per slot; 0 is empty. */
    private final int[] slots;
    private final int mask;
    private final int size;
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

    /** {@code slots} is an index of exactly {@link #capacityFor}{@code (size)} already built, or null to build it. */
    NameList(String label, Path pattern, List<Path> files, String stamp, byte[] arena, int[] starts, byte[] kinds,
            int size, int[] slots, LoadReport report) {
        this.label = label;
        this.pattern = pattern;
        this.files = List.copyOf(files);
        this.stamp = stamp;
        this.arena = arena;
        this.starts = starts;
        this.kinds = kinds;
        this.size = size;
        this.report = report;
        this.slots = slots != null ? slots : new int[capacityFor(size)];
        this.mask = this.slots.length - 1;
        for (int entry = 0; slots == null && entry < size; entry++) {
            int slot = spread(hash(arena, starts[entry], starts[entry + 1])) & mask;
            while (this.slots[slot] != 0) {
                slot = (slot + 1) & mask;
            }
            this.slots[slot] = entry + 1;
        }
    }

    /** The same names with the report of their load. */
    NameList withReport(LoadReport loaded) {
        return new NameList(this, loaded);
    }

    private NameList(NameList names, LoadReport report) {
        this.label = names.label;
        this.pattern = names.pattern;
        this.files = names.files;
        this.stamp = names.stamp;
        this.arena = names.arena;
        this.starts = names.starts;
        this.kinds = names.kinds;
        this.slots = names.slots;
        this.mask = names.mask;
        this.size = names.size;
        this.report = report;
    }

    /** A power of two at least twice {@code entries}: probes stay short, misses included. */
    static int capacityFor(int entries) {
        int capacity = 2;
        while (capacity < entries * 2L) {
            capacity <<= 1;
        }
        return capacity;
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

    /** Whether the files on disk differ from those read: changed, added to the glob, or gone. */
    public boolean changedOnDisk() {
        try {
            return !MatchFiles.stamp(MatchFiles.expand(pattern)).equals(stamp);
        } catch (UncheckedIOException cannotList) {
            return true; // the reload says why
        }
    }

    /** The number of distinct names. */
    public int size() {
        return size;
    }

    public LoadReport report() {
        return report;
    }

    /** The load's one-line report: how many names, and the duplicates and covered entries if any. */
    public String summary() {
        StringBuilder text = new StringBuilder("match_file \"" + label + "\": " + size + " names from "
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

    /**
     * The hash of {@code text[from, end)}, from the last character back: {@code h = 31 * h + c}.
     * Extending a suffix one character to the left extends its hash the same way.
     */
    public static int hash(CharSequence text, int from) {
        int hash = 0;
        for (int i = text.length() - 1; i >= from; i--) {
            hash = 31 * hash + text.charAt(i);
        }
        return hash;
    }

    static int hash(byte[] bytes, int from, int end) {
        int hash = 0;
        for (int i = end - 1; i >= from; i--) {
            hash = 31 * hash + bytes[i];
        }
        return hash;
    }

    /**
     * The slot bits of a backward hash: MurmurHash3's finalizer, so that names that differ only in
     * their first characters, whose hashes differ only in their low bits, land apart rather than
     * in one run of slots that every miss nearby would walk. The route table's suffixes use it too.
     */
    public static int spread(int hash) {
        int h = hash ^ (hash >>> 16);
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        return h ^ (h >>> 16);
    }

    /** The longest run of occupied slots: what a miss may walk at most. */
    int longestProbeRun() {
        int longest = 0;
        int run = 0;
        for (int i = 0; i < slots.length * 2; i++) { // twice round: a run may wrap
            run = slots[i & mask] != 0 ? run + 1 : 0;
            longest = Math.max(longest, Math.min(run, slots.length));
        }
        return longest;
    }

    /** Whether {@code name[from, end)}, whose backward hash is {@code hash}, is held with {@code kind}. */
    public boolean contains(String name, int from, int hash, byte kind) {
        int entry = find(name, from, hash);
        return entry >= 0 && (kinds[entry] & kind) != 0;
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

    /**
     * The entry of the longest proper suffix of {@code entry}'s name that this list holds as a
     * wildcard, or -1: a wider entry that already matches everything {@code entry} matches.
     */
    int widerWildcardOf(int entry) {
        int start = starts[entry];
        int end = starts[entry + 1];
        int widest = -1;
        int hash = 0;
        for (int i = end - 1; i > start; i--) {
            byte c = arena[i];
            if (c == '.') {
                int suffix = findInArena(i + 1, end, hash);
                if (suffix >= 0 && (kinds[suffix] & WILDCARD) != 0) {
                    widest = suffix;
                }
            }
            hash = 31 * hash + c;
        }
        return widest;
    }

    private int findInArena(int from, int end, int hash) {
        for (int slot = spread(hash) & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
            int entry = slots[slot] - 1;
            if (Arrays.equals(arena, starts[entry], starts[entry + 1], arena, from, end)) {
                return entry;
            }
        }
        return -1;
    }

    /** The entry of {@code name[from, end)}, whose backward hash is {@code hash}, or -1. */
    int find(String name, int from, int hash) {
        int length = name.length() - from;
        for (int slot = spread(hash) & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
            int entry = slots[slot] - 1;
            int start = starts[entry];
            if (starts[entry + 1] - start == length && sameChars(start, name, from, length)) {
                return entry;
            }
        }
        return -1;
    }

    private boolean sameChars(int start, String name, int from, int length) {
        for (int i = 0; i < length; i++) {
            if (arena[start + i] != name.charAt(from + i)) {
                return false;
            }
        }
        return true;
    }

    /** The name of an entry, for messages. */
    String name(int entry) {
        return new String(arena, starts[entry], starts[entry + 1] - starts[entry], StandardCharsets.ISO_8859_1);
    }

    byte kinds(int entry) {
        return kinds[entry];
    }

    /** The bytes held: the arena and the per-name arrays, as the benchmark reports them. */
    public long heapBytes() {
        return arena.length + 4L * starts.length + kinds.length + 4L * slots.length;
    }

    @Override
    public String toString() {
        return label + " (" + size + " names)";
    }
}
