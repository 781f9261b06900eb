package io.snigate.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * Fails a test class when Netty's leak detector reports a leaked buffer during it; registered for
 * every test class, as {@link PipelineTails} is. The surefire
 * configuration runs every test with the detector at PARANOID, which tracks every buffer; a leak
 * is reported when the leaked buffer is garbage-collected, so this collects garbage and allocates
 * a few buffers (which is when reports are made) before it looks.
 */
public final class NettyLeaks implements BeforeAllCallback, AfterAllCallback {
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();
    private static final Collector COLLECTOR = new Collector();

    static {
        // The integration tests' logger is slf4j-simple: their proxies are processes of their own,
        // whose output the tests check.
        if (LoggerFactory.getLogger(ResourceLeakDetector.class) instanceof Logger logger) {
            COLLECTOR.setContext(logger.getLoggerContext());
            COLLECTOR.start();
            logger.addAppender(COLLECTOR);
            logger.setLevel(Level.ERROR);
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        if (!LEAKS.isEmpty()) {
            List<String> before = List.copyOf(LEAKS);
            LEAKS.clear();
            throw new AssertionError("Netty reported " + before.size() + " leaked buffer(s) after the last class ended:\n"
                    + String.join("\n\n", before));
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
            for (int j = 0; j < 64; j++) {
                ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(16);
                probe.release();
            }
        }
        if (!LEAKS.isEmpty()) {
            List<String> found = List.copyOf(LEAKS);
            LEAKS.clear();
            throw new AssertionError("Netty reported " + found.size() + " leaked buffer(s):\n" + String.join("\n\n", found));
        }
    }

    private static final class Collector extends AppenderBase<ILoggingEvent> {
        @Override
        protected void append(ILoggingEvent event) {
            if (event.getFormattedMessage().contains("LEAK")) {
                LEAKS.add(event.getFormattedMessage());
            }
        }
    }
}
