package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code match_file}: the three line forms, comments, overlaps counted, mistakes with the list's file and line. */
class MatchFileTest {
    @TempDir
    Path dir;

    private ProxyConfig load(String matchFile) throws Exception {
        Path config = Files.writeString(dir.resolve("routes.yaml"), """
                listen: "127.0.0.1:8443"
                routes:
                  - match_file: "%s"
                    upstream: "$sni:443"
                """.formatted(matchFile));
        return ConfigLoader.load(config);
    }

    private NameList list(String text) throws Exception {
        Files.writeString(dir.resolve("allow.list"), text);
        return load("allow.list").routes().get(0).names();
    }

    private static boolean holds(NameList list, String name, byte kind) {
        return list.contains(name, 0, NameList.hash(name, 0), kind);
    }

    @Test
    void theThreeFormsCommentsAndBlankLines() throws Exception {
        NameList list = list("""
                # an allowlist written by another tool
                api.example.com
                  *.cdn.example.net   # subdomains only
                .corp.example

                UPPER.Example.ORG.
                """);
        assertThat(list.size()).isEqualTo(4);
        assertThat(holds(list, "api.example.com", NameList.EXACT)).isTrue();
        assertThat(holds(list, "api.example.com", NameList.WILDCARD)).isFalse();
        assertThat(holds(list, "cdn.example.net", NameList.EXACT)).as("*.suffix is not its apex").isFalse();
        assertThat(holds(list, "cdn.example.net", NameList.WILDCARD)).isTrue();
        assertThat(holds(list, "corp.example", NameList.EXACT)).as(".suffix is its apex").isTrue();
        assertThat(holds(list, "corp.example", NameList.WILDCARD)).as("and every name below it").isTrue();
        assertThat(holds(list, "upper.example.org", NameList.EXACT)).as("case and a trailing dot do not matter").isTrue();
        assertThat(list.report()).isEqualTo(new NameList.LoadReport(0, null, 0, null, null, 0));
        assertThat(list.label()).isEqualTo("allow.list");
    }

    @Test
    void duplicatesAndEntriesAWiderOneCoversAreCountedNotFatal() throws Exception {
        NameList list = list("""
                .example.com
                a.example.com
                *.b.example.com
                x.example.net
                x.example.net
                example.org
                *.example.org
                """);
        Path file = dir.resolve("allow.list");
        assertThat(list.size()).as("example.org and *.example.org are one entry, as .example.org").isEqualTo(5);
        assertThat(list.report().duplicates()).isEqualTo(1);
        assertThat(list.report().firstDuplicate()).isEqualTo(file + ":5: x.example.net");
        assertThat(list.report().covered()).isEqualTo(2);
        assertThat(list.report().firstCovered())
                .isEqualTo(file + ":2: a.example.com (already matched by .example.com at " + file + ":1)");
        assertThat(list.summary()).isEqualTo("match_file \"allow.list\": 5 names from 1 file; 1 repeated (first "
                + file + ":5: x.example.net); 2 already matched by a wider entry (first " + file
                + ":2: a.example.com (already matched by .example.com at " + file + ":1))");
        assertThat(list.whereMatched("deep.b.example.com")).isEqualTo(file + ":3: *.b.example.com");
        assertThat(list.whereMatched("example.org")).isEqualTo(file + ":6: example.org");
        assertThat(list.whereMatched("w.example.org")).isEqualTo(file + ":7: *.example.org");
        assertThat(list.whereMatched("example.net")).isNull();
    }

    @Test
    void aBadLineStopsTheLoadWithTheListsFileAndLine() throws Exception {
        Path file = dir.resolve("allow.list");
        for (String[] bad : new String[][] {
            {"ok.example\nnot a name\n", ":2: \"not a name\": one name a line; start a comment with #"},
            {"ok.example\n\n192.0.2.1\n", ":3: \"192.0.2.1\": an IP address is not a name: clients never send one as"
                    + " SNI (RFC 6066); a line is a name, *.suffix (every name below it) or .suffix (the name and all"
                    + " below it)"},
            {"a.*.example\n", ":1: \"a.*.example\": \"*\" may only be the whole first label, as in \"*.example.com\";"
                    + " a line is a name, *.suffix (every name below it) or .suffix (the name and all below it)"},
            {"..example\n", ":1: \"..example\": write \".example.com\" for a name and all below it; a line is a name,"
                    + " *.suffix (every name below it) or .suffix (the name and all below it)"},
            {"bad_\u00e9.example\n", ":1: \"bad_\\xc3\\xa9.example\": not a valid host name: use dot-separated labels"
                    + " of 1 to 63 letters, digits, hyphens or underscores, 253 characters at most; write an"
                    + " internationalized name in its xn-- (punycode) form, as clients send it (idn2 NAME prints"
                    + " it); a line is a name,"
                    + " *.suffix (every name below it) or .suffix (the name and all below it)"},
        }) {
            Files.writeString(file, bad[0]);
            assertThatThrownBy(() -> load("allow.list")).isInstanceOf(ConfigException.class)
                    .hasMessage(file + bad[1]);
        }
    }

    @Test
    void aPathNamingNoFileOrAWildcardFolderIsAnErrorOfTheConfigLine() throws Exception {
        assertThatThrownBy(() -> load("missing.list")).isInstanceOf(ConfigException.class)
                .hasMessage(dir.resolve("routes.yaml") + ":3: match_file \"missing.list\" names no file (looked for "
                        + dir.resolve("missing.list") + "); create it (it may be empty), or fix the path");
        assertThatThrownBy(() -> load("*/allow.list")).isInstanceOf(ConfigException.class)
                .hasMessage(dir.resolve("routes.yaml") + ":3: match_file \"*/allow.list\": only the file name may"
                        + " have wildcards (* ? [ ] { }), as in \"/etc/snigate/allow.d/*.list\"");
        assertThatThrownBy(() -> load("{a,b}/allow.list")).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(dir.resolve("routes.yaml") + ":3: match_file \"{a,b}/allow.list\": only the"
                        + " file name may have wildcards");
    }

    /** Also when written another way: "./allow.list" is the list "allow.list" is. */
    @Test
    void aListInTwoRoutesThatAcceptTheSameClientsIsAnError() throws Exception {
        Files.writeString(dir.resolve("allow.list"), "a.example\n");
        for (String second : List.of(dir.resolve("allow.list").toString(), dir + "/./allow.list")) {
            assertThatThrownBy(() -> ConfigLoader.parse("""
                    listen: "127.0.0.1:8443"
                    routes:
                      - match_file: "%s"
                        upstream: "192.0.2.1:443"
                      - match_file: "%s"
                        upstream: "192.0.2.2:443"
                    """.formatted(dir.resolve("allow.list"), second), "routes.yaml"))
                    .isInstanceOf(ConfigException.class)
                    .hasMessage("routes.yaml:5: match_file \"" + second + "\" is also the list of the route at line 3,"
                            + " and both accept any client; a list may be in several routes only with alpn lists or ports"
                            + " that do not overlap");
        }
    }

    @Test
    void namesThatDifferOnlyInTheirFirstCharactersSpreadOverTheTable() throws Exception {
        // Every three-character .com name and every four-letter .net name: their backward hashes
        // differ in their low bits only, which a weak spread packs into a few long runs.
        StringBuilder text = new StringBuilder();
        String chars = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (char a : chars.toCharArray()) {
            for (char b : chars.toCharArray()) {
                for (char c : chars.toCharArray()) {
                    text.append(a).append(b).append(c).append(".com\n");
                }
            }
        }
        for (int i = 0; i < 26 * 26 * 26 * 26; i++) {
            text.append((char) ('a' + i / 17576)).append((char) ('a' + i / 676 % 26)).append((char) ('a' + i / 26 % 26))
                    .append((char) ('a' + i % 26)).append(".net\n");
        }
        NameList list = list(text.toString());
        assertThat(list.size()).isEqualTo(36 * 36 * 36 + 26 * 26 * 26 * 26);
        assertThat(list.index().longestProbeRun()).as("the most slots a miss can walk").isLessThan(100);
        assertThat(holds(list, "zzzz.net", NameList.EXACT)).isTrue();
        assertThat(holds(list, "zzzzz.net", NameList.EXACT)).isFalse();
    }

    @Test
    void blankLinesTakeNoRoomAndTooManyNamesAreRefused() throws Exception {
        byte[] blank = new byte[64 << 20];
        java.util.Arrays.fill(blank, (byte) '\n');
        Files.write(dir.resolve("allow.list"), blank);
        assertThat(load("allow.list").routes().get(0).names().size())
                .as("64 MiB of blank lines, sized per line, would not fit the tests' heap").isZero();

        byte[] names = new byte[2 * (NameListReader.MAX_NAMES + 1)];
        for (int i = 0; i < names.length; i += 2) {
            names[i] = 'a';
            names[i + 1] = '\n';
        }
        Path file = Files.write(dir.resolve("allow.list"), names);
        assertThatThrownBy(() -> load("allow.list")).isInstanceOf(ConfigException.class)
                .hasMessage(file + ": brings the names of match_file \"allow.list\" over 10000000; split them among"
                        + " routes, or check the path");
    }

    @Test
    void wildcardCharactersInTheConfigsOwnFolderAreJustCharacters() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("app[1]"));
        Files.writeString(folder.resolve("allow.list"), "a.example\n");
        Path config = Files.writeString(folder.resolve("routes.yaml"), """
                listen: "127.0.0.1:8443"
                routes:
                  - match_file: "allow.list"
                    upstream: "$sni:443"
                """);
        NameList list = ConfigLoader.load(config).routes().get(0).names();
        assertThat(holds(list, "a.example", NameList.EXACT)).isTrue();
        assertThat(list.changedOnDisk()).isFalse();
    }

    @Test
    void aByteOrderMarkIsSkippedAndAFolderIsNamedAsOne() throws Exception {
        byte[] bom = {(byte) 0xef, (byte) 0xbb, (byte) 0xbf};
        byte[] text = "a.example\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] both = java.util.Arrays.copyOf(bom, bom.length + text.length);
        System.arraycopy(text, 0, both, bom.length, text.length);
        Files.write(dir.resolve("allow.list"), both);
        assertThat(holds(load("allow.list").routes().get(0).names(), "a.example", NameList.EXACT)).isTrue();

        Files.createDirectories(dir.resolve("allow.d"));
        assertThatThrownBy(() -> load("allow.d")).isInstanceOf(ConfigException.class)
                .hasMessage(dir.resolve("routes.yaml") + ":3: match_file \"allow.d\" is a folder; name its files, as in"
                        + " \"allow.d/*.list\"");
    }

    @Test
    void aBadGlobOrANulIsAnErrorOfTheConfigLine() throws Exception {
        Files.createDirectories(dir.resolve("allow.d"));
        for (String[] bad : new String[][] {
            {"allow.d/[a.list", "Missing ']"},
            {"allow.d/{a", "Missing '}"},
            {"allow.d/{a,{b}}.list", "Cannot nest groups"},
        }) {
            assertThatThrownBy(() -> load(bad[0])).isInstanceOf(ConfigException.class)
                    .hasMessage(dir.resolve("routes.yaml") + ":3: match_file \"" + bad[0] + "\": its file name is not a"
                            + " valid glob (" + bad[1] + "); close every [ with ] and every { with }, as in"
                            + " \"allow.d/*.list\" or \"allow.d/{corp,vendor}.list\"");
        }
        // \0 in double quotes is YAML's escape for a NUL character, which no path may hold.
        assertThatThrownBy(() -> load("allow\\0.list")).isInstanceOf(ConfigException.class)
                .hasMessage(dir.resolve("routes.yaml") + ":3: match_file \"allow\0.list\" is not a path (Nul character"
                        + " not allowed); write the path of a file, relative to this file's folder or absolute");
    }

    @Test
    void aGlobReadsEveryFileInNameOrderRelativeToTheConfig() throws Exception {
        Path lists = Files.createDirectories(dir.resolve("allow.d"));
        Files.writeString(lists.resolve("b.list"), "b.example\n");
        Files.writeString(lists.resolve("a.list"), "a.example\n.shared.example\n");
        Files.writeString(lists.resolve("ignored.txt"), "not read\n");
        // A deploy tool's hidden temporary copy, with a name since removed: not read, as a shell's
        // glob would not (failed before: read, and its name allowed).
        Files.writeString(lists.resolve(".ansible_tmp1vendor.list"), "removed.example\n");
        NameList list = load("allow.d/*.list").routes().get(0).names();
        assertThat(list.files()).containsExactly(lists.resolve("a.list"), lists.resolve("b.list"));
        assertThat(list.size()).isEqualTo(3);
        assertThat(list.whereMatched("x.shared.example")).isEqualTo(lists.resolve("a.list") + ":2: .shared.example");
        assertThat(list.summary()).isEqualTo("match_file \"allow.d/*.list\": 3 names from 2 files");
        assertThat(list.changedOnDisk()).isFalse();
        Files.writeString(lists.resolve("c.list"), "c.example\n");
        assertThat(list.changedOnDisk()).as("a file added to the glob").isTrue();
    }

    @Test
    void anEmptyListLoadsAndMatchesNothing() throws Exception {
        NameList list = list("# nothing allowed yet\n");
        assertThat(list.size()).isZero();
        assertThat(holds(list, "example.com", NameList.EXACT)).isFalse();
    }
}
