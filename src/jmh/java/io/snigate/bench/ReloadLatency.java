package io.snigate.bench;

import io.snigate.config.ConfigLoader;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.listen.ProxyServer;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pre-read latency while a million-name list reloads, against the same load without reloads.
 * The real proxy runs in this JVM on loopback; client threads open connections that send a
 * captured ClientHello (curl's, for curl.corpus.test), routed by a {@code match} route to a sink;
 * the proxy's own pre-read timer (accept until the ClientHello was classified) is recorded for
 * every connection. Phase one runs the load alone; phase two runs it while another thread reloads
 * the config, with its million-name {@code match_file}, back to back.
 *
 * <pre>java -cp target/benchmarks.jar io.snigate.bench.ReloadLatency [SECONDS_PER_PHASE] [CLIENT_THREADS]</pre>
 */
public final class ReloadLatency {
    private static final int MAX_SAMPLES = 4_000_000;

    private ReloadLatency() {}

    /** The pre-read time of every connection of the current phase. */
    private static final class PrereadTimes implements ConnectionObserver {
        volatile long[] samples = new long[MAX_SAMPLES];
        final AtomicInteger count = new AtomicInteger();

        @Override
        public void on(ConnectionEvent event, ConnectionRecord connection, long nanos) {
            if (event != ConnectionEvent.PREREAD_DONE) {
                return;
            }
            int i = count.getAndIncrement();
            if (i < MAX_SAMPLES) {
                samples[i] = nanos;
            }
        }

        long[] takePhase() {
            long[] taken = Arrays.copyOf(samples, Math.min(count.getAndSet(0), MAX_SAMPLES));
            Arrays.sort(taken);
            return taken;
        }
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        byte[] hello = Files.readAllBytes(Path.of(Corpus.DEFAULT_DIR, "captured", "curl-default.bin"));
        try (ServerSocket sink = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress())) {
            ExecutorService sinkThreads = Executors.newCachedThreadPool();
            sinkThreads.submit(() -> drainEach(sink, sinkThreads));
            Path dir = Files.createTempDirectory("reload-latency");
            Path config = Allowlists.config(dir, 1_000_000);
            Files.writeString(config, Files.readString(config).replace("127.0.0.1:9", "127.0.0.1:" + sink.getLocalPort()));
            PrereadTimes times = new PrereadTimes();
            ProxyServer proxy = new ProxyServer(ConfigLoader.load(config), new ProxyMetrics(), line -> {}, times, Transport.select()).start();
            InetSocketAddress address = proxy.listenAddresses().get(0);
            try {
                run("warm-up", proxy, address, hello, threads, Math.max(3, seconds / 3), false, config, times);
                run("no reload", proxy, address, hello, threads, seconds, false, config, times);
                run("reloading a million names", proxy, address, hello, threads, seconds, true, config, times);
            } finally {
                proxy.close();
                sinkThreads.shutdownNow();
            }
        }
    }

    private static void run(String phase, ProxyServer proxy, InetSocketAddress address, byte[] hello, int threads,
            int seconds, boolean reloading, Path config, PrereadTimes times) throws Exception {
        times.takePhase();
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        AtomicLong failures = new AtomicLong();
        List<Thread> clients = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread client = new Thread(() -> {
                while (System.nanoTime() < deadline) {
                    try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
                        socket.setSoTimeout(10_000);
                        socket.getOutputStream().write(hello);
                        socket.shutdownOutput();
                        socket.getInputStream().readAllBytes();
                    } catch (IOException e) {
                        failures.incrementAndGet();
                    }
                }
            }, "client-" + t);
            client.start();
            clients.add(client);
        }
        List<Long> reloadMillis = new ArrayList<>();
        while (reloading && System.nanoTime() < deadline) {
            long started = System.nanoTime();
            proxy.reload(ConfigLoader.load(config));
            reloadMillis.add((System.nanoTime() - started) / 1_000_000);
        }
        for (Thread client : clients) {
            client.join();
        }
        long[] samples = times.takePhase();
        if (phase.equals("warm-up")) {
            return;
        }
        System.out.printf("%-26s connections=%d failures=%d preread_us p50=%.0f p99=%.0f p99.9=%.0f max=%.0f"
                        + " reloads=%d reload_ms=%s%n",
                phase, samples.length, failures.get(), micros(samples, 0.50), micros(samples, 0.99),
                micros(samples, 0.999), samples.length == 0 ? 0 : samples[samples.length - 1] / 1000.0,
                reloadMillis.size(), reloadMillis);
    }

    private static double micros(long[] sorted, double quantile) {
        return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] / 1000.0;
    }

    private static void drainEach(ServerSocket sink, ExecutorService threads) {
        while (!sink.isClosed()) {
            try {
                Socket upstream = sink.accept();
                threads.submit(() -> {
                    try (upstream; InputStream in = upstream.getInputStream()) {
                        in.transferTo(OutputStreamNull.INSTANCE);
                    } catch (IOException e) {
                        // The tunnel ended.
                    }
                });
            } catch (IOException closed) {
                return;
            }
        }
    }

    /** Discards what it is given. */
    private static final class OutputStreamNull extends java.io.OutputStream {
        static final OutputStreamNull INSTANCE = new OutputStreamNull();

        @Override
        public void write(int b) {}

        @Override
        public void write(byte[] b, int off, int len) {}
    }
}
