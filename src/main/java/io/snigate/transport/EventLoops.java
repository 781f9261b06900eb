package io.snigate.transport;

import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Stopping event loops so that what they were closing finishes first, within a bound. */
public final class EventLoops {
    private static final Logger LOG = LoggerFactory.getLogger(EventLoops.class);
    /** How long a stopping event loop must have had no new task before it ends. */
    public static final long QUIET_PERIOD_MILLIS = 100;

    private EventLoops() {}

    /**
     * Stops {@code loops}, waiting a bounded time: a loop stuck in a task must not keep a stopping
     * proxy alive (Main exits the JVM after close), and the warning says which loops it left. The
     * quiet period lets the closes just asked for finish first: on io_uring a channel's close waits
     * for the ring to confirm its cancelled operations, and one finished by the loop's last cleanup
     * can no longer deregister (Netty warns, with a stack trace).
     *
     * @return whether they stopped within {@code wait}
     */
    public static boolean stop(EventLoopGroup loops, String name, Duration wait) {
        if (loops.shutdownGracefully(QUIET_PERIOD_MILLIS, 2_000, TimeUnit.MILLISECONDS).awaitUninterruptibly(wait.toMillis())) {
            return true;
        }
        LOG.warn("the {} event loops did not stop within {} ms; stopping without them", name, wait.toMillis());
        return false;
    }
}
