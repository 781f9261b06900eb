package io.snigate.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Reads the files of a {@code match_file} into a {@link NameList}: one name a line, in the forms
 * of {@code match} ({@code name}, {@code *.suffix}) and of Squid, nginx and AWS Network Firewall
 * lists ({@code .suffix}, the apex and every name below it); {@code #} starts a comment, blank
 * lines are skipped. A line that is not a name stops the load with its file and line. Repeated
 * entries, and entries a wider entry of the list already matches, are counted for one report.
 *
 * <p>A million names are read from their bytes without an object per name that outlives its line.
 */
final class NameListReader {
    /** Far above a million names (about 25 MiB); keeps a wrong path from filling the heap. */
    static final long MAX_FILE_BYTES = 256L << 20;

    /** One parsed line: the normalized name and its kinds, or null for a blank or comment line. */
    record Entry(String name, byte kinds, String written) {}

    private final String label;
    private byte[] arena = new byte[0];
    private int arenaSize;
    private int[] starts = new int[1];
    private byte[] kinds = new byte[0];
    /** Where each entry was first written, for the report: file index and line. */
    private int[] files = new int[0];
    private int[] lines = new int[0];
    private int size;
    private int[] index = new int[2];
    private int duplicates;
    private String firstDuplicate;

    private NameListReader(String label) {
        this.label = label;
    }

    /**
     * Reads {@code paths}, in order, into the names of the {@code match_file} written as {@code label}.
     *
     * @throws ConfigException naming the list file and line of a bad entry, or the file that cannot be read
     */
    static NameList read(String label, Path pattern, List<Path> paths) throws ConfigException {
        NameListReader reader = new NameListReader(label);
        // Taken before reading: a change while reading then shows as a change after the load.
        String stamp = MatchFiles.stamp(paths);
        byte[][] contents = new byte[paths.size()][];
        long totalBytes = 0;
        int maxEntries = 0;
        for (int i = 0; i < paths.size(); i++) {
            contents[i] = readFile(paths.get(i));
            totalBytes += contents[i].length;
            maxEntries += lineCount(contents[i]);
        }
        reader.presize(totalBytes, maxEntries);
        for (int i = 0; i < paths.size(); i++) {
            reader.readLines(paths.get(i), i, contents[i]);
            contents[i] = null;
        }
        return reader.finish(pattern, paths, stamp);
    }

    private static byte[] readFile(Path path) throws ConfigException {
        try {
            if (Files.size(path) > MAX_FILE_BYTES) {
                throw new ConfigException(path.toString(), 0, "is larger than the 256 MiB a match_file may have");
            }
            return Files.readAllBytes(path);
        } catch (IOException e) {
            throw new ConfigException(path.toString(), 0, "cannot be read: " + e.getMessage()
                    + "; the proxy's user must be able to read every file match_file names", e);
        }
    }

    private static int lineCount(byte[] bytes) {
        int lines = 1;
        for (byte b : bytes) {
            if (b == '\n') {
                lines++;
            }
        }
        return lines;
    }

    private void presize(long totalBytes, int maxEntries) {
        arena = new byte[(int) Math.min(Integer.MAX_VALUE - 16, totalBytes)];
        starts = new int[maxEntries + 1];
        kinds = new byte[maxEntries];
        files = new int[maxEntries];
        lines = new int[maxEntries];
        index = new int[NameList.capacityFor(maxEntries)];
    }

    private void readLines(Path path, int file, byte[] bytes) throws ConfigException {
        forEachLine(bytes, (from, end, line) -> {
            Entry entry = parse(bytes, from, end, path, line);
            if (entry != null) {
                add(entry, path, file, line);
            }
            return true;
        });
    }

    /** Told of each line of a file: its bytes {@code [from, end)} and its number; false stops. */
    private interface LineVisitor {
        boolean visit(int from, int end, int line) throws ConfigException;
    }

    private static void forEachLine(byte[] bytes, LineVisitor visitor) throws ConfigException {
        int line = 0;
        for (int from = 0; from <= bytes.length; ) {
            int end = from;
            while (end < bytes.length && bytes[end] != '\n') {
                end++;
            }
            if (!visitor.visit(from, end, ++line)) {
                return;
            }
            from = end + 1;
        }
    }

    /**
     * Parses one line: the name it holds with its kinds, or null for a blank or comment line.
     *
     * @throws ConfigException when the line holds something that is not a name
     */
    static Entry parse(byte[] bytes, int from, int end, Path path, int line) throws ConfigException {
        for (int i = from; i < end; i++) {
            if (bytes[i] == '#') {
                end = i;
                break;
            }
        }
        while (from < end && isBlank(bytes[from])) {
            from++;
        }
        while (end > from && isBlank(bytes[end - 1])) {
            end--;
        }
        if (from == end) {
            return null;
        }
        String written = new String(bytes, from, end - from, StandardCharsets.ISO_8859_1);
        for (int i = from; i < end; i++) {
            if (isBlank(bytes[i])) {
                throw new ConfigException(path.toString(), line, "\"" + printable(written)
                        + "\": one name a line; start a comment with #");
            }
        }
        try {
            if (written.startsWith(".")) {
                String apex = written.substring(1);
                if (apex.startsWith(".") || apex.startsWith("*")) {
                    throw new IllegalArgumentException("write \".example.com\" for a name and all below it");
                }
                return new Entry(Route.normalizePattern(apex), (byte) (NameList.EXACT | NameList.WILDCARD), written);
            }
            String pattern = Route.normalizePattern(written);
            return Route.isWildcard(pattern)
                    ? new Entry(pattern.substring(Route.WILDCARD_PREFIX.length()), NameList.WILDCARD, written)
                    : new Entry(pattern, NameList.EXACT, written);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(path.toString(), line, "\"" + printable(written) + "\": " + e.getMessage()
                    + "; a line is a name, *.suffix (every name below it) or .suffix (the name and all below it)");
        }
    }

    private static boolean isBlank(byte b) {
        return b == ' ' || b == '\t' || b == '\r';
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

    private void add(Entry entry, Path path, int file, int line) {
        String name = entry.name();
        int start = arenaSize;
        for (int i = 0; i < name.length(); i++) {
            arena[arenaSize++] = (byte) name.charAt(i);
        }
        int hash = NameList.hash(arena, start, arenaSize);
        int slot = NameList.spread(hash) & (index.length - 1);
        for (; index[slot] != 0; slot = (slot + 1) & (index.length - 1)) {
            int other = index[slot] - 1;
            if (Arrays.equals(arena, starts[other], starts[other + 1], arena, start, arenaSize)) {
                arenaSize = start;
                if ((kinds[other] & entry.kinds()) == entry.kinds()) {
                    if (duplicates++ == 0) {
                        firstDuplicate = path + ":" + line + ": " + entry.written();
                    }
                } else {
                    kinds[other] |= entry.kinds();
                }
                return;
            }
        }
        index[slot] = size + 1;
        kinds[size] = entry.kinds();
        files[size] = file;
        lines[size] = line;
        starts[++size] = arenaSize;
    }

    private NameList finish(Path pattern, List<Path> paths, String stamp) {
        NameList list = new NameList(label, pattern, paths, stamp, Arrays.copyOf(arena, arenaSize), Arrays.copyOf(starts, size + 1),
                Arrays.copyOf(kinds, size), size, null);
        int covered = 0;
        String firstCovered = null;
        for (int entry = 0; entry < size; entry++) {
            int wider = widerEntry(list, entry);
            if (wider >= 0 && covered++ == 0) {
                firstCovered = paths.get(files[entry]) + ":" + lines[entry] + ": " + written(list, entry)
                        + " (already matched by " + written(list, wider) + " at " + paths.get(files[wider]) + ":"
                        + lines[wider] + ")";
            }
        }
        return list.withReport(new NameList.LoadReport(duplicates, firstDuplicate, covered, firstCovered));
    }

    /** The entry of a proper suffix of {@code entry} that matches every name below it, or -1. */
    private static int widerEntry(NameList list, int entry) {
        String name = list.name(entry);
        int suffix = list.wildcardSuffixOf(name);
        return suffix < 0 ? -1 : list.find(name, suffix, NameList.hash(name, suffix));
    }

    /** The first line of {@code list}'s files that holds {@code name} with {@code kind}, as {@code file:line: text}. */
    static String locate(NameList list, String name, byte kind) {
        for (Path path : list.files()) {
            String[] found = new String[1];
            try {
                byte[] bytes = Files.readAllBytes(path);
                forEachLine(bytes, (from, end, line) -> {
                    Entry entry = parseIfValid(bytes, from, end, path, line);
                    if (entry != null && entry.name().equals(name) && (entry.kinds() & kind) != 0) {
                        found[0] = path + ":" + line + ": " + entry.written();
                        return false;
                    }
                    return true;
                });
            } catch (IOException | ConfigException e) {
                return path + ": cannot be read now: " + e.getMessage();
            }
            if (found[0] != null) {
                return found[0];
            }
        }
        return list.label() + ": the matching entry is no longer in the files (they changed after the load)";
    }

    /** {@link #parse}, with a line that is not a name (the file changed since it was loaded) as null. */
    private static Entry parseIfValid(byte[] bytes, int from, int end, Path path, int line) {
        try {
            return parse(bytes, from, end, path, line);
        } catch (ConfigException changedSinceLoaded) {
            return null;
        }
    }

    private static String written(NameList list, int entry) {
        byte kinds = list.kinds(entry);
        String name = list.name(entry);
        return kinds == NameList.EXACT ? name : kinds == NameList.WILDCARD ? Route.WILDCARD_PREFIX + name : "." + name;
    }
}
