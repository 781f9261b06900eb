package io.snigate;

import io.snigate.log.QueuedStandardError;
import io.snigate.reload.Reloader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The signals a running proxy answers: SIGTERM and SIGINT drain and stop it (a second one exits at
 * once), SIGHUP reloads the config, and one that comes while the proxy starts reloads it once
 * started.
 */
final class Signals {
    /** Main's: the lines of starting, draining and stopping keep one name in the log. */
    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    private final CountDownLatch stop = new CountDownLatch(1);
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final AtomicReference<Reloader> reloads = new AtomicReference<>();
    private final AtomicBoolean hupWhileStarting = new AtomicBoolean();

    private Signals() {}

    /** Installs the handlers, and says which signal was inherited as ignored. */
    static Signals install() {
        Signals signals = new Signals();
        SignalHandler onStop = signals::stop;
        boolean term = handle("TERM", onStop);
        boolean interrupt = handle("INT", onStop);
        boolean hangUp = handle("HUP", signals::hangUp);
        warnOfIgnoredSignals(term, interrupt, hangUp);
        return signals;
    }

    /** SIGHUP reloads with {@code reloader} from now on, and once now if one came while starting. */
    void started(Reloader reloader) {
        reloads.set(reloader);
        if (hupWhileStarting.getAndSet(false)) {
            reloader.reload("SIGHUP while starting");
        }
    }

    /** Returns once a stop signal came. */
    void awaitStop() throws InterruptedException {
        stop.await();
    }

    private void stop(Signal signal) {
        if (!stopping.compareAndSet(false, true)) {
            exitNow(signal.getName());
        }
        stop.countDown();
        LOG.info("SIG{}: draining", signal.getName());
    }

    private void hangUp(Signal signal) {
        Reloader reloader = reloads.get();
        if (reloader == null) {
            // Kept for once the proxy has started, unless it started meanwhile.
            hupWhileStarting.set(true);
            reloader = reloads.get();
            if (reloader == null || !hupWhileStarting.getAndSet(false)) {
                LOG.info("SIGHUP while the proxy starts: it reloads once started");
                return;
            }
        }
        reloader.reload("SIGHUP");
    }

    /**
     * Installs {@code handler} for signal {@code name}; false when the signal was ignored when the
     * JVM started, which keeps it ignored and installs nothing.
     */
    private static boolean handle(String name, SignalHandler handler) {
        return Signal.handle(new Signal(name), handler) != SignalHandler.SIG_IGN;
    }

    /**
     * Says at start which stop or reload signal was inherited as ignored (nohup ignores HUP; a
     * shell script's background job, INT) and what still works, instead of a signal that
     * silently does nothing.
     */
    private static void warnOfIgnoredSignals(boolean term, boolean interrupt, boolean hangUp) {
        String why = " was ignored when snigate started (nohup, or a background job of a script) and stays ignored: ";
        if (!term || !interrupt) {
            String stops = term ? "SIGTERM does" : interrupt ? "SIGINT does" : "only SIGKILL stops it, without a drain";
            if (!term) {
                LOG.warn("SIGTERM" + why + "SIGTERM does not drain and stop it; " + stops);
            }
            if (!interrupt) {
                LOG.warn("SIGINT" + why + "SIGINT does not drain and stop it; " + stops);
            }
        }
        if (!hangUp) {
            LOG.warn("SIGHUP" + why + "kill -HUP does not reload; saving the config file does, while its folder is watched");
        }
    }

    /**
     * Exits at once with status 1, on a second stop signal. The line that says so is queued
     * ({@link QueuedStandardError}) and given 100 ms to be written: a blocked standard error,
     * perhaps why the first stop is stuck, cannot hold up the exit.
     */
    private static void exitNow(String signalName) {
        LOG.warn("second SIG{}: exiting now", signalName);
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Runtime.getRuntime().halt(1);
    }
}
