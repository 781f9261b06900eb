package io.snigate.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import io.netty.channel.DefaultChannelPipeline;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * Fails a test class when an exception reached the tail of a Netty pipeline while it ran: no
 * handler took it, and Netty only logged a warning. Every stage of snigate handles what can go
 * wrong in it, so such a warning is a bug even when the test's own assertions hold. Registered for
 * every test class (src/test/resources/META-INF/services and junit-platform.properties); the
 * test classes run one after another, so what is logged while one runs is that class's.
 */
public final class PipelineTails implements BeforeAllCallback, AfterAllCallback {
    private static final List<String> UNHANDLED = new CopyOnWriteArrayList<>();

    static {
        // The integration tests run against the packaged jar, whose logger is slf4j-simple: there
        // the proxies under test are processes of their own, and their output is what they check.
        if (LoggerFactory.getLogger(DefaultChannelPipeline.class) instanceof Logger logger) {
            Collector collector = new Collector();
            collector.setContext(logger.getLoggerContext());
            collector.start();
            logger.addAppender(collector);
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        UNHANDLED.clear();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (!UNHANDLED.isEmpty()) {
            throw new AssertionError(UNHANDLED.size() + " exception(s) reached the tail of a pipeline:\n"
                    + String.join("\n\n", UNHANDLED.subList(0, Math.min(3, UNHANDLED.size()))));
        }
    }

    private static final class Collector extends AppenderBase<ILoggingEvent> {
        @Override
        protected void append(ILoggingEvent event) {
            if (!event.getFormattedMessage().contains("reached at the tail of the pipeline")) {
                return;
            }
            StringBuilder text = new StringBuilder("[").append(event.getThreadName()).append("] ");
            IThrowableProxy cause = event.getThrowableProxy();
            if (cause != null) {
                text.append(cause.getClassName()).append(": ").append(cause.getMessage());
                var frames = cause.getStackTraceElementProxyArray();
                for (int i = 0; i < Math.min(12, frames.length); i++) {
                    text.append("\n\t").append(frames[i].getSTEAsString());
                }
            }
            UNHANDLED.add(text.toString());
        }
    }
}
