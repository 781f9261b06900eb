package io.snigate.connect;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** What {@link Reread} says on standard error while a test's step runs. */
final class RereadLog {
    private RereadLog() {}

    static List<ILoggingEvent> during(Runnable step) {
        Logger log = (Logger) LoggerFactory.getLogger(Reread.class);
        ListAppender<ILoggingEvent> said = new ListAppender<>();
        said.start();
        log.addAppender(said);
        try {
            step.run();
        } finally {
            log.detachAppender(said);
        }
        return said.list;
    }
}
