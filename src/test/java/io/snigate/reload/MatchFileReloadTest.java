package io.snigate.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import io.snigate.testing.TestCerts;
import io.snigate.testing.TlsServer;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@code match_file} lists in the running proxy: written by another tool with an atomic rename
 * and picked up by the watch, a bad list keeping the old table, and a million names loaded while
 * real TLS handshakes keep completing.
 */
@ExtendWith(NettyLeaks.class)
class MatchFileReloadTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test

    @TempDir
    Path dir;

    private RecordingServer upstream;
    private ProxyHarness proxy;
    private final List<Reloader> reloaders = new ArrayList<>();
    private Path config;
    private Path list;

    @BeforeEach
    void start() throws Exception {
        upstream = new RecordingServer();
        upstream.expectBytes(HELLO.length);
        list = Files.writeString(dir.resolve("allow.list"), "unrelated.example\n");
        config = Files.writeString(dir.resolve("routes.yaml"), """
                listen: ["127.0.0.1:0"]
                admin: "127.0.0.1:0"
                routes:
                  - match_file: "allow.list"
                    upstream: "127.0.0.1:%d"
                """.formatted(upstream.port()));
        proxy = ProxyHarness.startFile(config);
    }

    @AfterEach
    void stop() throws IOException {
        reloaders.forEach(Reloader::close);
        proxy.close();
        upstream.close();
    }

    /** A reloader of the proxy's config, closed after the test: its watch must not outlive it. */
    private Reloader reloader() throws IOException {
        Reloader reloader = new Reloader(config, proxy.server(), proxy.metrics(), Files.readString(config));
        reloaders.add(reloader);
        return reloader;
    }

    /** Moves the route's list into a folder of its own, {@code lists/}, which it returns. */
    private Path listInItsFolder() throws IOException {
        Path folder = Files.createDirectories(dir.resolve("lists"));
        Files.writeString(folder.resolve("allow.list"), "unrelated.example\n");
        Files.writeString(config, Files.readString(config).replace("\"allow.list\"", "\"lists/allow.list\""));
        return folder;
    }

    private void replaceListAtomically(String text) throws IOException {
        Path next = Files.writeString(dir.resolve("allow.list.tmp"), text);
        Files.move(next, list, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void aListReplacedByAtomicRenameIsPickedUpByTheWatch() throws Exception {
        reloader().watch();
        assertThat(proxy.reasonFor(HELLO)).isEqualTo("no_route");
        assertThat(proxy.admin("/metrics", null).body()).contains("snigate_match_file_names{route=\"allow.list\"} 1.0");
        replaceListAtomically("unrelated.example\n.corpus.test\n");
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
        assertThat(proxy.admin("/metrics", null).body()).contains("snigate_config_reloads_total{result=\"success\"} 1.0")
                .as("the list's names, as reloaded").contains("snigate_match_file_names{route=\"allow.list\"} 2.0");
        // Written in place this time, as a plain editor would.
        Files.writeString(list, "unrelated.example\n");
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("no_route"));
    }

    @Test
    void aListsFolderDeletedAndMadeAgainIsWatchedAgain() throws Exception {
        Path folder = listInItsFolder();
        Reloader reloader = reloader();
        assertThat(reloader.reload("the list in its folder")).isTrue();
        reloader.watch();

        Files.delete(folder.resolve("allow.list"));
        Files.delete(folder);
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.admin("/metrics", null).body()
                .contains("snigate_config_last_reload_successful 0.0")); // the list is gone
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("allow.list"), "unrelated.example\n");
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.admin("/metrics", null).body()
                .contains("snigate_config_last_reload_successful 1.0")); // seen through the config's folder
        // Written in place, twice: the events of the folder's making may still carry the first;
        // only a watch on the new folder sees the second.
        Files.writeString(folder.resolve("allow.list"), ".corpus.test\n");
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
        Files.writeString(folder.resolve("allow.list"), "unrelated.example\n");
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("no_route"));
    }

    /**
     * A folder renamed over (a tool that swaps a whole list folder): the kernel watches the old
     * folder, renamed away, so the new one must be watched again for an edit in it to be seen.
     */
    @Test
    void aListsFolderRenamedOverIsWatchedAgain() throws Exception {
        Path folder = listInItsFolder();
        Reloader reloader = reloader();
        reloader.lookEveryMillis = TimeUnit.MINUTES.toMillis(10); // the watch alone
        assertThat(reloader.reload("the list in its folder")).isTrue();
        reloader.watch();

        Path next = Files.createDirectories(dir.resolve("lists.new"));
        Files.writeString(next.resolve("allow.list"), ".corpus.test\n");
        Files.move(folder, dir.resolve("lists.old"));
        Files.move(next, folder);
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded")); // the config's folder saw it
        Files.writeString(folder.resolve("allow.list"), "unrelated.example\n"); // in place, in the new folder
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("no_route"));
    }

    /**
     * A list that is a link into a folder no watch covers (a config repository, stow): a change of
     * its target tells no watched folder, and is seen when the files are looked at.
     */
    @Test
    void aListLinkedIntoAnotherFolderIsLookedAt() throws Exception {
        Path elsewhere = Files.createDirectories(dir.resolve("repository"));
        Path target = Files.writeString(elsewhere.resolve("allow.list"), "unrelated.example\n");
        Files.delete(list);
        Files.createSymbolicLink(list, target);
        Reloader reloader = reloader();
        reloader.lookEveryMillis = 300;
        assertThat(reloader.reload("the list a link")).isTrue();
        reloader.watch();

        Path next = Files.writeString(elsewhere.resolve("allow.list.tmp"), ".corpus.test\n");
        Files.move(next, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
    }

    @Test
    void aBadListKeepsTheOldTableAndSaysWhere() throws Exception {
        Reloader reloader = reloader();
        replaceListAtomically("*.corpus.test\n");
        assertThat(reloader.reload("test")).isTrue();
        assertThat(proxy.reasonFor(HELLO)).isEqualTo("forwarded");
        replaceListAtomically("*.corpus.test\nnot..a.name\n");
        assertThat(reloader.reload("test")).isFalse();
        assertThat(proxy.reasonFor(HELLO)).as("the old table keeps serving").isEqualTo("forwarded");
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_config_reloads_total{result=\"failure\"} 1.0")
                .contains("snigate_config_last_reload_successful 0.0");
        Files.delete(list);
        assertThat(reloader.reload("test")).as("a list that is gone").isFalse();
        assertThat(proxy.reasonFor(HELLO)).isEqualTo("forwarded");
    }

    /**
     * A list's folder that cannot be listed for a reason of this host's, not of the files (a loop
     * of symbolic links stands for running out of descriptors, which root's tests cannot): the
     * reload fails saying so, and is tried again within 5 s with no change of the files to prompt
     * it, in a folder the watch does not see.
     */
    @Test
    void aListFolderThatCannotBeListedIsTriedAgainWithoutAChange() throws Exception {
        Path other = Files.createDirectory(dir.resolve("other"));
        Path lists = Files.createSymbolicLink(other.resolve("lists"), other.resolve("lists")); // ELOOP
        Reloader reloader = reloader();
        reloader.watch();
        Files.writeString(config, Files.readString(config).replace("match_file: \"allow.list\"",
                "match_file: \"other/lists/*.list\""));
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.admin("/metrics", null).body()
                .contains("snigate_config_reloads_total{result=\"failure\"} 1.0"));
        Files.delete(lists);
        Files.createDirectory(lists);
        Files.writeString(lists.resolve("a.list"), ".corpus.test\n");
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
        assertThat(proxy.admin("/metrics", null).body()).contains("snigate_config_last_reload_successful 1.0");
    }

    @Test
    void aFolderThatCannotBeListedIsSaidToBeThisHostsTrouble() {
        Path loop = dir.resolve("loop");
        assertThatThrownBy(() -> {
            Files.createSymbolicLink(loop, loop);
            ConfigLoader.parse("""
                    listen: ["127.0.0.1:0"]
                    routes:
                      - match_file: "%s/*.list"
                        upstream: "127.0.0.1:1"
                    """.formatted(loop), "routes.yaml");
        }).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("routes.yaml:3: match_file")
                .hasMessageContaining("its folder cannot be listed now")
                .hasMessageContaining("a reload tries again every 5 s");
    }

    /**
     * A list read while a tool rewrites it in place: its last name has no newline yet and may be
     * cut short into a wider one, so the reload is refused at once, naming the line. The tool
     * finishes it meanwhile, and that last write, made during the refused reload, is still picked
     * up by the watch.
     */
    @Test
    void aListBeingRewrittenInPlaceIsRefusedAndLoadedByTheWatchOnceFinished() throws Exception {
        assertRefusedThenLoaded(() -> Files.writeString(list, "unrelated.example\ncurl.corpus.tes"),
                ":2: has no newline after its last name and was rewritten in place");
    }

    /**
     * The same for a new file (renamed into place half-written, then written on): it is refused
     * because it changes in the 300 ms after it was read.
     */
    @Test
    void aNewListStillBeingWrittenIsRefusedAndLoadedByTheWatchOnceFinished() throws Exception {
        assertRefusedThenLoaded(() -> replaceListAtomically("unrelated.example\ncurl.corpus.tes"),
                ":2: has no newline after its last name and changed while it was read");
    }

    private interface ListWrite {
        void run() throws IOException;
    }

    /** {@code write} leaves the list one "t\n" short; the reload's seam appends it. */
    private void assertRefusedThenLoaded(ListWrite write, String reason) throws Exception {
        Reloader reloader = reloader();
        reloader.afterListsRead = appendOnce(list, "t\n");
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        Logger reloadLog = (Logger) LoggerFactory.getLogger(Reloader.class);
        logged.start();
        reloadLog.addAppender(logged);
        try {
            reloader.watch();
            write.run();
            await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
        } finally {
            reloadLog.detachAppender(logged);
        }
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_config_reloads_total{result=\"failure\"} 1.0")
                .contains("snigate_config_reloads_total{result=\"success\"} 1.0");
        assertThat(logged.list).extracting(ILoggingEvent::getFormattedMessage)
                .anyMatch(line -> line.contains(list + reason));
    }

    /**
     * A list rewritten in place without a final newline and then left so: a tool paused in the
     * middle of a name looks the same, so the reload is refused until the file ends with one.
     */
    @Test
    void aListRewrittenInPlaceWithoutAFinalNewlineWaitsForOne() throws Exception {
        Reloader reloader = reloader();
        Files.writeString(list, "unrelated.example\ncurl.corpus.test");
        assertThat(reloader.reload("in place, no final newline")).isFalse();
        assertThat(proxy.reasonFor(HELLO)).isEqualTo("no_route");
        Files.writeString(list, "\n", StandardOpenOption.APPEND);
        assertThat(reloader.reload("ended with a newline")).isTrue();
        assertThat(proxy.reasonFor(HELLO)).isEqualTo("forwarded");
    }

    /**
     * A list read when a tool writing it in place has just written {@code *}, which is no name:
     * the reload fails on that line, and the tool's next write, made while the reload failed,
     * is still picked up (failed: the watch stayed on the failed state).
     */
    @Test
    void aListCutShortIntoABadLineIsLoadedByTheWatchOnceFinished() throws Exception {
        Reloader reloader = reloader();
        reloader.afterListsRead = appendOnce(list, ".corpus.test\n");
        reloader.watch();
        Files.writeString(list, "unrelated.example\n*");
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_config_reloads_total{result=\"failure\"} 1.0");
    }

    /**
     * A config gains a route whose list, in a folder not watched yet, is being written: the
     * reload is refused, and the list is loaded once finished, though the tool's last write came
     * before its folder was watched (failed: the route never came).
     */
    @Test
    void aListBeingWrittenInAFolderNotWatchedYetIsLoadedOnceFinished() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("lists"));
        Path added = Files.writeString(folder.resolve("new.list"), "curl.corpus.te");
        Reloader reloader = reloader();
        reloader.afterListsRead = appendOnce(added, "st\n");
        reloader.watch();
        Files.writeString(config, Files.readString(config).replace("\"allow.list\"", "\"lists/new.list\""));
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
    }

    /** A test seam's action that appends {@code text} to {@code file} the first time it runs. */
    private static Runnable appendOnce(Path file, String text) {
        AtomicBoolean done = new AtomicBoolean();
        return () -> {
            if (done.compareAndSet(false, true)) {
                try {
                    Files.writeString(file, text, StandardOpenOption.APPEND);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
    }

    /**
     * A finished list without a final newline, as many generators write one, loads: renamed into
     * place, and when unchanged while something else reloads.
     */
    @Test
    void aFinishedListWithoutAFinalNewlineLoads() throws Exception {
        Reloader reloader = reloader();
        replaceListAtomically("unrelated.example\ncurl.corpus.test");
        assertThat(reloader.reload("renamed into place")).isTrue();
        assertThat(proxy.reasonFor(HELLO)).isEqualTo("forwarded");
        Files.writeString(config, Files.readString(config) + "# an unrelated change\n");
        assertThat(reloader.reload("the config, not the list")).isTrue();
    }

    /**
     * A tool writing a list in place in 21 writes 20 ms apart: the watch waits for the writes to
     * stop before it reads, so one reload finds the whole file.
     */
    @Test
    void theWatchWaitsForAListWrittenInStepsToBeFinished() throws Exception {
        reloader().watch();
        List<String> pieces = new ArrayList<>(List.of("unrelated.example\n"));
        for (int i = 0; i < 9; i++) {
            pieces.addAll(List.of("name" + i + ".exa", "mple\n"));
        }
        pieces.addAll(List.of("curl.cor", "pus.test\n"));
        try (BufferedWriter writer = Files.newBufferedWriter(list)) {
            for (String piece : pieces) {
                writer.write(piece);
                writer.flush();
                Thread.sleep(20);
            }
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> proxy.reasonFor(HELLO).equals("forwarded"));
        assertThat(proxy.admin("/metrics", null).body())
                .contains("snigate_config_reloads_total{result=\"success\"} 1.0")
                .contains("snigate_config_reloads_total{result=\"failure\"} 0.0");
    }

    @Test
    void aMillionNamesLoadWhileRealHandshakesKeepCompleting() throws Exception {
        String name = "app.list.test";
        TestCerts certs = TestCerts.forNames(name);
        try (TlsServer server = new TlsServer(certs, List.of("h2"))) {
            Files.writeString(list, name + "\n");
            Files.writeString(config, Files.readString(config).replace(
                    "127.0.0.1:" + upstream.port(), "127.0.0.1:" + server.port()));
            Reloader reloader = reloader();
            assertThat(reloader.reload("small list")).isTrue();

            Path big = dir.resolve("big.tmp");
            int generated = 999_999;
            try (BufferedWriter out = Files.newBufferedWriter(big)) {
                out.write("# a million names, in the three forms\n");
                for (int i = 0; i < generated; i++) {
                    String prefix = i % 10 == 0 ? "." : i % 10 == 1 ? "*." : "";
                    out.write(prefix + "host" + i + ".zone" + (i % 997) + ".example.com\n");
                }
                out.write(name + "\n");
            }

            AtomicBoolean reloading = new AtomicBoolean();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger completed = new AtomicInteger();
            AtomicInteger duringReload = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CompletableFuture<Void> clients = CompletableFuture.runAsync(() -> {
                // Bounded: it stops when told, and after 10,000 handshakes at the most.
                for (int i = 0; i < 10_000 && !stop.get(); i++) {
                    try {
                        handshake(certs, name);
                        completed.incrementAndGet();
                        if (reloading.get()) {
                            duringReload.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                        return;
                    }
                }
            }, runnable -> new Thread(runnable, "handshakes").start());
            await().atMost(Duration.ofSeconds(30)).until(() -> completed.get() >= 5 || failure.get() != null);

            Files.move(big, list, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            reloading.set(true);
            boolean reloaded = reloader.reload("a million names");
            reloading.set(false);
            int atSwap = completed.get();
            await().atMost(Duration.ofSeconds(30)).until(() -> completed.get() >= atSwap + 5 || failure.get() != null);
            stop.set(true);
            clients.get();

            assertThat(failure.get()).as("every handshake completed").isNull();
            assertThat(reloaded).isTrue();
            assertThat(duringReload.get()).as("handshakes that completed while the list loaded").isPositive();
            assertThat(proxy.server().currentConfig().nameLists().get(0).size()).isEqualTo(generated + 1);
            RouteTableProbe probe = new RouteTableProbe(proxy.server().currentConfig());
            assertThat(probe.label("host999998.zone" + (999_998 % 997) + ".example.com")).isEqualTo("allow.list");
            assertThat(probe.label("zone3.example.com")).isNull();
            assertThat(probe.label("deep.host10.zone10.example.com")).as(".suffix line").isEqualTo("allow.list");
            assertThat(probe.label("deep.host11.zone11.example.com")).as("*.suffix line").isEqualTo("allow.list");
            assertThat(probe.label("host11.zone11.example.com")).as("not the apex of *.suffix").isNull();
            proxy.drainLog();
        }
    }

    private void handshake(TestCerts certs, String name) throws IOException {
        try (SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket(proxy.connect(), name, 443, true)) {
            SSLParameters params = tls.getSSLParameters();
            params.setServerNames(List.of(new SNIHostName(name)));
            params.setEndpointIdentificationAlgorithm("HTTPS");
            tls.setSSLParameters(params);
            tls.startHandshake();
        }
    }

    /** The route label the running config's table gives a name, or null when it matches nothing. */
    private record RouteTableProbe(io.snigate.config.ProxyConfig config) {
        String label(String sni) {
            return io.snigate.route.RouteTable.from(config).route(sni, null, 443).routeLabel();
        }
    }
}
