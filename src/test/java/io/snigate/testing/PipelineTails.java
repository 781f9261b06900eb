package io.snigate.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * Fails a test class when an exception went unhandled while it ran: it reached the tail of a Netty
 * pipeline (no handler took it, and Netty only logged a warning), or Netty logged it from an event
 * loop's task or a future's listener, or snigate's own last-resort catches logged it (a ring
 * completion that threw, a relay's unexpected error). Every stage of snigate handles what can go
 * wrong in it, so such a line is a bug even when the test's own assertions hold; a test that
 * provokes one on purpose says so with {@link #expectInThisClass}, naming the line and the
 * message of the exception it throws, so that any other test's bug in the class still fails it. Registered for every test class
 * (src/test/resources/META-INF/services and junit-platform.properties); the test classes run one
 * after another, so what is logged while one runs is that class's, and what is logged between two
 * classes fails the next.
 */
public final class PipelineTails implements BeforeAllCallback, AfterAllCallback {
    private static final List<String> UNHANDLED = new CopyOnWriteArrayList<>();
    /** What Netty and snigate log for an exception nothing else handled. */
    public static final List<String> SIGNS = List.of(
            "reached at the tail of the pipeline", // DefaultChannelPipeline
            "A task raised an exception", // AbstractEventExecutor
            "Unexpected exception from an event executor", // SingleThreadEventExecutor
            "An exception was thrown by", // DefaultPromise, a listener
            "Can't invoke task later as EventLoop rejected it", // AbstractChannel
            "Unexpected exception in the IO event loop", // SingleThreadIoEventLoop (io_uring)
            "Unexpected exception in the selector loop", // EpollIoHandler, NioIoHandler
            "Failed to submit a listener notification task", // DefaultPromise
            "Failed to mark a promise as", // PromiseNotificationUtil: completed twice
            " threw; ", // RingSocket, RingListener: a completion that threw
            "could not compose the pipeline", // ClientInitializer
            "after an unexpected error"); // RouteHandler, ConnectStage, RelayHandler, HandOver, TunnelClock, ParentProxyHandshake, ProxyHeaderReceived, Reloader, Rejection
    /** Lines the running class provokes on purpose. */
    private static final List<Expected> EXPECTED = new CopyOnWriteArrayList<>();

    /** A line containing {@code sign}, logged with an exception whose message is {@code cause}. */
    private record Expected(String sign, String cause) {
        boolean matches(String message, IThrowableProxy thrown) {
            return message.contains(sign) && thrown != null && cause.equals(thrown.getMessage());
        }
    }

    static {
        // The integration tests run against the packaged jar, whose logger is slf4j-simple: there
        // the proxies under test are processes of their own, and their output is what they check.
        if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger logger) {
            Collector collector = new Collector();
            collector.setContext(logger.getLoggerContext());
            collector.start();
            logger.addAppender(collector);
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        EXPECTED.clear();
        if (!UNHANDLED.isEmpty()) {
            List<String> before = List.copyOf(UNHANDLED);
            UNHANDLED.clear();
            throw new AssertionError(before.size() + " unhandled exception(s) logged before this class, after the last:\n"
                    + String.join("\n\n", before.subList(0, Math.min(3, before.size()))));
        }
    }

    /**
     * The running class provokes, on purpose, lines containing {@code sign} logged with an
     * exception whose message is {@code cause}: they do not fail it.
     */
    public static void expectInThisClass(String sign, String cause) {
        EXPECTED.add(new Expected(sign, cause));
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (!UNHANDLED.isEmpty()) {
            List<String> found = List.copyOf(UNHANDLED);
            UNHANDLED.clear();
            throw new AssertionError(found.size() + " unhandled exception(s) logged:\n"
                    + String.join("\n\n", found.subList(0, Math.min(3, found.size()))));
        }
    }

    private static final class Collector extends AppenderBase<ILoggingEvent> {
        @Override
        protected void append(ILoggingEvent event) {
            String message = event.getFormattedMessage();
            IThrowableProxy cause = event.getThrowableProxy();
            if (!event.getLevel().isGreaterOrEqual(Level.WARN) || SIGNS.stream().noneMatch(message::contains)
                    || EXPECTED.stream().anyMatch(expected -> expected.matches(message, cause))) {
                return;
            }
            StringBuilder text = new StringBuilder("[").append(event.getThreadName()).append("] ")
                    .append(event.getLoggerName()).append(": ").append(message).append("\n");
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
