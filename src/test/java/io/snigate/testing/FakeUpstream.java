package io.snigate.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A loopback server whose behaviour, per connection, the test gives, run on a thread of its own.
 * What the behaviour throws, an assertion included, is kept and thrown again on the test thread by
 * {@link #verify} and {@link #close}: a check made by the fake upstream can fail the test.
 */
public final class FakeUpstream implements AutoCloseable {
    /** What the upstream does with one accepted connection; it may throw anything, assertions included. */
    @FunctionalInterface
    public interface Behaviour {
        void serve(Socket socket) throws Exception;
    }

    private final ServerSocket server;
    private final Thread thread;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closing;

    /** Serves {@code connections} connections, one after the other, then stops accepting. */
    public FakeUpstream(int connections, Behaviour behaviour) throws IOException {
        server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        thread = new Thread(() -> {
            for (int i = 0; i < connections; i++) {
                try (Socket socket = server.accept()) {
                    socket.setSoTimeout(60_000);
                    behaviour.serve(socket);
                } catch (Throwable e) {
                    if (!(closing && e instanceof IOException)) {
                        failure.compareAndSet(null, e);
                    }
                    return;
                }
            }
        }, "fake-upstream");
        thread.setDaemon(true);
        thread.start();
    }

    public FakeUpstream(Behaviour behaviour) throws IOException {
        this(1, behaviour);
    }

    public int port() {
        return server.getLocalPort();
    }

    /**
     * Waits until the upstream has served all its connections, and throws on this thread what its
     * behaviour threw.
     */
    public void verify(Duration timeout) throws Exception {
        thread.join(timeout.toMillis());
        if (thread.isAlive()) {
            throw new AssertionError("the fake upstream was still serving after " + timeout);
        }
        rethrow();
    }

    /** Throws what the behaviour threw, once: a close after a failed verify adds nothing to it. */
    private void rethrow() {
        Throwable thrown = failure.getAndSet(null);
        if (thrown instanceof AssertionError assertion) {
            throw assertion;
        }
        if (thrown != null) {
            throw new AssertionError("the fake upstream failed: " + thrown, thrown);
        }
    }

    /**
     * Stops accepting, waits briefly for a behaviour still running, and throws what it threw; a
     * behaviour still running then has checks that never ran, which fails the test too.
     */
    @Override
    public void close() throws Exception {
        closing = true;
        server.close();
        thread.join(TimeUnit.SECONDS.toMillis(10));
        rethrow();
        if (thread.isAlive()) {
            throw new AssertionError("the fake upstream was still serving 10 s after its close");
        }
    }
}
