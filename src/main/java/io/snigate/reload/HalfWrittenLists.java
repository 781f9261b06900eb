package io.snigate.reload;

import io.snigate.config.ConfigException;
import io.snigate.config.MatchFiles;
import io.snigate.config.NameList;
import io.snigate.config.ProxyConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What a reload can tell of a {@code match_file} a tool is writing in place: a last name with no
 * newline after it that changes right after it was read, and a file changed since the reload
 * began. A name cut short can be a wider one (a {@code *.example.co} of a {@code *.example.com}).
 */
final class HalfWrittenLists {
    /** How long a list without a final newline must stay unchanged after it was read. */
    static final long QUIET_MILLIS = 300;
    /** A file's modification time comes from a clock that ticks every few milliseconds. */
    private static final long MTIME_SLACK_MILLIS = 20;

    private HalfWrittenLists() {}

    /**
     * Refuses a list of {@code config} whose last name has no newline after it and whose file
     * was rewritten in place since the {@code running} config read it (a tool may be anywhere in
     * it, paused in the middle of a name), or changes in the {@link #QUIET_MILLIS} after it was
     * read. A finished list without a final newline, renamed into place or unchanged, loads.
     * Waits on the reloading thread, never an event loop; {@code afterRead} runs before the wait
     * (a test's write lands there).
     */
    static void refuse(ProxyConfig config, List<NameList> running, Runnable afterRead)
            throws ConfigException, InterruptedException {
        List<NameList> unfinished = config.nameLists().stream()
                .filter(names -> names.report().unfinishedFile() != null).toList();
        if (unfinished.isEmpty()) {
            return;
        }
        for (NameList names : unfinished) {
            NameList.LoadReport report = names.report();
            if (rewrittenInPlace(names.stampOf(report.unfinishedFile()), report.unfinishedFile(), running)) {
                throw new ConfigException(report.unfinishedFile().toString(), report.unfinishedLine(),
                        "has no newline after its last name and was rewritten in place: a tool writing it may"
                                + " have stopped in the middle of a name. End the file with a newline, or write it"
                                + " elsewhere and rename it into place");
            }
        }
        afterRead.run();
        Thread.sleep(QUIET_MILLIS);
        for (NameList names : unfinished) {
            NameList.LoadReport report = names.report();
            if (names.changedOnDisk(report.unfinishedFile())) {
                throw new ConfigException(report.unfinishedFile().toString(), report.unfinishedLine(),
                        "has no newline after its last name and changed while it was read: it is being"
                                + " written; its next change, or SIGHUP, reloads again. A tool should write"
                                + " the list elsewhere and rename it into place");
            }
        }
    }

    /**
     * Whether {@code file}, read as {@code read}, is the very file (path and inode) a running list
     * read, with another size or time since: rewritten in place rather than renamed into place.
     */
    private static boolean rewrittenInPlace(String read, Path file, List<NameList> running) {
        for (NameList names : running) {
            String then = names.stampOf(file);
            if (then != null && !then.equals(read) && MatchFiles.sameFile(then, read)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code file} changed since {@code millis} (by the file system's coarse clock), or is gone. */
    static boolean modifiedSince(Path file, long millis) {
        try {
            return Files.getLastModifiedTime(file).toMillis() >= millis - MTIME_SLACK_MILLIS;
        } catch (IOException e) {
            return true;
        }
    }
}
