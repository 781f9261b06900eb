package io.snigate;

import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.MatchFiles;
import io.snigate.config.NameList;
import io.snigate.config.ProxyConfig;
import io.snigate.listen.ProxyServer;
import io.snigate.metrics.ProxyMetrics;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the config file on request (SIGHUP) and when it, or a file its {@code match_file}
 * lists name, changes on disk. The directories are watched, not the files, so that an atomic
 * rename onto a file (editors, tools that write allowlists, Kubernetes ConfigMaps swapping their
 * {@code ..data} link) is seen. A file that fails validation changes nothing: the old config keeps
 * serving, and the error goes to the log and the reload metrics.
 *
 * <p>Loading runs on the thread that asked (the watcher's, or the signal's), never on an event
 * loop: a million-name list is read and indexed while the old table keeps routing.
 */
final class Reloader implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Reloader.class);
    private static final String FILE_CHANGED = "file changed";

    private final Path file;
    private final ProxyServer server;
    private final ProxyMetrics metrics;
    private final Set<Path> watchedFolders = new HashSet<>();
    /** The text of the config now serving. */
    private String lastLoaded;
    /** The last reload failed: a file put back as it was then reloads too, and says it succeeded. */
    private boolean lastFailed;
    /**
     * Why the last reload failed. The same failure again, on a change of another file in a watched
     * folder, is neither logged nor counted again: a log written into the config's folder would
     * otherwise make each error line the event of the next attempt, an error every 200 ms.
     */
    private String lastFailure;
    private WatchService watcher;

    /** {@code running}: the text of the file that the proxy was started with. */
    Reloader(Path file, ProxyServer server, ProxyMetrics metrics, String running) {
        this.file = file;
        this.server = server;
        this.metrics = metrics;
        this.lastLoaded = running;
    }

    /** Loads the file and swaps it in if valid; returns whether it did. Runs off the event loops. */
    synchronized boolean reload(String why) {
        try {
            String text = ConfigLoader.readText(file); // read once: what is parsed is what is remembered
            ProxyConfig config = ConfigLoader.parse(text, file.toString());
            if (!server.reload(config)) {
                LOG.info("reload ({}) not applied: the proxy is draining", why);
                return false;
            }
            lastLoaded = text;
            lastFailed = false;
            lastFailure = null;
            watchListFolders(config);
            metrics.configReloaded(true);
            LOG.info("reloaded {} ({}): {} routes", file, why, config.routes().size());
            return true;
        } catch (ConfigException e) {
            failed(why, e.getMessage());
        } catch (RuntimeException e) {
            failed(why, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }

    private void failed(String why, String failure) {
        lastFailed = true;
        if (failure.equals(lastFailure) && why.equals(FILE_CHANGED)) {
            return; // told already
        }
        lastFailure = failure;
        metrics.configReloaded(false);
        LOG.error("reload ({}) failed, the previous config keeps serving: {}", why, failure);
    }

    private synchronized boolean changedOnDisk() {
        if (lastFailed) {
            return true;
        }
        try {
            return !lastLoaded.equals(ConfigLoader.readText(file))
                    || server.currentConfig().nameLists().stream().anyMatch(NameList::changedOnDisk);
        } catch (ConfigException e) {
            // Mid-rename, or gone: the next event will tell. Otherwise too large, or not text:
            // changed, and the reload says why.
            return Files.exists(file);
        }
    }

    /** Watches the folders of the config's lists too; a folder stays watched once it was. */
    private synchronized void watchListFolders(ProxyConfig config) {
        if (watcher == null) {
            return;
        }
        for (NameList names : config.nameLists()) {
            Path folder = MatchFiles.folderOf(names.pattern());
            if (watchedFolders.add(folder)) {
                try {
                    register(folder);
                } catch (IOException e) {
                    LOG.warn("cannot watch {} for changes to {}: {}; reload with SIGHUP", folder, names.label(), e.toString());
                }
            }
        }
    }

    private void register(Path folder) throws IOException {
        folder.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
    }

    /**
     * The watch on {@code folder} ended: the folder was deleted or replaced. A list's folder is
     * watched again by the next reload that loads a list from it; the config's own folder at once,
     * if it is there again.
     */
    private synchronized void watchEnded(Path folder, Path configFolder) {
        watchedFolders.remove(folder);
        if (!folder.equals(configFolder)) {
            return;
        }
        try {
            register(folder);
            watchedFolders.add(folder);
        } catch (IOException e) {
            LOG.warn("{} can no longer be watched ({}); reload with SIGHUP", folder, e.toString());
        }
    }

    /**
     * Starts a daemon thread that reloads when the file's content, or a list's, changes. If the
     * system refuses a watch (out of inotify instances, a common limit on shared hosts), the proxy
     * goes on serving and reloads on SIGHUP only: ending a proxy that already answered /readyz
     * would refuse every client over a convenience.
     */
    void watch() {
        Path dir = file.toAbsolutePath().getParent();
        WatchService watcher;
        try {
            watcher = FileSystems.getDefault().newWatchService();
        } catch (IOException e) {
            LOG.error("cannot watch {} for changes ({}): edits are applied on SIGHUP only; raise "
                    + "fs.inotify.max_user_instances to have them applied when saved", file, e.toString());
            reloadIfChangedWhileStarting();
            return;
        }
        synchronized (this) {
            this.watcher = watcher;
            try {
                register(dir);
                watchedFolders.add(dir);
            } catch (IOException e) {
                LOG.error("cannot watch {} for changes to {} ({}): edits are applied on SIGHUP only", dir, file, e.toString());
            }
        }
        watchListFolders(server.currentConfig());
        Thread thread = new Thread(() -> {
            try {
                while (true) {
                    WatchKey key = watcher.take();
                    key.pollEvents();
                    if (!key.reset()) {
                        watchEnded((Path) key.watchable(), dir);
                    }
                    // Editors write in several steps: let them finish before reading.
                    Thread.sleep(200);
                    try {
                        if (changedOnDisk()) {
                            reload(FILE_CHANGED);
                        }
                    } catch (RuntimeException e) {
                        // This thread is the only one that reloads on a change: it goes on.
                        LOG.error("watching {}: {}", file, e.toString(), e);
                    }
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                // Shutting down.
            }
        }, "snigate-config-watch");
        thread.setDaemon(true);
        thread.start();
        reloadIfChangedWhileStarting();
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
        if (watcher != null) {
            try {
                watcher.close();
            } catch (IOException e) {
                LOG.warn("closing the watch of {}: {}", file, e.toString());
            }
            watcher = null;
        }
    }
}
