package io.snigate.log;

import io.netty.util.internal.PlatformDependent;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Writes lines handed over by the event loops to an output stream, from a thread of its own, in
 * batches. The event loop only offers a line to a bounded queue: it never waits on a terminal
 * or a pipe, and, for the access log, it never wakes the writer (the writer looks every
 * {@code interval}), so logging a connection costs no system call on the event loop. When the queue is full the line is
 * dropped and counted, rather than slowing every connection down. The queue takes no lock
 * (Netty's multi-producer, single-consumer array queue): an event loop that found a lock held by
 * the writer would wait until the writer is scheduled again, on a busy core for milliseconds
 * (performance page, "The access log's queue").
 */
public final class BatchingLineWriter implements Consumer<String>, AutoCloseable {
    private final Queue<String> queue;
    private final Writer out;
    private final long intervalNanos;
    private final boolean wakeOnLine;
    private final LongAdder dropped = new LongAdder();
    private final Thread thread;
    private volatile boolean closing;

    /** {@code capacity} lines at most are queued, rounded up to a power of two. */
    public BatchingLineWriter(OutputStream out, int capacity, Duration interval) {
        this(out, capacity, interval, "snigate-access-log", false);
    }

    /**
     * With {@code wakeOnLine}, each line wakes the writer at once, and {@code interval} only
     * bounds its sleep: for lines that are few and wanted without delay.
     */
    public BatchingLineWriter(OutputStream out, int capacity, Duration interval, String threadName, boolean wakeOnLine) {
        this.queue = PlatformDependent.newFixedMpscQueue(capacity);
        // Characters are encoded into the writer's own buffer: no array per line.
        this.out = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), 64 * 1024);
        this.intervalNanos = interval.toNanos();
        this.wakeOnLine = wakeOnLine;
        this.thread = new Thread(this::run, threadName);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void accept(String line) {
        if (!queue.offer(line)) {
            dropped.increment();
        } else if (wakeOnLine) {
            LockSupport.unpark(thread);
        }
    }

    /** Lines dropped because the writer could not keep up. */
    public long dropped() {
        return dropped.sum();
    }

    private void run() {
        while (true) {
            // Read before polling: once close() has been called, a queue found empty holds none of
            // the lines offered before it. Read after, it would let a flush that took a while end
            // the thread with the lines offered meanwhile still queued.
            boolean last = closing;
            String line = queue.poll();
            if (line != null) {
                write(line);
                continue;
            }
            flush();
            if (last) {
                return;
            }
            LockSupport.parkNanos(this, intervalNanos);
        }
    }

    private void write(String line) {
        try {
            out.write(line);
            out.write('\n');
        } catch (IOException e) {
            dropped.increment();
        }
    }

    private void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            // Standard output closed: nothing to tell it.
        }
    }

    /** Writes what is queued, then stops; waits 5 s at most, for a stream that takes nothing. */
    @Override
    public void close() throws InterruptedException {
        closing = true;
        LockSupport.unpark(thread);
        thread.join(TimeUnit.SECONDS.toMillis(5));
    }

    /** Whether the writer has stopped: closed, and not stuck on the stream. */
    public boolean stopped() {
        return !thread.isAlive();
    }
}
