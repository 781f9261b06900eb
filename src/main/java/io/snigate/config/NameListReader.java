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
 * <p>A million names load in well under two seconds: a line already in normal form (lower case,
 * no trailing dot) is checked in place ({@link NameListLine}) and copied into the arena, with no
 * object made for it; only other lines go through {@link Route#normalizePattern}, which also words
 * the errors.
 */
final class NameListReader {
    /**
     * Far above a million names (about 20 MiB), for all the files of a {@code match_file}
     * together; keeps a wrong path from filling the heap.
     */
    static final long MAX_FILE_BYTES = 256L << 20;
    /** Ten times the million names measured; a list's arrays are sized for its names up front. */
    static final int MAX_NAMES = 10_000_000;
    /** EF BB BF, read one char per byte. */
    private static final String UTF8_BOM = "\u00ef\u00bb\u00bf";

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
    private Path unfinishedFile;
    private int unfinishedLine;

    private NameListReader(String label) {
        this.label = label;
    }

    /**
     * Reads {@code paths}, in order, into the names of the {@code match_file} written as
     * {@code label}, whose resolved path (a glob, maybe) is {@code pattern}.
     *
     * @throws ConfigException naming the list file and line of a bad entry, or the file that cannot be read
     */
    static NameList read(String label, Path pattern, List<Path> paths) throws ConfigException {
        NameListReader reader = new NameListReader(label);
        // Taken before reading: a change while reading then shows as a change after the load.
        String stamp = MatchFiles.stamp(paths);
        String[] texts = new String[paths.size()];
        long totalChars = 0;
        long maxEntries = 0;
        for (int i = 0; i < paths.size(); i++) {
            texts[i] = readFile(paths.get(i), MAX_FILE_BYTES - totalChars);
            totalChars += texts[i].length();
            maxEntries += linesWithText(texts[i]);
            if (maxEntries > MAX_NAMES) {
                throw new ConfigException(paths.get(i).toString(), 0, "brings the names of match_file \"" + label
                        + "\" over " + MAX_NAMES + "; split them among routes, or check the path");
            }
        }
        reader.presize(totalChars, (int) maxEntries);
        for (int i = 0; i < paths.size(); i++) {
            reader.readLines(paths.get(i), i, texts[i]);
            texts[i] = null;
        }
        return reader.finish(pattern, paths, stamp);
    }

    /**
     * The file as text, one char per byte: a name is ASCII, and anything else is reported as bytes.
     * {@code room}: what is left of the list's {@link #MAX_FILE_BYTES}.
     */
    private static String readFile(Path path, long room) throws ConfigException {
        try {
            if (Files.size(path) > room) {
                throw new ConfigException(path.toString(), 0, "brings its match_file over the 256 MiB that all"
                        + " the files of a match_file may hold together");
            }
            String text = new String(Files.readAllBytes(path), StandardCharsets.ISO_8859_1);
            // A UTF-8 byte-order mark, as some editors write: no part of the first name.
            return text.startsWith(UTF8_BOM) ? text.substring(UTF8_BOM.length()) : text;
        } catch (IOException e) {
            throw new ConfigException(path.toString(), 0, "cannot be read: " + e.getMessage()
                    + "; the proxy's user must be able to read every file match_file names", e);
        }
    }

    /**
     * The lines of {@code text} with something before any {@code #} other than blanks: at least
     * as many as the names it holds, and no more room is taken for blank and comment lines.
     */
    private static long linesWithText(String text) {
        long lines = 0;
        boolean hasText = false;
        boolean inComment = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\n') {
                lines += hasText ? 1 : 0;
                hasText = false;
                inComment = false;
            } else if (c == '#') {
                inComment = true;
            } else if (!inComment && c != ' ' && c != '\t' && c != '\r') {
                hasText = true;
            }
        }
        return lines + (hasText ? 1 : 0);
    }

    private void presize(long totalChars, int maxEntries) {
        arena = new byte[(int) Math.min(Integer.MAX_VALUE - 16, totalChars)];
        starts = new int[maxEntries + 1];
        kinds = new byte[maxEntries];
        files = new int[maxEntries];
        lines = new int[maxEntries];
        index = new int[NameIndex.capacityFor(maxEntries)];
    }

    private void readLines(Path path, int file, String text) throws ConfigException {
        NameListLine parsed = new NameListLine();
        NameListLine.forEachLine(text, (from, end, line) -> {
            if (parsed.parse(text, from, end, path, line)) {
                add(text, parsed, path, file, line);
                if (end == text.length() && unfinishedFile == null) {
                    unfinishedFile = path;
                    unfinishedLine = line;
                }
            }
            return true;
        });
    }

    private void add(String text, NameListLine parsed, Path path, int file, int line) {
        int start = arenaSize;
        if (parsed.normalized == null) {
            for (int i = parsed.from; i < parsed.to; i++) {
                arena[arenaSize++] = (byte) text.charAt(i);
            }
        } else {
            for (int i = 0; i < parsed.normalized.length(); i++) {
                arena[arenaSize++] = (byte) parsed.normalized.charAt(i);
            }
        }
        int hash = NameIndex.hash(arena, start, arenaSize);
        int slot = NameIndex.spread(hash) & (index.length - 1);
        for (; index[slot] != 0; slot = (slot + 1) & (index.length - 1)) {
            int other = index[slot] - 1;
            if (Arrays.equals(arena, starts[other], starts[other + 1], arena, start, arenaSize)) {
                arenaSize = start;
                if ((kinds[other] & parsed.kinds) == parsed.kinds) {
                    if (duplicates++ == 0) {
                        firstDuplicate = path + ":" + line + ": " + parsed.written(text);
                    }
                } else {
                    kinds[other] |= parsed.kinds;
                }
                return;
            }
        }
        index[slot] = size + 1;
        kinds[size] = parsed.kinds;
        files[size] = file;
        lines[size] = line;
        starts[++size] = arenaSize;
    }

    private NameList finish(Path pattern, List<Path> paths, String stamp) {
        // The index built while reading serves as it is when its size fits the names read.
        int[] slots = index.length == NameIndex.capacityFor(size) ? index : null;
        NameIndex names = new NameIndex(Arrays.copyOf(arena, arenaSize), Arrays.copyOf(starts, size + 1),
                Arrays.copyOf(kinds, size), size, slots);
        int covered = 0;
        String firstCovered = null;
        for (int entry = 0; entry < size; entry++) {
            int wider = names.widerWildcardOf(entry);
            if (wider >= 0 && covered++ == 0) {
                firstCovered = paths.get(files[entry]) + ":" + lines[entry] + ": " + written(names, entry)
                        + " (already matched by " + written(names, wider) + " at " + paths.get(files[wider]) + ":"
                        + lines[wider] + ")";
            }
        }
        return new NameList(label, pattern, paths, stamp, names, new NameList.LoadReport(duplicates, firstDuplicate,
                covered, firstCovered, unfinishedFile, unfinishedLine));
    }

    private static String written(NameIndex names, int entry) {
        byte kinds = names.kinds(entry);
        String name = names.name(entry);
        return kinds == NameList.EXACT ? name : kinds == NameList.WILDCARD ? Route.WILDCARD_PREFIX + name : "." + name;
    }

    /** The first line of {@code list}'s files that holds {@code name} with {@code kind}, as {@code file:line: text}. */
    static String locate(NameList list, String name, byte kind) {
        for (Path path : list.files()) {
            String[] found = new String[1];
            try {
                String text = readFile(path, MAX_FILE_BYTES);
                NameListLine parsed = new NameListLine();
                NameListLine.forEachLine(text, (from, end, line) -> {
                    if (parsed.parseIfValid(text, from, end, path, line) && parsed.name(text).equals(name)
                            && (parsed.kinds & kind) != 0) {
                        found[0] = path + ":" + line + ": " + parsed.written(text);
                        return false;
                    }
                    return true;
                });
            } catch (ConfigException e) {
                return path + ": cannot be read now: " + e.getMessage();
            }
            if (found[0] != null) {
                return found[0];
            }
        }
        return list.label() + ": the matching entry is no longer in the files (they changed after the load)";
    }

}
