package io.snigate.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.listen.ProxyServer;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The real proxy, in this JVM, on loopback ports the kernel picks, with its access log captured
 * line by line so that a test can assert on the reason it gives.
 */
public final class ProxyHarness implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * One client for every admin request: a client per request keeps its selector and its
     * connection open until it is collected, and those descriptors coming and going would move
     * the counts the resilience tests take of the proxy's own.
     */
    private static final HttpClient ADMIN_CLIENT = HttpClient.newHttpClient();

    private final ProxyServer server;
    private final ProxyMetrics metrics;
    private final BlockingQueue<String> accessLog = new LinkedBlockingQueue<>();
    private final List<String> seen = new ArrayList<>();

    private ProxyHarness(ProxyConfig config) throws Exception {
        metrics = new ProxyMetrics();
        // As Main does; this harness's logs are queues that never drop a line.
        metrics.registerErrorLogDrops(() -> 0);
        metrics.registerAccessLogDrops(() -> 0);
        server = new ProxyServer(config, metrics, accessLog::add, Transport.select()).start();
        metrics.bindJvmAndProcessMetrics();
    }

    /**
     * Starts the proxy with one route, every corpus name ({@code *.corpus.test}) to the loopback
     * upstream on {@code upstreamPort}, and whatever other {@code settings} are given.
     */
    public static ProxyHarness corpusTo(int upstreamPort, String settings) throws Exception {
        return start(settings + """
                routes:
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:%d"
                """.formatted(upstreamPort));
    }

    public static ProxyHarness corpusTo(int upstreamPort) throws Exception {
        return corpusTo(upstreamPort, "");
    }

    /** Starts the proxy on a config file, as the command line does. */
    public static ProxyHarness startFile(Path file) throws Exception {
        return new ProxyHarness(ConfigLoader.load(file));
    }

    /** Starts the proxy on {@code yaml}; listen and admin addresses default to 127.0.0.1:0. */
    public static ProxyHarness start(String yaml) throws Exception {
        String text = yaml;
        if (!text.contains("listen:")) {
            text = "listen: [\"127.0.0.1:0\"]\n" + text;
        }
        if (!text.contains("admin:")) {
            text = "admin: \"127.0.0.1:0\"\n" + text;
        }
        return new ProxyHarness(ConfigLoader.parse(text, "test.yaml"));
    }

    public InetSocketAddress address() {
        return server.listenAddresses().get(0);
    }

    public int port() {
        return address().getPort();
    }

    public ProxyServer server() {
        return server;
    }

    public ProxyMetrics metrics() {
        return metrics;
    }

    public URI adminUri(String path) {
        InetSocketAddress admin = server.adminAddress();
        return URI.create("http://127.0.0.1:" + admin.getPort() + path);
    }

    /** GETs an admin path for real, over HTTP. */
    public HttpResponse<String> admin(String path, String accept) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(adminUri(path)).timeout(Duration.ofSeconds(10));
        if (accept != null) {
            request.header("Accept", accept);
        }
        return ADMIN_CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The next access-log line, parsed; fails after 15 s. */
    public JsonNode nextLog() throws InterruptedException, IOException {
        String line = accessLog.poll(15, TimeUnit.SECONDS);
        if (line == null) {
            throw new AssertionError("no access-log line within 15 s; earlier lines: " + seen + "; connections open: "
                    + server.openConnections() + "; the event loops: " + eventLoopStacks());
        }
        seen.add(line);
        return JSON.readTree(line);
    }

    /** Where each event-loop thread of this JVM is, for a test that waited in vain. */
    private static String eventLoopStacks() {
        StringBuilder out = new StringBuilder();
        Thread.getAllStackTraces().forEach((thread, stack) -> {
            if (thread.getName().contains("EventLoop")) {
                out.append("\n").append(thread.getName()).append(' ').append(thread.getState());
                for (int i = 0; i < Math.min(8, stack.length); i++) {
                    out.append("\n    at ").append(stack[i]);
                }
            }
        });
        return out.toString();
    }

    /** The lines {@link #nextLog} returned so far, in order. */
    public List<String> seenLines() {
        return List.copyOf(seen);
    }

    /** Takes every access-log line written so far, so that the next {@link #nextLog} is newer. */
    public List<String> drainLog() {
        List<String> lines = new ArrayList<>();
        accessLog.drainTo(lines);
        return lines;
    }

    /** A plain socket to the proxy, with a read timeout so a hung proxy fails the test. */
    public Socket connect() throws IOException {
        Socket socket = new Socket(address().getAddress(), port());
        socket.setSoTimeout(15_000);
        socket.setTcpNoDelay(true); // a test's separate writes are separate segments
        return socket;
    }

    /**
     * Sends {@code hello}, half-closes, waits for the proxy to close, and returns what the
     * connection's access-log line says: its reason, or its outcome when it has none. A close by
     * reset counts too (a tunnel a reload revoked is reset): its line says why.
     */
    public String reasonFor(byte[] hello) throws Exception {
        try (Socket client = connect()) {
            client.getOutputStream().write(hello);
            client.shutdownOutput();
            try {
                readUntilClosed(client);
            } catch (SocketException reset) {
                // ended by the proxy with a reset; the line read next says for what reason
            }
        }
        JsonNode log = nextLog();
        return log.get("reason").isNull() ? log.get("outcome").asText() : log.get("reason").asText();
    }

    /** Everything the proxy sends until it closes; fails if it does not close within the read timeout. */
    public static byte[] readUntilClosed(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        return in.readAllBytes();
    }

    @Override
    public void close() {
        server.close();
    }
}
