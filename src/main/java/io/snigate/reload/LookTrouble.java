package io.snigate.reload;

import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A look at the files for changes that this host's trouble (out of descriptors, most often) kept
 * from reading them. Whether they changed is then not known, so nothing is reloaded, nor counted
 * as a failed reload: that would page for the config while the trouble is the host's, which has
 * its own alert. Said when it starts and when it ends, not at every look.
 */
final class LookTrouble {
    /** Reloader's: these are the reload's lines, named so in the log. */
    private static final Logger LOG = LoggerFactory.getLogger(Reloader.class);

    private final Path file;
    private boolean said;

    LookTrouble(Path file) {
        this.file = file;
    }

    /** A look could not read the files, for {@code why}. */
    void met(String why) {
        if (!said) {
            said = true;
            LOG.warn("looking at {} for changes failed ({}); a change is reloaded once the files can be read again",
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
