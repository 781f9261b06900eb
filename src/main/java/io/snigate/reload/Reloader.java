package io.snigate.reload;

import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.MatchFiles;
import io.snigate.config.NameList;
import io.snigate.config.ProxyConfig;
import io.snigate.core.SystemWords;
import io.snigate.listen.ProxyServer;
import io.snigate.metrics.ProxyMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.WatchKey;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the config file on request (SIGHUP) and when it, or a file its {@code match_file}
 * lists name, changes on disk. The directories are watched, not the files, so that an atomic
 * rename onto a file (editors, tools that write allowlists, Kubernetes ConfigMaps swapping their
 * {@code ..data} link) is seen. The files are also looked at every {@link #LOOK_EVERY_MILLIS}:
 * what no watched folder tells of (a list that is a link into another folder, a folder that could
 * not be watched) is seen then. A file that fails validation changes nothing: the old config keeps
 * serving, and the error goes to the log and the reload metrics.
 *
 * <p>Loading runs on the thread that asked (the watcher's, or the signal's), never on an event
 * loop: a million-name list is read and indexed while the old table keeps routing.
 *
 * <p>A reload, what a failed one left to retry ({@link FailedReload}: what the files looked like,
 * the list it named, a deleted config) and the folders the watch looks at ({@link FolderWatch})
 * are one state under this object's lock, taken by the signal's thread and the watcher's: each
 * depends on the others (a retry compares the watched folders' contents). The look's choice among
 * them ({@link #changedOnDisk}), with {@link LookTrouble}, keeps it a little over 300 lines.
 */
public final class Reloader implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Reloader.class);
    /** How often the files are looked at when no folder has told of a change. */
    static final long LOOK_EVERY_MILLIS = 5_000;

    private final Path file;
    private final ProxyServer server;
    private final ProxyMetrics metrics;
    /** The text of the config now serving. */
    private String lastLoaded;
    /** What the last failed reload left to retry; used under this object's lock. */
    private final FailedReload lastFailure;
    private final LookTrouble lookTrouble;
    /**
     * Runs once a reload has read lists without a final newline, before it waits, or has failed,
     * before it records why: where a tool's write lands between the read and the verdict. For tests.
     */
    Runnable afterListsRead = () -> {};
    /** {@link #LOOK_EVERY_MILLIS}, shorter in tests. */
    long lookEveryMillis = LOOK_EVERY_MILLIS;
    /** How the watch is made; a test's refuses, as a system out of inotify instances does. */
    FolderWatch.Opener openWatch = FolderWatch::open;
    private FolderWatch watch;
    /** The thread that watches and looks, once started. */
    private Thread looking;
    /** How many times that thread has looked at the files; for tests, which wait for looks. */
    private final AtomicInteger looks = new AtomicInteger();

    /** {@code running}: the text of the file that the proxy was started with. */
    public Reloader(Path file, ProxyServer server, ProxyMetrics metrics, String running) {
        this.file = file;
        this.server = server;
        this.metrics = metrics;
        this.lastLoaded = running;
        this.lastFailure = new FailedReload(file, server, metrics, this::watchedFolders);
        this.lookTrouble = new LookTrouble(file);
    }

    /** Loads the file and swaps it in if valid; returns whether it did. Runs off the event loops. */
    public synchronized boolean reload(String why) {
        String text = null;
        lastFailure.retryBegins();
        long startedMillis = System.currentTimeMillis();
        try {
            text = ConfigLoader.readText(file); // read once: what is parsed is what is remembered
            ProxyConfig config = ConfigLoader.parse(text, file.toString());
            HalfWrittenLists.refuse(config, server.currentConfig().nameLists(), afterListsRead);
            if (!server.reload(config)) {
                LOG.info("reload ({}) not applied: the proxy is draining", why);
                return false;
            }
            lastLoaded = text;
            lastFailure.cleared();
            watchListFolders(config);
            metrics.config().reloaded(true);
            LOG.info("reloaded {} ({}): {} routes", file, why, config.routes().size());
            return true;
        } catch (ConfigException e) {
            afterListsRead.run();
            lastFailure.retryLaterIfThisHostsTrouble(e.getCause());
            failed(why, e.getMessage(), e.file(), text, startedMillis);
        } catch (OutOfMemoryError e) {
            // A list too big for the heap: the previous config keeps serving, and this thread
            // (the watch's, or SIGHUP's) goes on. Under the launcher the JVM exits instead.
            failed(why, "not enough heap to load it (" + e.getMessage() + "); give the JVM more (-Xmx, or"
                    + " SNIGATE_MEMORY=large with the launcher): about 60 bytes a name", null, text, startedMillis);
        } catch (RuntimeException e) {
            failed(why, e.toString(), null, text, startedMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }

    /** {@code text} and {@code startedMillis} as for {@link FailedReload#record}. */
    private void failed(String why, String failure, String named, String text, long startedMillis) {
        Path list = lastFailure.record(failure, named, text, startedMillis);
        if (list != null) {
            watchFolderOf(list);
        }
        lastFailure.report(why, failure, text);
    }

    private synchronized boolean changedOnDisk() {
        String text = null;
        try {
            text = ConfigLoader.readText(file);
        } catch (ConfigException e) {
            if (SystemWords.outOfDescriptors(e.getCause())) {
                lookTrouble.configUnreadable(e.getCause()); // whether anything changed is not known: the next look asks
                return false;
            }
        }
        try {
            boolean changed;
            if (lastFailure.retryDue()) {
                changed = true;
            } else if (lastFailure.failed()) {
                changed = lastFailure.filesChanged();
            } else if (text == null && Files.notExists(file)) {
                lastFailure.configFoundGone();
                changed = false;
            } else {
                // Unreadable but there, or not known to be absent (a folder not searchable): the reload says why.
                changed = text == null || lastFailure.configGone() || !lastLoaded.equals(text)
                        || server.currentConfig().nameLists().stream().anyMatch(NameList::changedOnDisk);
            }
            lookTrouble.ended();
            return changed;
        } catch (UncheckedIOException listsFolder) {
            if (SystemWords.outOfDescriptors(listsFolder.getCause())) {
                lookTrouble.folderUnlistable(listsFolder.getCause());
                return false;
            }
            return true; // the reload says why
        }
    }

    /** The folders watched now, none without a watch; called under this object's lock. */
    private Collection<Path> watchedFolders() {
        return watch == null ? List.of() : watch.folders();
    }

    /**
     * Watches the folders of the config's lists too (a folder stays watched once it was), and
     * again each folder replaced since it was watched: a reload follows a folder renamed over.
     */
    private synchronized void watchListFolders(ProxyConfig config) {
        if (watch == null) {
            return;
        }
        for (NameList names : config.nameLists()) {
            watch.add(MatchFiles.folderOf(names.pattern()), names.label());
        }
        watch.rewatchReplaced();
    }

    /**
     * Watches the folder of a list a reload failed on, if there is one: a list added by the
     * failed config, in a folder not watched yet, is then reloaded when it changes.
     */
    private synchronized void watchFolderOf(Path list) {
        Path folder = list.toAbsolutePath().getParent();
        if (watch != null && folder != null && Files.isDirectory(folder)) {
            watch.add(folder, list.toString());
        }
    }

    /** Events of {@code key}'s folder were taken; a folder deleted or replaced is watched again once it is there. */
    private synchronized void eventsTaken(WatchKey key) {
        if (!key.reset() && watch != null) {
            watch.ended(key);
            watch.rewatchReplaced();
        }
    }

    /**
     * Starts a daemon thread that reloads when the file's content, or a list's, changes. If the
     * system refuses a watch (out of inotify instances, a common limit on shared hosts), the proxy
     * goes on serving and reloads on SIGHUP only: ending a proxy that already answered /readyz
     * would refuse every client over a convenience.
     */
    public void watch() {
        Path dir = file.toAbsolutePath().getParent();
        FolderWatch opened = null;
        try {
            opened = openWatch.open();
        } catch (IOException e) {
            LOG.error("cannot watch {} for changes ({}): edits are applied within {} s, or at once on SIGHUP; raise "
                    + "fs.inotify.max_user_instances to have them applied when saved", file, e.toString(),
                    TimeUnit.MILLISECONDS.toSeconds(lookEveryMillis));
        }
        FolderWatch watch = opened;
        if (watch != null) {
            synchronized (this) {
                this.watch = watch;
                watch.add(dir, file.toString());
            }
            watchListFolders(server.currentConfig());
        }
        Thread thread = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    // After a refusal of a list being written, a second goes by as a change: the
                    // tool's last write may have come before its folder was watched.
                    long wait = retryPending() ? 1_000 : lookEveryMillis;
                    if (watch == null) {
                        Thread.sleep(wait); // no watch: the look alone
                    } else {
                        WatchKey key = watch.poll(wait);
                        if (key != null) {
                            key.pollEvents();
                            eventsTaken(key);
                        }
                        settle(watch);
                    }
                    try {
                        rewatchReplaced();
                        if (changedOnDisk()) {
                            reload("file changed");
                        }
                        looks.incrementAndGet();
                    } catch (RuntimeException e) {
                        // This thread is the only one that reloads on a change: it goes on.
                        LOG.error("watching {} went on after an unexpected error: {}", file, e.toString(), e);
                    }
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                // Shutting down.
            }
        }, "snigate-config-watch");
        thread.setDaemon(true);
        synchronized (this) {
            looking = thread;
        }
        thread.start();
        reloadIfChangedWhileStarting();
    }

    private synchronized void rewatchReplaced() {
        if (watch != null) {
            watch.rewatchReplaced();
        }
    }

    int looksTaken() {
        return looks.get();
    }

    private synchronized boolean retryPending() {
        return lastFailure.retryPending();
    }

    /**
     * Waits until no change has come for 200 ms, for 2 s at most: editors and tools write in
     * several steps, and a file read between two of them is read half-written.
     */
    private void settle(FolderWatch watch) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        WatchKey more;
        while (System.nanoTime() < deadline && (more = watch.poll(200)) != null) {
            more.pollEvents();
            eventsTaken(more);
        }
    }

    /** A change made while the proxy started came before any watch could see it. */
    private void reloadIfChangedWhileStarting() {
        if (changedOnDisk()) {
            reload("changed while starting");
        }
    }

    /** Stops watching; the watching thread ends. SIGHUP still reloads. */
    @Override
    public synchronized void close() {
        if (looking != null) {
            looking.interrupt();
            looking = null;
        }
        if (watch != null) {
            try {
                watch.close();
            } catch (IOException e) {
                LOG.warn("closing the watch of {}: {}", file, e.toString());
            }
            watch = null;
        }
    }
}
