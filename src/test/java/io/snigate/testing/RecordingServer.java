package io.snigate.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A plain TCP upstream on loopback that records every byte each connection sends until it
 * half-closes or {@code expectBytes} arrive, then closes. No TLS: the proxy never decrypts, so
 * the bytes that arrive here must be exactly those the client sent.
 */
public final class RecordingServer implements AutoCloseable {
    private final ServerSocket socket;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final BlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    /** For each connection that finished, in the same order: whether it ended with a reset. */
    private final BlockingQueue<Boolean> endedByReset = new LinkedBlockingQueue<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicLong bytesSoFar = new AtomicLong();
    private volatile int expectBytes = Integer.MAX_VALUE;

    public RecordingServer() throws IOException {
        this(InetAddress.getLoopbackAddress(), 0);
    }

    /** Listening at {@code address} and {@code port} (0: any free one). */
    public RecordingServer(InetAddress address, int port) throws IOException {
        socket = new ServerSocket(port, 128, address);
        threads.submit(this::acceptLoop);
    }

    public int port() {
        return socket.getLocalPort();
    }

    /** Closes each connection once this many bytes arrived (so a client need not half-close). */
    public void expectBytes(int n) {
        expectBytes = n;
    }

    public int accepted() {
        return accepted.get();
    }

    /** Bytes received so far, by every connection together, finished or not. */
    public long bytesSoFar() {
        return bytesSoFar.get();
    }

    /** The bytes of the next connection that finished, or null after the timeout. */
    public byte[] nextReceived(long timeoutMillis) throws InterruptedException {
        return received.poll(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    /** Whether the next connection that finished ended with a reset; null after the timeout. */
    public Boolean nextEndedByReset(long timeoutMillis) throws InterruptedException {
        return endedByReset.poll(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket client = socket.accept();
                accepted.incrementAndGet();
                threads.submit(() -> record(client));
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void record(Socket client) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean reset = false;
        try (client) {
            client.setSoTimeout(30_000);
            InputStream in = client.getInputStream();
            byte[] buffer = new byte[16 * 1024];
            int n;
            while (bytes.size() < expectBytes && (n = in.read(buffer)) > 0) {
                bytes.write(buffer, 0, n);
                bytesSoFar.addAndGet(n);
            }
        } catch (IOException e) {
            // Recorded what arrived.
            reset = String.valueOf(e.getMessage()).contains("reset");
        }
        received.add(bytes.toByteArray());
        endedByReset.add(reset);
    }

    @Override
    public void close() throws IOException {
        socket.close();
        threads.shutdownNow();
    }
}
