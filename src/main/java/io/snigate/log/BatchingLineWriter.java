package io.snigate.log;

import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
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
 *
 * <p>The stream is written whole lines at a time, at most {@value #BATCH_BYTES} bytes a call (a
 * longer line in a call of its own). Where standard output and standard error are one stream (a
 * systemd unit's journal, {@code >log 2>&1}), the writers of the two take turns, so that no
 * operational line lands inside an access-log line.
 */
public final class BatchingLineWriter implements Consumer<String>, AutoCloseable {
    static final int BATCH_BYTES = 64 * 1024;
    /** Held around each write to the stream when standard output and error are one, else null. */
    private static final Object ONE_STREAM = sameOpenFile("/proc/self/fd/1", "/proc/self/fd/2") ? new Object() : null;

    private final Queue<String> queue;
    private final OutputStream out;
    private final byte[] batch = new byte[BATCH_BYTES];
    private int batched;
    private int linesBatched;
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
        this.out = out;
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

    /**
     * Adds {@code line} to the batch, writing the batch first when the line would not fit. An
     * ASCII line (every access-log line) is copied in as it is, with no array per line.
     */
    private void write(String line) {
        int length = line.length();
        if (length + 1 > BATCH_BYTES) {
            writeBytes(line.getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (batched + length + 1 > BATCH_BYTES) {
            flushBatch();
        }
        int start = batched;
        for (int i = 0; i < length; i++) {
            char c = line.charAt(i);
            if (c >= 0x80) {
                batched = start; // not ASCII after all: encoded as a whole
                writeBytes(line.getBytes(StandardCharsets.UTF_8));
                return;
            }
            batch[start + i] = (byte) c;
        }
        batched = start + length;
        batch[batched++] = '\n';
        linesBatched++;
    }

    private void writeBytes(byte[] line) {
        if (batched + line.length + 1 > BATCH_BYTES) {
            flushBatch();
        }
        if (line.length + 1 > BATCH_BYTES) {
            byte[] whole = Arrays.copyOf(line, line.length + 1);
            whole[line.length] = '\n';
            send(whole, whole.length, 1);
            return;
        }
        System.arraycopy(line, 0, batch, batched, line.length);
        batched += line.length;
        batch[batched++] = '\n';
        linesBatched++;
    }

    private void flushBatch() {
        if (batched > 0) {
            send(batch, batched, linesBatched);
            batched = 0;
            linesBatched = 0;
        }
    }

    /** One write of whole lines; when the stream refuses it, every line in it is counted as dropped. */
    private void send(byte[] bytes, int length, int lines) {
        try {
            if (ONE_STREAM == null) {
                out.write(bytes, 0, length);
            } else {
                synchronized (ONE_STREAM) {
                    out.write(bytes, 0, length);
                }
            }
        } catch (IOException e) {
            dropped.add(lines);
        }
    }

    private void flush() {
        flushBatch();
        try {
            out.flush();
        } catch (IOException e) {
            // Standard output closed: nothing to tell it.
        }
    }

    /** Whether two descriptor links name one open file, pipe or socket. */
    private static boolean sameOpenFile(String a, String b) {
        try {
            return Files.readSymbolicLink(Path.of(a)).equals(Files.readSymbolicLink(Path.of(b)));
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
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
