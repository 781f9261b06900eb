package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snigate.core.Reason;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProxyHarness;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The README's tables against what they describe: the reasons against {@link Reason}, the access
 * log's fields against a real line and the example lines of the README and the pages, and every relative link of the README and of the pages under
 * src/site/markdown against the files of the repository, so that a user who clones it can follow
 * each one ({@code mvn site} turns the links between pages into links between rendered pages).
 * The operations page's metrics are checked by {@link OperationsDocTest}; the testing page's
 * catalogue must name every test class.
 */
@ExtendWith(NettyLeaks.class)
class DocumentationTest {
    private static final Path README = Path.of("README.md");
    /** A Markdown link's target: [text](target), without a title. */
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
    private static final Pattern BACKTICKED = Pattern.compile("`([^`]+)`");
    private static final Pattern ALERT = Pattern.compile("alert `([a-z_]+)`");

    /** The cells of each row of the first table in the README section headed {@code heading}. */
    private static List<String[]> table(String heading) throws IOException {
        String readme = Files.readString(README);
        int start = readme.indexOf("\n## " + heading + "\n");
        assertThat(start).as("a section '%s' in %s", heading, README).isNotNegative();
        int end = readme.indexOf("\n## ", start + 1);
        List<String[]> rows = new ArrayList<>();
        boolean seen = false;
        for (String line : readme.substring(start, end < 0 ? readme.length() : end).split("\n")) {
            if (line.startsWith("|")) {
                seen = true;
                if (!line.startsWith("|---")) {
                    String[] cells = line.substring(1, line.length() - 1).split(" \\| ");
                    rows.add(Stream.of(cells).map(String::strip).toArray(String[]::new));
                }
            } else if (seen) {
                break;
            }
        }
        assertThat(rows).as("the table under '%s'", heading).hasSizeGreaterThan(2);
        return rows.subList(1, rows.size()); // without the header
    }

    private static int alertNamed(String name) {
        try {
            return Reason.Alerts.class.getField(name.toUpperCase(java.util.Locale.ROOT)).getInt(null);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("no TLS alert constant for " + name, e);
        }
    }

    @Test
    void theReasonsTableListsEveryReasonWithItsOutcomeAndAlert() throws IOException {
        Map<String, String> documented = new LinkedHashMap<>();
        for (String[] row : table("Reasons")) {
            Matcher alert = ALERT.matcher(row[3]);
            documented.put(row[0], row[1] + ", alert " + (alert.find() ? alertNamed(alert.group(1)) : Reason.Alerts.NONE));
        }
        Map<String, String> actual = new LinkedHashMap<>();
        for (Reason reason : Reason.values()) {
            actual.put("`" + reason.label() + "`", reason.outcome().label() + ", alert " + reason.tlsAlert());
        }
        assertThat(documented).as("the README's reasons (outcome, TLS alert) in the order of core/Reason")
                .containsExactlyEntriesOf(actual);
    }

    @Test
    void theAccessLogTableListsTheFieldsOfARealLineAndOfEveryExample() throws Exception {
        Set<String> documented = new LinkedHashSet<>();
        for (String[] row : table("Access log")) {
            Matcher field = BACKTICKED.matcher(row[0]);
            while (field.find()) {
                documented.add(field.group(1));
            }
        }
        JsonNode line;
        try (ProxyHarness proxy = ProxyHarness.corpusTo(9)) {
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                client.shutdownOutput();
                ProxyHarness.readUntilClosed(client);
            }
            line = proxy.nextLog();
        }
        assertThat(line.get("reason").asText()).isEqualTo("plain_http");
        assertThat(fields(line)).as("the fields of a real access-log line").containsExactlyElementsOf(documented);

        Map<String, List<String>> examples = new LinkedHashMap<>();
        for (Path document : documents()) {
            String text = Files.readString(document);
            int n = 0;
            for (int example = text.indexOf("```json\n"); example >= 0; example = text.indexOf("```json\n", example + 1)) {
                String json = text.substring(example + 8, text.indexOf("\n```", example));
                if (json.startsWith("{\"time\"")) {
                    examples.put(document + " example " + ++n, fields(new ObjectMapper().readTree(json)));
                }
            }
        }
        assertThat(examples.keySet()).as("access-log examples in the README and the site's pages")
                .contains(README + " example 1");
        examples.forEach((where, fields) -> assertThat(fields).as("the fields of the access-log line in %s", where)
                .containsExactlyElementsOf(documented));
    }

    /** The README, then the site's pages in name order. */
    private static List<Path> documents() throws IOException {
        List<Path> documents = new ArrayList<>(List.of(README));
        try (Stream<Path> pages = Files.list(Path.of("src/site/markdown"))) {
            pages.filter(page -> page.toString().endsWith(".md")).sorted().forEach(documents::add);
        }
        return documents;
    }

    private static List<String> fields(JsonNode line) {
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = line.fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        return names;
    }

    @Test
    void everyRelativeLinkLeadsToAFileOfTheRepository() throws IOException {
        List<Path> documents = documents();
        assertThat(documents).as("the README and the site's pages").hasSizeGreaterThan(4);
        Set<String> broken = new TreeSet<>();
        int links = 0;
        for (Path document : documents) {
            Matcher link = LINK.matcher(Files.readString(document));
            while (link.find()) {
                String target = link.group(1);
                if (target.startsWith("#") || target.matches("[a-z]+:.*")) {
                    continue; // within the page, or another site's
                }
                links++;
                Path file = document.resolveSibling(target.replaceFirst("#.*", "")).normalize();
                if (!Files.exists(file)) {
                    broken.add(document + " -> " + target);
                }
            }
        }
        assertThat(links).as("relative links found").isGreaterThan(10);
        assertThat(broken).as("links to files that are not in the repository").isEmpty();
    }

    @Test
    void theTestingPageCataloguesEveryTestClass() throws IOException {
        Path tests = Path.of("src/test/java/io/snigate");
        Set<String> classes = new TreeSet<>();
        try (Stream<Path> files = Files.walk(tests)) {
            files.map(file -> tests.relativize(file).toString().replace('\\', '/'))
                    .filter(name -> name.endsWith("Test.java") || name.endsWith("IT.java"))
                    .forEach(name -> classes.add(name.substring(0, name.length() - ".java".length())));
        }
        assertThat(classes).as("test classes found").hasSizeGreaterThan(40);
        String catalogue = Files.readString(Path.of("src/site/markdown/testing.md"));
        Set<String> missing = new TreeSet<>();
        for (String name : classes) {
            if (!catalogue.contains("`" + name + "`")) {
                missing.add(name);
            }
        }
        assertThat(missing).as("test classes without a row in testing.md's catalogue (written as `package/Class`)")
                .isEmpty();
    }
}
