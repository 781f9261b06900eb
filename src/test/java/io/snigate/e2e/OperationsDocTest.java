package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.snigate.testing.ChildProxy;
import io.snigate.testing.ProcessRunner;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operations page (src/site/markdown/operations.md) against a real scrape: every metric family
 * the proxy publishes is in the page's tables with its type and label names, and every family
 * there is in the scrape. The proxy is the real main class in a child JVM, as {@code java -jar}
 * runs it, so the families that {@code Main} registers itself (the access-log writer's) are there
 * too, which an in-process {@code ProxyHarness} does not have.
 */
class OperationsDocTest {
    private static final Path PAGE = Path.of("src/site/markdown/operations.md");
    private static final Path README = Path.of("README.md");
    /** A table row: | `name` | type | labels | meaning | */
    private static final Pattern ROW = Pattern.compile("^\\| `([a-z][a-z0-9_]*)` \\| ([a-z]+) \\| ([^|]*) \\|.*\\|$");
    private static final Pattern TYPE = Pattern.compile("^# TYPE (\\S+) (\\S+)$");
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{([^}]*)})? ");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"");
    private static final Pattern BACKTICKED = Pattern.compile("`([a-z_]+)`");
    private static final Pattern SNIGATE_NAME = Pattern.compile("\\bsnigate_[a-z0-9_]*[a-z0-9]");

    @TempDir
    static Path dir;

    private static ChildProxy proxy;

    /** One family as the page or a scrape describes it. */
    private record Family(String type, Set<String> labels) {
        @Override
        public String toString() {
            return type + " " + labels;
        }
    }

    @BeforeAll
    static void start() throws Exception {
        Path list = Files.writeString(dir.resolve("allow.list"), "b.example.com\n.c.example.com\n");
        proxy = ChildProxy.start(dir, 2, (admin, listen) -> """
                listen:
                  - "127.0.0.1:%d"
                  - { address: "127.0.0.1:%d", original_dst: redirect }   # for the transparent listeners' series
                admin: "127.0.0.1:%d"
                routes:
                  - match: "a.example.com"
                    upstream: "127.0.0.1:9"
                  - match_file: "%s"                                        # for the lists' series
                    upstream: "127.0.0.1:9"
                """.formatted(listen[0], listen[1], admin, list));
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (proxy != null) {
            proxy.process().destroy();
            if (!proxy.process().waitFor(15, TimeUnit.SECONDS)) {
                proxy.close();
            }
        }
    }

    /** The families of the page's metric tables. */
    static Map<String, Family> documented(String page) {
        Map<String, Family> families = new TreeMap<>();
        for (String line : page.split("\n")) {
            Matcher row = ROW.matcher(line);
            if (row.matches()) {
                Set<String> labels = new TreeSet<>();
                Matcher label = BACKTICKED.matcher(row.group(3));
                while (label.find()) {
                    labels.add(label.group(1));
                }
                Family previous = families.put(row.group(1), new Family(row.group(2), labels));
                assertThat(previous).as("%s is listed twice", row.group(1)).isNull();
            }
        }
        return families;
    }

    /**
     * The families of a Prometheus text scrape: the name and type of each {@code # TYPE} line, and
     * the label names of its samples ({@code le} and {@code quantile} are part of the type).
     */
    static Map<String, Family> scraped(String scrape) {
        Map<String, Family> families = new TreeMap<>();
        for (String line : scrape.split("\n")) {
            Matcher type = TYPE.matcher(line);
            if (type.matches()) {
                families.put(type.group(1), new Family(type.group(2), new TreeSet<>()));
                continue;
            }
            Matcher sample = SAMPLE.matcher(line);
            if (line.startsWith("#") || !sample.find()) {
                continue;
            }
            Family family = familyOf(families, sample.group(1));
            assertThat(family).as("a sample without a # TYPE line: %s", line).isNotNull();
            Matcher label = LABEL.matcher(sample.group(2) == null ? "" : sample.group(2));
            while (label.find()) {
                if (!label.group(1).equals("le") && !label.group(1).equals("quantile")) {
                    family.labels().add(label.group(1));
                }
            }
        }
        return families;
    }

    /** The family a sample or a name in prose belongs to: itself, or a histogram's or summary's part. */
    private static Family familyOf(Map<String, Family> families, String name) {
        if (families.containsKey(name)) {
            return families.get(name);
        }
        for (String part : new String[] {"_bucket", "_count", "_sum"}) {
            if (name.endsWith(part)) {
                Family family = families.get(name.substring(0, name.length() - part.length()));
                if (family != null && !family.type().equals("counter") && !family.type().equals("gauge")) {
                    return family;
                }
            }
        }
        return null;
    }

    /**
     * Scrapes until {@code check} passes on the scrape, or fails with its last complaint after
     * 30 s. The JVM's meters are bound just after the proxy is ready, and the garbage-collection
     * pauses appear after a first collection, which {@code jcmd} asks for before each scrape.
     */
    private static Map<String, Family> scrapeUntil(Consumer<Map<String, Family>> check) {
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        AtomicReference<Map<String, Family>> last = new AtomicReference<>();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            ProcessRunner.Result gc = ProcessRunner.run(30, jcmd, Long.toString(proxy.process().pid()), "GC.run");
            assertThat(gc.exitCode()).as("jcmd GC.run: " + gc.stdout() + gc.stderr()).isZero();
            last.set(scraped(body()));
            check.accept(last.get());
        });
        return last.get();
    }

    @Test
    void thePageListsExactlyTheFamiliesOfARealScrapeWithTheirTypesAndLabels() throws IOException {
        Map<String, Family> page = documented(Files.readString(PAGE));
        assertThat(page).as("metric rows on %s", PAGE).hasSizeGreaterThan(40);
        Map<String, Family> scrape = scrapeUntil(
                families -> assertThat(families.keySet()).as("families in the scrape").containsAll(page.keySet()));
        Map<String, String> differences = new TreeMap<>();
        Set<String> names = new TreeSet<>(scrape.keySet());
        names.addAll(page.keySet());
        for (String name : names) {
            Family published = scrape.get(name);
            Family listed = page.get(name);
            if (!Objects.equals(published, listed)) {
                differences.put(name, "scrape: " + (published == null ? "none" : published)
                        + ", page: " + (listed == null ? "none" : listed));
            }
        }
        assertThat(differences).as("families on which the scrape and %s disagree", PAGE).isEmpty();
    }

    private static String body() throws IOException, InterruptedException {
        HttpResponse<String> response = proxy.get("/metrics");
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    @Test
    void everySnigateMetricTheReadmeAndThePageNameIsPublished() throws IOException {
        Map<Path, Set<String>> names = new TreeMap<>();
        for (Path doc : new Path[] {README, PAGE}) {
            Set<String> inDoc = new TreeSet<>();
            Matcher name = SNIGATE_NAME.matcher(Files.readString(doc));
            while (name.find()) {
                inDoc.add(name.group());
            }
            assertThat(inDoc).as("snigate_ names in %s", doc).isNotEmpty();
            names.put(doc, inDoc);
        }
        scrapeUntil(families -> names.forEach((doc, inDoc) -> assertThat(
                inDoc.stream().filter(name -> familyOf(families, name) == null).toList())
                .as("names in %s that no family of the scrape has", doc)
                .isEmpty()));
    }
}
