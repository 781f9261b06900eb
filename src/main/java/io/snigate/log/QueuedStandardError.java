package io.snigate.log;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Standard error through a {@link BatchingLineWriter}, for as long as the proxy runs. Operational
 * messages are logged from event loops too (a failed accept, an unexpected exception) and from
 * the drain, and written straight to a pipe whose reader has stalled (a journal that stopped
 * reading) they would hold that loop, or the drain, until it reads again. Queued, each line is
 * handed to a writer thread; when the queue is full it is dropped and counted.
 */
public final class QueuedStandardError implements AutoCloseable {
    /** Far more than a start, a reload or a burst of warnings writes. */
    private static final int CAPACITY = 4096;
    /** A line longer than this is handed over in pieces: the splitter's buffer stays bounded. */
    private static final int MAX_LINE_BYTES = 64 * 1024;

    private final PrintStream original;
    private final BatchingLineWriter writer;
    private final LineSplitter splitter;
    private final PrintStream queued;

    private QueuedStandardError(OutputStream out) {
        this.original = System.err;
        this.writer = new BatchingLineWriter(out, CAPACITY, Duration.ofSeconds(1), "snigate-stderr", true);
        this.splitter = new LineSplitter(writer);
        this.queued = new PrintStream(splitter, true, StandardCharsets.UTF_8);
    }

    /** Sends {@link System#err} through a queue until {@link #close}. */
    public static QueuedStandardError install() {
        return install(new FileOutputStream(FileDescriptor.err));
    }

    /** {@link #install()} with the queue's lines written to {@code out}. */
    static QueuedStandardError install(OutputStream out) {
        QueuedStandardError errors = new QueuedStandardError(out);
        System.setErr(errors.queued);
        return errors;
    }

    /** Lines dropped because standard error could not keep up. */
    public long dropped() {
        return writer.dropped();
    }

    /**
     * Writes what is queued (5 s at most, if standard error is still blocked) and restores
     * standard error, unless the writer is still stuck on it: then lines stay queued (or dropped),
     * so that a line logged meanwhile, a second stop signal's, cannot block either.
     */
    @Override
    public void close() throws InterruptedException {
        queued.flush();
        splitter.handOverRest();
        writer.close();
        if (writer.stopped()) {
            System.setErr(original);
        }
    }

    /** Bytes to lines, each handed over without its line end; never waits on the writer. */
    private static final class LineSplitter extends OutputStream {
        private final Consumer<String> lines;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        LineSplitter(Consumer<String> lines) {
            this.lines = lines;
        }

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                handOver();
            } else {
                line.write(b);
                if (line.size() >= MAX_LINE_BYTES) {
                    handOver();
                }
            }
        }

        @Override
        public synchronized void write(byte[] bytes, int offset, int length) {
            for (int i = offset; i < offset + length; i++) {
                write(bytes[i]);
            }
        }

        /** Hands over a last line written without its line end. */
        synchronized void handOverRest() {
            if (line.size() > 0) {
                handOver();
            }
        }

        private void handOver() {
            lines.accept(line.toString(StandardCharsets.UTF_8));
            line.reset();
        }
    }
}
