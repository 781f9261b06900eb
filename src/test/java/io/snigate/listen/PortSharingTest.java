package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.snigate.testing.ChildProxy;
import io.snigate.testing.Corpus;
import io.snigate.testing.LogCapture;
import io.snigate.testing.LoopbackPorts;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.SinkServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process that joins a listener's address later takes a share of its new connections
 * ({@code SO_REUSEPORT}); the joiner is told at its bind, and the snigate already listening is
 * told too: a metric counting the other process's sockets, and a line when sharing starts and ends
 * (before: the snigate losing the connections said nothing). The other process is a real snigate
 * in a child JVM.
 */
class PortSharingTest {
    private static final String ROUTE = "routes:\n  - match: \"a.example\"\n    upstream: \"127.0.0.1:9\"\n";
    private static final int LOOPS = Runtime.getRuntime().availableProcessors();

    @RegisterExtension
    final LogCapture logged = new LogCapture(PortSharing.class);

    private static String sharedSockets(ProxyHarness proxy, String listener) {
        return proxy.metrics().registry().scrape().lines()
                .filter(line -> line.startsWith("snigate_listener_shared_sockets{listener=\"" + listener + "\"}"))
                .findFirst().orElse("no series for " + listener);
    }

    @Test
    void anotherSnigateOnAnotherConfigJoiningAListenerIsCountedAndWarnedOfUntilItLeaves(@TempDir Path dir)
            throws Exception {
        try (ProxyHarness proxy = ProxyHarness.start(ROUTE)) {
            PortSharing sharing = proxy.server().portSharing();
            sharing.close(); // off its clock: only the test looks, when it says
            sharing.look();
            assertThat(sharedSockets(proxy, "127.0.0.1:0")).isEqualTo("snigate_listener_shared_sockets{listener=\"127.0.0.1:0\"} 0.0");
            assertThat(logged.events()).isEmpty();

            Path other = dir.resolve("routes.yaml");
            try (ChildProxy joiner = ChildProxy.start(dir, 1, (admin, listen) -> "listen: [\"127.0.0.1:" + proxy.port()
                    + "\"]\nadmin: \"127.0.0.1:" + admin + "\"\n" + ROUTE)) {
                sharing.look();
                assertThat(sharedSockets(proxy, "127.0.0.1:0")).as("a socket for each of the child's event loops")
                        .isEqualTo("snigate_listener_shared_sockets{listener=\"127.0.0.1:0\"} " + LOOPS + ".0");
                assertThat(logged.events()).singleElement().satisfies(event -> {
                    assertThat(event.getLevel()).isEqualTo(Level.WARN);
                    assertThat(event.getFormattedMessage()).isEqualTo("listen 127.0.0.1:" + proxy.port()
                            + " is now also listened on by another process (snigate (pid " + joiner.process().pid()
                            + ", config " + other + ")): the kernel gives it a share of the new connections, which this"
                            + " snigate never sees. Expected only while a restart hands over (deploy/README.md);"
                            + " otherwise stop the other process (ss -ltnp 'sport = :" + proxy.port() + "')");
                });
                logged.events().clear();
                sharing.look();
                assertThat(logged.events()).as("said once, when it starts").isEmpty();
            }

            // A ring's sockets are closed by the kernel a moment after its process has exited.
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                sharing.look();
                assertThat(sharedSockets(proxy, "127.0.0.1:0"))
                        .isEqualTo("snigate_listener_shared_sockets{listener=\"127.0.0.1:0\"} 0.0");
            });
            assertThat(logged.events()).singleElement().satisfies(event -> {
                assertThat(event.getLevel()).isEqualTo(Level.INFO);
                assertThat(event.getFormattedMessage())
                        .isEqualTo("listen 127.0.0.1:" + proxy.port() + " is no longer shared with another process");
            });
        }
    }

    /**
     * An IPv6 listener: its address is found in {@code /proc/net/tcp6}, as the kernel prints it.
     * The other socket is this test's own, so no process is named.
     */
    @Test
    void aSocketJoiningAnIpv6ListenerIsCounted() throws Exception {
        try (ProxyHarness proxy = ProxyHarness.start("listen: [\"[::1]:0\"]\n" + ROUTE)) {
            PortSharing sharing = proxy.server().portSharing();
            sharing.close();
            sharing.look();
            try (ServerSocket joiner = new ServerSocket()) {
                joiner.setOption(StandardSocketOptions.SO_REUSEPORT, true);
                joiner.bind(new InetSocketAddress(InetAddress.getByName("::1"), proxy.port()));
                sharing.look();
                assertThat(sharedSockets(proxy, "[::1]:0")).isEqualTo("snigate_listener_shared_sockets{listener=\"[::1]:0\"} 1.0");
                assertThat(logged.events()).singleElement().satisfies(event -> assertThat(event.getFormattedMessage())
                        .startsWith("listen [::1]:" + proxy.port() + " is now also listened on by another process: the kernel"));
            }
        }
    }

    /** A snigate started on the same config file is a restart handing over: information, not a warning. */
    @Test
    void anotherSnigateOnTheSameConfigIsAHandOver(@TempDir Path dir) throws Exception {
        int port = LoopbackPorts.free();
        Path config = Files.writeString(dir.resolve("routes.yaml"),
                "listen: [\"127.0.0.1:" + port + "\"]\nadmin: \"127.0.0.1:0\"\n" + ROUTE);
        try (ProxyHarness proxy = ProxyHarness.startFile(config)) {
            PortSharing sharing = proxy.server().portSharing();
            sharing.close(); // off its clock: only the test looks, when it says
            sharing.look();
            String listener = "127.0.0.1:" + port;
            try (ChildProxy restart = ChildProxy.start(dir, 1, (admin, listen) -> "listen: [\"" + listener
                    + "\"]\nadmin: \"127.0.0.1:" + admin + "\"\n" + ROUTE)) {
                sharing.look();
                assertThat(sharedSockets(proxy, listener))
                        .isEqualTo("snigate_listener_shared_sockets{listener=\"" + listener + "\"} " + LOOPS + ".0");
                assertThat(logged.events()).singleElement().satisfies(event -> {
                    assertThat(event.getLevel()).isEqualTo(Level.INFO);
                    assertThat(event.getFormattedMessage()).isEqualTo("listen " + listener
                            + " is now also listened on by snigate (pid " + restart.process().pid() + ", config "
                            + config + "): the kernel splits new connections between it and this one, as when a"
                            + " restart hands over (deploy/README.md)");
                });
            }
        }
    }

    /**
     * A restart handing over shares the admin address too. The new process answers
     * {@code /metrics} with no series while the process it replaces listens there (a scrape that
     * succeeds, so that up stays 1), and the old one
     * closes its admin endpoint when it starts to drain: a scrape gets one process's counters and
     * then the other's, never the two in turn (before: both answered, the old one for its whole
     * drain, and Prometheus counted each step back as a reset and then the old totals again).
     * The old process is a real snigate in a child JVM, draining a held tunnel.
     */
    @Test
    void aRestartHandsTheAdminAddressOverWithoutAnsweringScrapesInTurn(@TempDir Path dir) throws Exception {
        try (SinkServer upstream = new SinkServer(0)) {
            ChildProxy old = ChildProxy.start(dir, 1, (admin, listen) -> "listen: [\"127.0.0.1:" + listen[0] + "\"]\n"
                    + "admin: \"127.0.0.1:" + admin + "\"\ntimeouts: { drain: 30s }\n"
                    + "routes:\n  - match: \"*.corpus.test\"\n    upstream: \"127.0.0.1:" + upstream.port() + "\"\n");
            try (old; Socket held = new Socket(InetAddress.getLoopbackAddress(), old.listenPort())) {
                held.getOutputStream().write(Corpus.resource("corpus/captured/curl-default.bin"));
                await().atMost(Duration.ofSeconds(10)).until(() -> upstream.open() == 1);
                try (ProxyHarness proxy = ProxyHarness.startFile(dir.resolve("routes.yaml"))) {
                    String ours = "pid=" + ProcessHandle.current().pid();
                    int admin = old.adminPort();
                    String deferred = "# the snigate this one replaces answers /metrics on this address until it stops; "
                            + ours + "\n";
                    Set<String> answers = new HashSet<>();
                    for (int i = 0; i < 30; i++) {
                        String metrics = getOnANewConnection(admin, "/metrics");
                        assertThat(metrics).as("a successful scrape either way").startsWith("HTTP/1.1 200");
                        String body = metrics.substring(metrics.indexOf("\r\n\r\n") + 4);
                        answers.add(body.contains("snigate_build_info") ? "series" : body);
                    }
                    assertThat(answers).as("the old process's series, and none from the new one")
                            .containsExactlyInAnyOrder("series", deferred);

                    // A scraper's kept-alive connection to the old process, as Prometheus keeps one.
                    Socket keptAlive = keptAliveTo(admin, "ready pid=" + old.process().pid() + "\n");
                    old.process().destroy(); // SIGTERM: the old one drains its tunnel
                    PortSharing sharing = proxy.server().portSharing();
                    await().atMost(Duration.ofSeconds(10)).until(sharing::answersMetrics);
                    keptAlive.setSoTimeout(5_000);
                    assertThat(keptAlive.getInputStream().read()).as("the old one closed its kept-alive connection").isEqualTo(-1);
                    keptAlive.close();
                    for (int i = 0; i < 30; i++) {
                        assertThat(getOnANewConnection(admin, "/readyz")).as("only the new process answers").endsWith("\r\n\r\nready " + ours + "\n");
                        assertThat(getOnANewConnection(admin, "/metrics")).contains("snigate_build_info");
                    }
                    assertThat(old.process().isAlive()).as("the old one still drains its tunnel").isTrue();
                    assertThat(Files.readString(dir.resolve("stderr.txt")))
                            .contains("admin 127.0.0.1:" + old.adminPort() + ": closed, as another process listens there too"
                                    + " (a restart handing over)");
                    assertThat(logged.events()).extracting(ILoggingEvent::getFormattedMessage).contains("admin 127.0.0.1:"
                            + old.adminPort() + ": the snigate this one replaces has left it; /metrics is answered here");
                }
            }
        }
    }

    /**
     * A connection to {@code port} whose answer to a kept-alive {@code /readyz} ends with
     * {@code body}: of the process that says so, among those sharing the port.
     */
    private static Socket keptAliveTo(int port, String body) throws IOException {
        for (int tries = 0; tries < 50; tries++) {
            Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
            socket.setSoTimeout(5_000);
            socket.getOutputStream().write("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] answer = new byte[4096];
            int read = 0;
            String text = "";
            while (!text.endsWith(body) && !text.endsWith("\n\n") && read < answer.length) {
                int n = socket.getInputStream().read(answer, read, answer.length - read);
                if (n < 0) {
                    break;
                }
                read += n;
                text = new String(answer, 0, read, StandardCharsets.US_ASCII);
                if (text.contains("\r\n\r\n") && text.endsWith("\n") && !text.endsWith("\r\n\r\n")) {
                    break; // a whole answer: its body is one line
                }
            }
            if (text.endsWith(body)) {
                return socket;
            }
            socket.close();
        }
        throw new AssertionError("no connection reached the process answering " + body.strip());
    }

    /** A GET on a connection of its own, which the kernel gives to either process sharing the port. */
    private static String getOnANewConnection(int port, String path) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
