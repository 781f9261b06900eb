package io.snigate.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The files a {@code match_file} names: one path, or a glob in its last part. */
public final class MatchFiles {
    /**
     * How long after a reload failed on this host's trouble (a folder that cannot be listed) it is
     * tried again, as the loader's message for that failure says.
     */
    public static final long RETRY_AFTER_IO_ERROR_SECONDS = 5;

    private MatchFiles() {}

    /**
     * The regular files {@code path} names, sorted by name; empty when there are none. Only the
     * file name is a glob: the folders are taken as they are, whatever characters they hold (the
     * config loader refuses wildcards written in them).
     *
     * @throws java.util.regex.PatternSyntaxException when the file name is not a valid glob, such
     *     as {@code [a.list}: the config loader reports it with the line of {@code match_file}
     * @throws UncheckedIOException when the folder is there but cannot be listed
     */
    public static List<Path> expand(Path path) {
        Path parent = path.getParent();
        String name = path.getFileName() == null ? "" : path.getFileName().toString();
        if (!isGlob(name)) {
            return Files.isRegularFile(path) ? List.of(path) : List.of();
        }
        List<Path> files = new ArrayList<>();
        // As a shell's glob: a hidden file (an editor's or a deploy tool's temporary copy, which
        // may hold names since removed) is matched only by a pattern that starts with a dot.
        boolean hiddenToo = name.startsWith(".");
        try (DirectoryStream<Path> matches = Files.newDirectoryStream(parent, name)) {
            for (Path match : matches) {
                if ((hiddenToo || !match.getFileName().toString().startsWith(".")) && Files.isRegularFile(match)) {
                    files.add(match);
                }
            }
        } catch (NoSuchFileException | NotDirectoryException noFolder) {
            return List.of();
        } catch (IOException e) {
            // Not the folder's absence, which a caller reports as naming no file: this host's
            // trouble (out of descriptors), which a reload tries again.
            throw new UncheckedIOException(e);
        }
        files.sort(null);
        return files;
    }

    /** The folder whose changes can change what {@code path} names or holds. */
    public static Path folderOf(Path path) {
        Path parent = path.toAbsolutePath().getParent();
        return parent == null ? path.toAbsolutePath() : parent;
    }

    /**
     * What tells a change of these files: each one's path, identity, size and modification time.
     * An atomic rename changes the identity, a write the time; a file that cannot be read says so.
     */
    public static String stamp(List<Path> files) {
        StringBuilder stamp = new StringBuilder();
        for (Path file : files) {
            stamp.append(file).append(' ');
            try {
                BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
                stamp.append(attributes.fileKey()).append(' ').append(attributes.size()).append(' ')
                        .append(attributes.lastModifiedTime().toMillis()).append(' ')
                        .append(attributes.lastModifiedTime());
            } catch (IOException e) {
                stamp.append("unreadable");
            }
            stamp.append('\n');
        }
        return stamp.toString();
    }

    /**
     * Whether two lines of {@link #stamp} name the same file, path and identity (device and
     * inode), whatever its size and time: rewritten in place rather than replaced. A line of a
     * file that could not be read names none.
     */
    public static boolean sameFile(String stampLine, String otherStampLine) {
        String identity = identity(stampLine);
        return identity != null && identity.equals(identity(otherStampLine));
    }

    /** The path and identity of a stamp line: all but its last three fields (size and two times). */
    private static String identity(String stampLine) {
        String[] fields = stampLine.trim().split(" ");
        return fields.length >= 5 ? String.join(" ", Arrays.copyOf(fields, fields.length - 3)) : null;
    }

    static boolean isGlob(String text) {
        return text.indexOf('*') >= 0 || text.indexOf('?') >= 0 || text.indexOf('[') >= 0 || text.indexOf('{') >= 0;
    }
}
