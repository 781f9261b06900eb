package io.snigate.reload;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The folders the {@link Reloader} watches, by path. The kernel watches a folder's inode, not its
 * path: a folder renamed over (a tool that swaps a whole list folder) or deleted and made again
 * would go on being watched, or not at all, under a path that now names another. So each folder's
 * identity is kept, and {@link #rewatchReplaced} watches again whatever its path names now. Used
 * by the reloader's threads only, under this object's lock.
 */
final class FolderWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FolderWatch.class);

    /** A watched folder: its key (null while it cannot be watched), what it was for, and the inode watched. */
    private record Watched(WatchKey key, Object identity, String forWhat) {}

    private final WatchService service;
    private final Map<Path, Watched> folders = new HashMap<>();

    private FolderWatch(WatchService service) {
        this.service = service;
    }

    /** {@link #open}, or what a test has stand for it. */
    interface Opener {
        FolderWatch open() throws IOException;
    }

    /** A watch of no folder yet; fails when the system refuses one (out of inotify instances). */
    static FolderWatch open() throws IOException {
        return new FolderWatch(FileSystems.getDefault().newWatchService());
    }

    /** Watches {@code folder} from now on, if it is not watched already; says so once when it cannot. */
    synchronized void add(Path folder, String forWhat) {
        if (!folders.containsKey(folder)) {
            folders.put(folder, watch(folder, forWhat, true));
        }
    }

    /**
     * Watches again each folder whose path names another folder now (renamed over, or made again
     * after it was deleted), or that could not be watched before and can now.
     */
    synchronized void rewatchReplaced() {
        for (Map.Entry<Path, Watched> entry : folders.entrySet()) {
            Watched watched = entry.getValue();
            Object now = identityOf(entry.getKey());
            if (now != null && (watched.key() == null || !now.equals(watched.identity()))) {
                if (watched.key() != null) {
                    watched.key().cancel();
                }
                entry.setValue(watch(entry.getKey(), watched.forWhat(), watched.key() != null));
            }
        }
    }

    /** {@code key}'s folder can no longer be watched (deleted or replaced): watched again once it is there. */
    synchronized void ended(WatchKey key) {
        folders.replaceAll((folder, watched) -> watched.key() == key
                ? new Watched(null, watched.identity(), watched.forWhat())
                : watched);
    }

    /** The folders watched, or to be watched again once they are there, in order. */
    synchronized Set<Path> folders() {
        return new TreeSet<>(folders.keySet());
    }

    /** The next folder with events, waiting up to {@code millis}; null if none came. */
    WatchKey poll(long millis) throws InterruptedException {
        return service.poll(millis, TimeUnit.MILLISECONDS);
    }

    private Watched watch(Path folder, String forWhat, boolean sayWhyNot) {
        Object identity = identityOf(folder);
        try {
            WatchKey key = folder.register(service, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
            return new Watched(key, identity, forWhat);
        } catch (IOException e) {
            if (sayWhyNot) {
                LOG.warn("cannot watch {} for changes to {} ({}): it is looked at every {} s, or reload with SIGHUP",
                        folder, forWhat, e.toString(), TimeUnit.MILLISECONDS.toSeconds(Reloader.LOOK_EVERY_MILLIS));
            }
            return new Watched(null, identity, forWhat);
        }
    }

    /** The folder's device and inode as the file system reports them, or null when there is none there. */
    private static Object identityOf(Path folder) {
        try {
            BasicFileAttributes attributes = Files.readAttributes(folder, BasicFileAttributes.class);
            return attributes.isDirectory() ? Objects.requireNonNullElse(attributes.fileKey(), folder) : null;
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public synchronized void close() throws IOException {
        service.close();
    }
}
