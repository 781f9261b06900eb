package io.snigate.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Live reload: a new valid file is swapped in atomically and takes effect for the next
 * connection, tunnels already relaying that it still allows are untouched ({@link ReloadRecheckTest}
 * has those it refuses), and a file that fails validation changes
 * nothing but the error metrics.
 */
@ExtendWith(NettyLeaks.class)
class ReloadTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test

    @TempDir
    Path dir;

    private Path config;
    private RecordingServer upstream;
    private ProxyHarness proxy;
    private Reloader reloader;

    private String configText(String routes) {
        return """
                listen: ["127.0.0.1:0"]
                admin: "127.0.0.1:0"
                routes:
                  - match: "unrelated.example.com"
                    upstream: "127.0.0.1:%d"
                %s""".formatted(upstream.port(), routes);
    }

    private String corpusRoute(int port) {
        return """
                  - match: "*.corpus.test"
                    upstream: "127.0.0.1:%d"
                """.formatted(port);
    }

    @BeforeEach
    void start() throws Exception {
        upstream = new RecordingServer();
        upstream.expectBytes(HELLO.length);
        config = Files.writeString(dir.resolve("routes.yaml"), configText(""));
        proxy = ProxyHarness.startFile(config);
        reloader = new Reloader(config, proxy.server(), proxy.metrics(), Files.readString(config));
    }

    @AfterEach
    void stop() throws IOException {
        reloader.close();
        proxy.close();
        upstream.close();
    }

    /** Waits, 15 s at most, until a scrape of the proxy holds {@code text}: reloads take their time. */
    private void awaitScrapeContaining(String text) {
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.admin("/metrics", null).body().contains(text));
    }

    private String connectAndLogReason() throws Exception {
        return proxy.reasonFor(HELLO);
    }

    private void replaceAtomically(String text) throws IOException {
        Path next = Files.writeString(dir.resolve("routes.yaml.next"), text);
        Files.move(next, config, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void routeAddedByReloadTakesEffectForTheNextConnection() throws Exception {
        assertThat(connectAndLogReason()).isEqualTo("no_route");
        Files.writeString(config, configText(corpusRoute(upstream.port())));
        assertThat(reloader.reload("test")).isTrue();
        assertThat(connectAndLogReason()).isEqualTo("forwarded");
        assertThat(upstream.nextReceived(5_000)).isEqualTo(HELLO);
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_config_reloads_total{result=\"success\"} 1.0")
                .contains("snigate_config_last_reload_successful 1.0");
    }

    @Test
    void aRouteRemovedByReloadTakesItsSeriesOutOfTheScrape() throws Exception {
        Files.writeString(config, configText(corpusRoute(upstream.port())));
        assertThat(reloader.reload("test")).isTrue();
        assertThat(connectAndLogReason()).isEqualTo("forwarded");
        String series = "route=\"*.corpus.test\"";
        assertThat(proxy.admin("/metrics", null).body()).contains(series);
        Files.writeString(config, configText(""));
        assertThat(reloader.reload("test")).isTrue();
        String scrape = proxy.admin("/metrics", null).body();
        assertThat(scrape).doesNotContain(series)
                .contains("route=\"unrelated.example.com\"").contains("route=\"none\"");
        // Put back, the route's series start again from zero.
        Files.writeString(config, configText(corpusRoute(upstream.port())));
        assertThat(reloader.reload("test")).isTrue();
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"forwarded\",reason=\"none\",route=\"*.corpus.test\"} 0.0");
    }

    @Test
    void invalidFileLeavesTheOldRoutesServingAndReportsTheError() throws Exception {
        Files.writeString(config, configText(corpusRoute(upstream.port())));
        assertThat(reloader.reload("test")).isTrue();
        Files.writeString(config, configText(corpusRoute(upstream.port())) + "  - match: \"*\"\n    upstream: x\n");
        assertThat(reloader.reload("test")).isFalse();
        assertThat(connectAndLogReason()).isEqualTo("forwarded");
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_config_reloads_total{result=\"failure\"} 1.0")
                .contains("snigate_config_last_reload_successful 0.0");
    }

    @Test
    void aReloadWhileDrainingBindsNothingAgain() throws Exception {
        Socket open = proxy.connect(); // keeps the drain going
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.server().openConnections() == 1);
        Thread drain = new Thread(() -> {
            try {
                proxy.server().drain(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        drain.start();
        try {
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.server().listenAddresses().isEmpty());
            Files.writeString(config, configText(corpusRoute(upstream.port())));
            assertThat(reloader.reload("test")).isFalse();
            assertThat(proxy.server().listenAddresses()).as("a draining proxy accepts nothing new").isEmpty();
            assertThat(proxy.admin("/metrics", null).body()).as("not a failed reload either")
                    .contains("snigate_config_reloads_total{result=\"failure\"} 0.0");
        } finally {
            open.close();
            drain.join(15_000);
        }
    }

    @Test
    void aChangeWhileTheProxyStartedIsAppliedOnceItWatches() throws Exception {
        String startedWith = Files.readString(config);
        replaceAtomically(configText(corpusRoute(upstream.port()))); // before the watch, after the start's read
        reloader = new Reloader(config, proxy.server(), proxy.metrics(), startedWith);
        reloader.watch();
        assertThat(connectAndLogReason()).isEqualTo("forwarded");
    }

    /**
     * A log written into the config's folder: each line is an event in the watched folder. A
     * failed reload is retried only when what it read changed, or each error line would be the
     * next attempt's event; a real edit that fails again is tried and counted again.
     */
    @Test
    void aFailedReloadIsRetriedWhenWhatItReadChangesNotWhenAnotherFileDoes() throws Exception {
        Path log = Files.writeString(dir.resolve("snigate.log"), "");
        reloader.watch();
        String running = Files.readString(config);
        replaceAtomically(running + "  - match: \"*\"\n    upstream: x\n");
        String failedOnce = "snigate_config_reloads_total{result=\"failure\"} 1.0";
        awaitScrapeContaining(failedOnce);
        for (int line = 0; line < 5; line++) {
            Files.writeString(log, "a line\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5))
                    .until(() -> proxy.admin("/metrics", null).body().contains(failedOnce));
        }
        replaceAtomically(running + "  - match: \"*\"\n    upstream: y\n"); // edited, still wrong
        awaitScrapeContaining("snigate_config_reloads_total{result=\"failure\"} 2.0");
        replaceAtomically(running);
        awaitScrapeContaining("snigate_config_last_reload_successful 1.0");
    }

    @Test
    void aBadEditPutBackAsItWasReportsTheReloadSucceededAgain() throws Exception {
        reloader.watch();
        String running = Files.readString(config);
        replaceAtomically(running + "  - match: \"*\"\n    upstream: x\n");
        awaitScrapeContaining("snigate_config_last_reload_successful 0.0");
        replaceAtomically(running);
        awaitScrapeContaining("snigate_config_last_reload_successful 1.0");
    }

    /**
     * The DNS lookups' timeout is a share of timeouts.connect fixed when the resolvers were made:
     * a reload that changes it says it waits for a restart (it said only admin and resolvers).
     */
    @Test
    void aReloadThatChangesTheConnectTimeoutSaysDnsKeepsItsOwnUntilARestart() throws Exception {
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        Logger noticesLog = (Logger) LoggerFactory.getLogger("io.snigate.listen.ConfigNotices");
        logged.start();
        noticesLog.addAppender(logged);
        try {
            Files.writeString(config, "timeouts: { connect: 9s }\n" + configText(""));
            assertThat(reloader.reload("test")).isTrue();
        } finally {
            noticesLog.detachAppender(logged);
        }
        assertThat(logged.list).extracting(ILoggingEvent::getFormattedMessage)
                .contains("the DNS lookups' share of timeouts.connect keeps the old value until a restart; everything else changed now");
        assertThat(proxy.server().currentConfig().timeouts().connect()).hasSeconds(9);
    }

    /**
     * A config deleted is said at once, as gone: the proxy serves on, but a restart would not
     * start. A reload asked for meanwhile (SIGHUP) says the same (before: it advised passing
     * another path with --config, the start's advice).
     */
    @Test
    void aDeletedConfigIsAFailedReloadUntilItIsBack() throws Exception {
        Logger reloaderLog = (Logger) LoggerFactory.getLogger(Reloader.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        reloaderLog.addAppender(logged);
        reloader.lookEveryMillis = 100;
        reloader.watch();
        String running = Files.readString(config);
        Files.delete(config);
        awaitScrapeContaining("snigate_config_last_reload_successful 0.0");
        int looked = reloader.looksTaken();
        await().atMost(Duration.ofSeconds(15)).until(() -> reloader.looksTaken() >= looked + 3);
        assertThat(proxy.admin("/metrics", null).body()).as("still gone is no news")
                .contains("snigate_config_reloads_total{result=\"failure\"} 1.0");
        assertThat(connectAndLogReason()).as("the routes serve on").isEqualTo("no_route");
        assertThat(reloader.reload("SIGHUP")).isFalse();
        reloaderLog.detachAppender(logged);
        String gone = config + " is gone: the previous config keeps serving, and a restart would fail; put the file back";
        assertThat(logged.list).filteredOn(event -> event.getLevel() == Level.ERROR)
                .extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly(gone, "reload (SIGHUP) failed: " + gone);
        replaceAtomically(running); // as it was: back, it is reloaded all the same
        awaitScrapeContaining("snigate_config_last_reload_successful 1.0");
    }

    /** Without a watch (the system out of inotify instances), a change is still seen by the look. */
    @Test
    void withoutAWatchTheLookStillReloads() throws Exception {
        reloader.openWatch = () -> {
            throw new IOException("User limit of inotify instances reached or too many open files");
        };
        reloader.lookEveryMillis = 200;
        reloader.watch();
        Files.writeString(config, configText(corpusRoute(upstream.port())));
        await().atMost(Duration.ofSeconds(15)).until(() -> connectAndLogReason().equals("forwarded"));
    }

    @Test
    void atomicRenameOntoTheWatchedFileIsPickedUp() throws Exception {
        reloader.watch();
        replaceAtomically(configText(corpusRoute(upstream.port())));
        await().atMost(Duration.ofSeconds(15)).until(() -> connectAndLogReason().equals("forwarded"));
    }

    @Test
    void listenAddressesAddedOrRemovedByReloadAreBoundOrClosed() throws Exception {
        String twoListeners = configText("").replace("listen: [\"127.0.0.1:0\"]", "listen: [\"127.0.0.1:0\", \"127.0.0.2:0\"]");
        Files.writeString(config, twoListeners);
        assertThat(reloader.reload("test")).isTrue();
        assertThat(proxy.server().listenAddresses()).hasSize(2);
        int secondPort = proxy.server().listenAddresses().get(1).getPort();
        new Socket(InetAddress.getByName("127.0.0.2"), secondPort).close();

        Files.writeString(config, configText(""));
        assertThat(reloader.reload("test")).isTrue();
        assertThat(proxy.server().listenAddresses()).hasSize(1);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> new Socket(InetAddress.getByName("127.0.0.2"), secondPort).close())
                        .isInstanceOf(java.net.ConnectException.class));
    }

    /**
     * A listener's series go with it: one a failed reload bound for a moment (or never) is not in
     * the scrape, and one a reload removed leaves it once its last connection has ended (before:
     * both stayed for good, and new routes' series were made under them too).
     */
    @Test
    void aListenerRemovedOrNeverBoundByAReloadTakesItsSeriesOutOfTheScrape() throws Exception {
        Files.writeString(config, configText("").replace("listen: [\"127.0.0.1:0\"]", "listen: [\"127.0.0.1:0\", \"192.0.2.1:443\"]"));
        assertThat(reloader.reload("test")).as("192.0.2.1 is not this host's").isFalse();
        assertThat(proxy.admin("/metrics", null).body()).doesNotContain("192.0.2.1:443");

        Files.writeString(config, configText("").replace("listen: [\"127.0.0.1:0\"]", "listen: [\"127.0.0.1:0\", \"127.0.0.2:0\"]"));
        assertThat(reloader.reload("test")).isTrue();
        int secondPort = proxy.server().listenAddresses().get(1).getPort();
        try (Socket held = new Socket(InetAddress.getByName("127.0.0.2"), secondPort)) {
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.admin("/metrics", null).body()
                    .contains("snigate_connections_active{listener=\"127.0.0.2:0\"} 1.0"));
            Files.writeString(config, configText(""));
            assertThat(reloader.reload("test")).isTrue();
            assertThat(proxy.admin("/metrics", null).body()).as("its connection is still open")
                    .contains("snigate_connections_active{listener=\"127.0.0.2:0\"} 1.0");
        }
        assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("client_closed");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(proxy.admin("/metrics", null).body())
                .doesNotContain("127.0.0.2:0")
                .contains("snigate_connections_active{listener=\"127.0.0.1:0\"} 0.0"));
    }

    /**
     * A reload that removes a listener together with the route of its open connection (which it
     * revokes): the connection's counts go with the listener's series, none left behind (failed
     * with the count made after the retirement: the listener's series under that route stayed for
     * good). A listener removed while a connection is open and added back keeps its series when
     * that connection ends (failed: deleted while bound).
     */
    @Test
    void aRemovedListenersLastConnectionLeavesNoSeriesAndOneAddedBackKeepsThem() throws Exception {
        upstream.expectBytes(HELLO.length + 1); // holds each tunnel open until its client leaves
        String twoListeners = configText(corpusRoute(upstream.port()))
                .replace("listen: [\"127.0.0.1:0\"]", "listen: [\"127.0.0.1:0\", \"127.0.0.2:0\"]");
        for (boolean addedBack : new boolean[] {false, true}) {
            Files.writeString(config, twoListeners);
            assertThat(reloader.reload("test")).isTrue();
            int secondPort = proxy.server().listenAddresses().get(1).getPort();
            long before = upstream.bytesSoFar();
            try (Socket held = new Socket(InetAddress.getByName("127.0.0.2"), secondPort)) {
                held.getOutputStream().write(HELLO);
                await().atMost(Duration.ofSeconds(5)).until(() -> upstream.bytesSoFar() >= before + HELLO.length);
                // Without the listener; without the route too, the first time.
                Files.writeString(config, configText(addedBack ? corpusRoute(upstream.port()) : ""));
                assertThat(reloader.reload("test")).isTrue();
                if (addedBack) {
                    Files.writeString(config, twoListeners);
                    assertThat(reloader.reload("test")).isTrue();
                } else {
                    // Its line before the client leaves: the reload's cut runs on the event loop.
                    assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("revoked_by_reload");
                }
            }
            if (addedBack) {
                assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("null");
                assertThat(proxy.admin("/metrics", null).body()).as("the listener is bound again")
                        .contains("snigate_connections_active{listener=\"127.0.0.2:0\"} 0.0")
                        .contains("snigate_connections_total{listener=\"127.0.0.2:0\",outcome=\"forwarded\",reason=\"none\",route=\"*.corpus.test\"} 1.0");
            } else {
                assertThat(proxy.admin("/metrics", null).body()).doesNotContain("127.0.0.2:0");
            }
        }
    }

    @Test
    void longTransferKeepsGoingByteExactAcrossTwentyReloads() throws Exception {
        int size = 64 << 20;
        byte[] data = new byte[size];
        new Random(20261123).nextBytes(data);
        java.util.concurrent.CountDownLatch tunnelUp = new java.util.concurrent.CountDownLatch(1);
        try (ServerSocket streaming = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            CompletableFuture<byte[]> upstreamGot = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = streaming.accept()) {
                    socket.setSoTimeout(30_000);
                    byte[] hello = socket.getInputStream().readNBytes(HELLO.length);
                    tunnelUp.countDown();
                    OutputStream out = socket.getOutputStream();
                    for (int at = 0; at < size; at += 1 << 20) {
                        out.write(data, at, 1 << 20);
                        Thread.sleep(10);
                    }
                    return hello;
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            Files.writeString(config, configText(corpusRoute(streaming.getLocalPort())));
            assertThat(reloader.reload("test")).isTrue();
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(HELLO);
                // Its own thread: the common pool may have a single thread on two cores, and the
                // upstream's writer above already holds it.
                CompletableFuture<String> digest = CompletableFuture.supplyAsync(() -> sha256(client), runnable -> new Thread(runnable).start());
                // Routed before the first reload: a connection still in pre-read would be routed by
                // whichever table is current then.
                assertThat(tunnelUp.await(10, TimeUnit.SECONDS)).isTrue();
                for (int i = 0; i < 20; i++) {
                    // Alternate the route's upstream: only new connections may notice.
                    Files.writeString(config, configText(corpusRoute(i % 2 == 0 ? upstream.port() : streaming.getLocalPort())));
                    assertThat(reloader.reload("reload " + i)).isTrue();
                    Thread.sleep(20);
                }
                assertThat(digest.get(60, TimeUnit.SECONDS))
                        .isEqualTo(size + " bytes, sha-256 " + java.util.HexFormat.of().formatHex(
                                MessageDigest.getInstance("SHA-256").digest(data)));
            }
            assertThat(upstreamGot.get(10, TimeUnit.SECONDS)).as("what reached the upstream").isEqualTo(HELLO);
        }
        assertThat(proxy.nextLog().get("bytes_to_client").asLong()).isEqualTo(size);
    }

    /** "N bytes, sha-256 HEX" of everything read until end of stream. */
    private static String sha256(Socket socket) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
                total += n;
            }
            return total + " bytes, sha-256 " + java.util.HexFormat.of().formatHex(digest.digest());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
