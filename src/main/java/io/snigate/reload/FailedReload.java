package io.snigate.reload;

import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.MatchFiles;
import io.snigate.listen.ProxyServer;
import io.snigate.metrics.ProxyMetrics;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a failed reload of the config left to retry: what the files looked like, the list the
 * failure named, when to try again, and whether the config file was found gone. A {@link Reloader}
 * keeps one and calls it only from its synchronized methods, so that this state, the reload and
 * the watched folders stay under one lock: what is compared includes the watched folders' contents.
 */
final class FailedReload {
    /** Reloader's: these are the reload's lines, named so in the log and in its tests. */
    private static final Logger LOG = LoggerFactory.getLogger(Reloader.class);
    /** How long after a reload failed on this host's trouble (an I/O error) it is tried again. */
    static final long RETRY_AFTER_IO_ERROR_NANOS = TimeUnit.SECONDS.toNanos(MatchFiles.RETRY_AFTER_IO_ERROR_SECONDS);

    private final Path file;
    private final ProxyServer server;
    private final ProxyMetrics metrics;
    /** The folders the reloader watches now; asked under its lock. */
    private final Supplier<Collection<Path>> watchedFolders;
    /**
     * What the files looked like when the last reload failed, or null when it did not fail. A
     * change in a watched folder retries only if it changed that: another writer in the folder (a
     * log written there, whose every error line would be the next attempt's event) does not.
     */
    private String failedState;
    /** The file the last failure named, when not the config itself (a list's line), else null. */
    private Path failedFile;
    /**
     * Whether the last reload failed on a list that changed after it began (a tool writing it):
     * any change in a watched folder, or a second without one, retries.
     */
    private boolean retryOnAnyChange;
    /** When a reload that failed on this host's trouble is tried again, in nanoTime; 0: none. */
    private long retryAtNanos;
    /** The config file was found gone (and said so): once it is back, it is reloaded whatever it holds. */
    private boolean configGone;

    /** {@code file}: the config file. */
    FailedReload(Path file, ProxyServer server, ProxyMetrics metrics, Supplier<Collection<Path>> watchedFolders) {
        this.file = file;
        this.server = server;
        this.metrics = metrics;
        this.watchedFolders = watchedFolders;
    }

    /** A reload begins: whatever retry was due, this is it. */
    void retryBegins() {
        retryOnAnyChange = false;
        retryAtNanos = 0;
    }

    /** A reload was applied: nothing is left to retry. */
    void cleared() {
        configGone = false;
        failedState = null;
        failedFile = null;
    }

    /** Whether the last reload failed, with no reload applied since. */
    boolean failed() {
        return failedState != null;
    }

    boolean configGone() {
        return configGone;
    }

    /**
     * A reload failed because of {@code cause}: if that is not the files' fault (out of
     * descriptors, most often), no change of theirs would come to retry it, so time does.
     */
    void retryLaterIfThisHostsTrouble(Throwable cause) {
        if (thisHostsTrouble(cause)) {
            retryAtNanos = System.nanoTime() + RETRY_AFTER_IO_ERROR_NANOS;
        }
    }

    /** An I/O error other than a file's absence, its permissions or its encoding, which the files would tell. */
    private static boolean thisHostsTrouble(Throwable cause) {
        return cause instanceof IOException && !(cause instanceof NoSuchFileException)
                && !(cause instanceof AccessDeniedException) && !(cause instanceof CharacterCodingException);
    }

    /**
     * Records what a failed reload leaves to retry on. {@code named}: the file the failure named,
     * or null; {@code text}: the config's text the attempt parsed, or null if reading it failed;
     * {@code startedMillis}: when the attempt started reading. Returns the list the failure named,
     * whose folder is then to be watched, or null.
     */
    Path record(String failure, String named, String text, long startedMillis) {
        failedFile = named == null || Path.of(named).equals(file) ? null : Path.of(named);
        // Unreadable: the reading's error stands for the text, as stateOnDisk writes it then.
        failedState = stateOnDisk(text != null ? text : failure);
        if (failedFile != null) {
            // A list changed since the attempt began (a tool writing it): the state now is not
            // what was refused, so the tool's next change, whatever it makes, retries.
            retryOnAnyChange = HalfWrittenLists.modifiedSince(failedFile, startedMillis);
        }
        return failedFile;
    }

    /** Counts the failure and logs it; {@code text} as for {@link #record}. */
    void report(String why, String failure, String text) {
        metrics.config().reloaded(false);
        if (text == null && Files.notExists(file)) {
            // Said as the look says it: the start's advice to pass another path does not apply.
            configGone = true;
            LOG.error("reload ({}) failed: {} is gone: the previous config keeps serving, and a restart would fail;"
                    + " put the file back", why, file);
            return;
        }
        LOG.error("reload ({}) failed, the previous config keeps serving: {}", why, failure);
    }

    /** A look found the config file gone; the first time, it alerts as a failed reload does. */
    void configFoundGone() {
        if (!configGone) {
            // Serving on is right, but a restart would not start: as a failed reload, it alerts.
            configGone = true;
            metrics.config().reloaded(false);
            LOG.error("{} is gone: the previous config keeps serving, and a restart would fail; put the file back", file);
        }
    }

    /**
     * Whether a retry is due whatever the files hold: a list was being written, or the wait after
     * this host's trouble is over.
     */
    boolean retryDue() {
        return retryOnAnyChange || (retryAtNanos != 0 && System.nanoTime() - retryAtNanos >= 0);
    }

    /** Whether the watch is to look again soon, or at a given time, for a retry. */
    boolean retryPending() {
        return retryOnAnyChange || retryAtNanos != 0;
    }

    /** Whether the files no longer look as they did when the last reload failed. */
    boolean filesChanged() {
        return !stateOnDisk(null).equals(failedState);
    }

    /**
     * What a retry after a failure depends on: the file the failure named (a list), the config's
     * text ({@code text}, or read now when null), the lists the running config loaded, and which
     * files the watched folders hold (a list that a glob or a name now finds).
     */
    private String stateOnDisk(String text) {
        StringBuilder state = new StringBuilder();
        if (failedFile != null) {
            state.append(MatchFiles.stamp(List.of(failedFile)));
        }
        if (text != null) {
            state.append(text);
        } else {
            try {
                state.append(ConfigLoader.readText(file));
            } catch (ConfigException e) {
                state.append(e.getMessage());
            }
        }
        server.currentConfig().nameLists().forEach(names -> state.append(MatchFiles.stamp(names.files())));
        for (Path folder : watchedFolders.get()) {
            try (Stream<Path> names = Files.list(folder)) {
                names.map(Path::getFileName).sorted().forEach(name -> state.append(name).append('/'));
            } catch (IOException e) {
                state.append(folder).append(": ").append(e.getMessage());
            }
        }
        return state.toString();
    }
}
