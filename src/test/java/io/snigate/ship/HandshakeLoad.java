package io.snigate.ship;

import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The client side of {@link HandoverIT}, run as a child JVM inside the test's network namespace:
 * a real TLS server (the JDK's, with a certificate made here) and threads that open connections
 * through the proxy one after the other, each a full verified TLS handshake followed by a
 * message echoed byte for byte.
 *
 * <p>Protocol on standard input and output, one line each: it prints {@code upstream PORT} once the
 * server listens; {@code start PORT} starts the clients against the proxy at 127.0.0.1:PORT, after
 * which it prints {@code ok N} after every 25 successful connections; {@code stop} (or the end of
 * its input, or {@code maxSeconds}) lets the connections in flight finish and prints
 * {@code result ok=N failed=M}, then one {@code failure CLASS: MESSAGE COUNT} line per kind.
 */
public final class HandshakeLoad {
    static final String SNI = "handover.test";
    private static final byte[] MESSAGE = "through the handover\n".getBytes(StandardCharsets.US_ASCII);

    private final SSLContext client;
    private final LongAdder ok = new LongAdder();
    private final AtomicLong reported = new AtomicLong();
    private final Map<String, LongAdder> failures = new ConcurrentHashMap<>();
    private final AtomicBoolean running = new AtomicBoolean(true);

    private HandshakeLoad(SSLContext client) {
        this.client = client;
    }

    /** Arguments: the number of client threads, and the most seconds to run after {@code start}. */
    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int maxSeconds = Integer.parseInt(args[1]);
        TestCerts certs = TestCerts.forNames(SNI);
        try (TlsServer upstream = new TlsServer(certs, List.of())) {
            System.out.println("upstream " + upstream.port());
            BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
            String start = commands.readLine();
            if (start == null || !start.startsWith("start ")) {
                throw new IllegalStateException("expected 'start PORT', got " + start);
            }
            InetSocketAddress proxy = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    Integer.parseInt(start.substring("start ".length()).trim()));
            HandshakeLoad load = new HandshakeLoad(certs.clientContext());
            CountDownLatch finished = new CountDownLatch(threads);
            for (int i = 0; i < threads; i++) {
                Thread thread = new Thread(() -> {
                    try {
                        load.connectUntilStopped(proxy);
                    } finally {
                        finished.countDown();
                    }
                }, "client-" + i);
                thread.start();
            }
            Thread stopper = new Thread(() -> {
                try {
                    String line;
                    while ((line = commands.readLine()) != null && !line.trim().equals("stop")) {
                        // Only "stop" means anything after "start".
                    }
                } catch (IOException e) {
                    // The test went away: stop as well.
                }
                load.running.set(false);
            }, "stdin");
            stopper.setDaemon(true);
            stopper.start();
            if (!finished.await(maxSeconds, TimeUnit.SECONDS)) {
                load.running.set(false);
                finished.await(30, TimeUnit.SECONDS);
            }
            load.report(finished.getCount());
        }
    }

    private void connectUntilStopped(InetSocketAddress proxy) {
        while (running.get()) {
            try {
                oneConnection(proxy);
                ok.increment();
                long total = ok.sum();
                long step = total / 25;
                if (reported.getAndAccumulate(step, Math::max) < step) {
                    synchronized (System.out) {
                        System.out.println("ok " + total);
                    }
                }
            } catch (IOException | RuntimeException e) {
                failures.computeIfAbsent(e.getClass().getName() + ": " + e.getMessage(), k -> new LongAdder())
                        .increment();
            }
        }
    }

    /** One connection: a verified handshake for {@link #SNI}, then the message echoed back. */
    private void oneConnection(InetSocketAddress proxy) throws IOException {
        Socket plain = new Socket();
        try {
            plain.connect(proxy, 5_000);
            plain.setSoTimeout(10_000);
        } catch (IOException e) {
            plain.close();
            throw e;
        }
        try (SSLSocket socket = (SSLSocket) client.getSocketFactory().createSocket(plain, SNI, proxy.getPort(), true)) {
            SSLParameters params = socket.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            socket.setSSLParameters(params);
            socket.startHandshake();
            socket.getOutputStream().write(MESSAGE);
            socket.getOutputStream().flush();
            byte[] echoed = socket.getInputStream().readNBytes(MESSAGE.length);
            if (!Arrays.equals(echoed, MESSAGE)) {
                throw new IllegalStateException("echo differs: " + new String(echoed, StandardCharsets.US_ASCII));
            }
        }
    }

    /** The counts, with the clients still inside a connection when the load stopped waiting. */
    private void report(long unfinished) {
        long failed = failures.values().stream().mapToLong(LongAdder::sum).sum();
        synchronized (System.out) {
            System.out.println("result ok=" + ok.sum() + " failed=" + failed + " unfinished=" + unfinished);
            new TreeMap<>(failures).forEach((kind, count) -> System.out.println("failure " + kind + " " + count.sum()));
            System.out.flush();
        }
    }
}
