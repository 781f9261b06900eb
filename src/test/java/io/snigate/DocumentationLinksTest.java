package io.snigate;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README and the pages under src/site/markdown link only to files that are in the repository,
 * so that a user who clones it can follow every link (and {@code mvn site} turns the links
 * between pages into links between the rendered pages).
 */
class DocumentationLinksTest {
    /** A Markdown link's target: [text](target), without a title. */
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");

    private static List<Path> documents() throws IOException {
        List<Path> documents = new ArrayList<>(List.of(Path.of("README.md")));
        try (Stream<Path> pages = Files.list(Path.of("src/site/markdown"))) {
            pages.filter(page -> page.toString().endsWith(".md")).sorted().forEach(documents::add);
        }
        return documents;
    }

    @Test
    void everyRelativeLinkLeadsToAFileOfTheRepository() throws IOException {
        List<Path> documents = documents();
        assertThat(documents).as("the README and the site's pages").hasSizeGreaterThan(4);
        TreeSet<String> broken = new TreeSet<>();
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
}
