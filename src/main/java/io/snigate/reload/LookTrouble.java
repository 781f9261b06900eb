package io.snigate.reload;

import io.snigate.core.SystemWords;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A look at the files for changes that the want of descriptors kept from reading them. Whether
 * they changed is then not known, so nothing is reloaded, nor counted as a failed reload: that
 * would page for the config while the trouble is the host's, which has its own alert. Said when
 * it starts and when it ends, not at every look. Called under the {@link Reloader}'s lock.
 */
final class LookTrouble {
    /** Reloader's: these are the reload's lines, named so in the log. */
    private static final Logger LOG = LoggerFactory.getLogger(Reloader.class);

    private final Path file;
    private boolean said;

    LookTrouble(Path file) {
        this.file = file;
    }

    /** A look could not read the config, for {@code cause}. */
    void configUnreadable(Throwable cause) {
        met(SystemWords.plainly(cause));
    }

    /** A look could not list the folder of a {@code match_file} glob, for {@code cause}. */
    void folderUnlistable(Throwable cause) {
        String folder = cause instanceof FileSystemException named && named.getFile() != null ? " " + named.getFile() : "";
        met("the match_file folder" + folder + " cannot be listed (" + SystemWords.plainly(cause) + ")");
    }

    private void met(String why) {
        if (!said) {
            said = true;
            LOG.warn("looking at {} for changes failed: {}; a change is reloaded once the files can be read again",
                    file, why);
        }
    }

    /** A look read the files. */
    void ended() {
        if (said) {
            said = false;
            LOG.info("{} and its lists can be read again", file);
        }
    }
}
