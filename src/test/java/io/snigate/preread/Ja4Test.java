package io.snigate.preread;

import static io.snigate.preread.ParserHarness.parse;
import static io.snigate.preread.TestHellos.hello;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import io.snigate.preread.ParserHarness.Parsed;
import io.snigate.testing.Corpus;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The JA4 fingerprint the parser reports, against the published examples of FoxIO's specification
 * (technical_details/JA4.md), against each of its rules, and against {@link NaiveJa4}, a second
 * computation written apart, over every corpus ClientHello and over hellos with GREASE in every
 * list.
 */
class Ja4Test {

    /** The cipher suites of the specification's example, in its order. */
    private static final int[] SPEC_CIPHERS = {
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
        0x009d, 0x002f, 0x0035
    };
    /** The signature algorithms of the specification's example, in its order. */
    private static final int[] SPEC_SIGNATURE_ALGORITHMS = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};

    private static final String SPEC_JA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1";

    /** FoxIO's published JA4 of Chromium 152 and later over TCP, GREASE in signature_algorithms. */
    static final String CHROMIUM_152_JA4 = "t13d1517h2_8daaf6152771_cb7bf5808d99";

    private static final int[] GREASE = {
        0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa, 0xbaba,
        0xcaca, 0xdada, 0xeaea, 0xfafa
    };

    /**
     * A hello with the lists of the specification's example, its extensions in the example's order
     * (001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015), and with
     * {@code grease}, GREASE where Chrome 152 puts it: first among the cipher suites, the
     * extensions, the versions, the groups and the signature algorithms, and a last extension.
     */
    static TestHellos.Builder specExample(boolean grease, int... signatureAlgorithms) {
        TestHellos.Builder b = hello().recordVersion(TlsVersions.TLS_1_0).legacyVersion(TlsVersions.TLS_1_2);
        b.cipherSuites(grease ? prepend(0x6a6a, SPEC_CIPHERS) : SPEC_CIPHERS);
        if (grease) {
            b.otherExtension(0x2a2a);
        }
        b.otherExtension(0x001b)
                .sni("spec.example")
                .otherExtension(0x0033)
                .alpn("h2", "http/1.1")
                .otherExtension(0x4469)
                .otherExtension(0x0017)
                .otherExtension(0x002d)
                .signatureAlgorithms(grease ? prepend(0xbaba, signatureAlgorithms) : signatureAlgorithms)
                .otherExtension(0x0005)
                .otherExtension(0x0023)
                .otherExtension(0x0012)
                .supportedVersions(grease ? new int[] {0x8a8a, 0x0304, 0x0303} : new int[] {0x0304, 0x0303})
                .otherExtension(0xff01)
                .otherExtension(0x000b)
                .supportedGroups(grease ? new int[] {0x4a4a, 0x001d, 0x0017} : new int[] {0x001d, 0x0017})
                .otherExtension(0x0015);
        if (grease) {
            b.otherExtension(0xfafa);
        }
        return b;
    }

    private static String ja4(byte[] wire) {
        Parsed parsed = parse(wire, false);
        assertThat(parsed.hello()).as("facts of %s", parsed.verdict()).isNotNull();
        return parsed.hello().ja4();
    }

    @Nested
    class TheSpecificationsExamples {

        @Test
        void workedExample() {
            assertThat(ja4(specExample(false, SPEC_SIGNATURE_ALGORITHMS).record())).isEqualTo(SPEC_JA4);
        }

        @Test
        void workedExampleWithGreaseInEveryListAsChrome152SendsIt() {
            assertThat(ja4(specExample(true, SPEC_SIGNATURE_ALGORITHMS).record())).isEqualTo(SPEC_JA4);
        }

        @Test
        void workedExampleSplitIntoRecords() {
            assertThat(ja4(specExample(true, SPEC_SIGNATURE_ALGORITHMS).records(4))).isEqualTo(SPEC_JA4);
        }

        @Test
        void withoutSignatureAlgorithmsTheUnderscoreIsLeftOut() {
            // The specification hashes the example's extension list alone to 6d807ffa2a79. A
            // signature_algorithms of GREASE alone leaves no algorithm, so the hello hashes so too.
            assertThat(ja4(specExample(false, 0x1a1a).record())).isEqualTo("t13d1516h2_8daaf6152771_6d807ffa2a79");
        }

        /**
         * Two ClientHellos of a real Chromium 156 (Debian's, headless, captured on loopback), with
         * different GREASE values in every list, signature_algorithms included (first there since
         * Chrome 152), and the extensions in different orders: both have the fingerprint FoxIO
         * published for Chromium 152 and later (its pcap/sigalg-grease.pcap), which FoxIO's own
         * python/ja4.py also gives for these two captures.
         */
        @Test
        void realChromiumWithGreaseInItsSignatureAlgorithms() {
            byte[] one = Corpus.resource("io/snigate/preread/chromium-156-sigalg-grease-1a1a.bin");
            byte[] other = Corpus.resource("io/snigate/preread/chromium-156-sigalg-grease-fafa.bin");
            // signature_algorithms: type 000d, length 26, list of 24 bytes opening with GREASE.
            assertThat(TestHellos.indexOf(one, new byte[] {0, 13, 0, 26, 0, 24, 0x1a, 0x1a})).isPositive();
            assertThat(TestHellos.indexOf(other, new byte[] {0, 13, 0, 26, 0, 24, (byte) 0xfa, (byte) 0xfa})).isPositive();

            assertThat(ja4(one)).isEqualTo(CHROMIUM_152_JA4).isEqualTo(NaiveJa4.of(one));
            assertThat(ja4(other)).isEqualTo(CHROMIUM_152_JA4).isEqualTo(NaiveJa4.of(other));
            assertThat(parse(one, false).hello().ech()).as("Chromium's GREASE ECH, of type outer").isTrue();
        }

        @Test
        void theSecondComputationGivesTheSpecificationsRawAndOriginalOrderForms() {
            NaiveJa4.Raw raw = NaiveJa4.raw(specExample(true, SPEC_SIGNATURE_ALGORITHMS).record());

            assertThat(raw.hashed()).isEqualTo(SPEC_JA4);
            assertThat(raw.sorted()).isEqualTo("t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,"
                    + "c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
                    + "0403,0804,0401,0503,0805,0501,0806,0601");
            assertThat(raw.originalHashed()).isEqualTo("t13d1516h2_acb858a92679_18f69afefd3d");
        }
    }

    @Nested
    class TheRules {

        @ParameterizedTest(name = "{0} -> {1}")
        @CsvSource({
            // The specification's table for a first protocol not alphanumeric at both ends.
            "ab, ab", "20, 20", "abcd, ad", "2061, 21", "30ab, 3b", "6120, 60", "3031abcd, 3d", "30abcd31, 01",
            // Letters and digits as they are.
            "6832, h2", "687474702f312e31, h1", "68, hh", "41637a, Az", "2f, 2f", "613f, 6f"
        })
        void alpnCharactersOfTheFirstProtocol(String firstProtocolHex, String expected) {
            String protocol = new String(java.util.HexFormat.of().parseHex(firstProtocolHex), StandardCharsets.ISO_8859_1);

            String fingerprint = ja4(hello().sni("a.example").alpn(protocol, "h2").record());

            assertThat(fingerprint.substring(8, 10)).isEqualTo(expected);
            assertThat(fingerprint).isEqualTo(NaiveJa4.of(hello().sni("a.example").alpn(protocol, "h2").record()));
        }

        @Test
        void noAlpnIsZeroZero() {
            assertThat(ja4(hello().sni("a.example").record()).substring(8, 10)).isEqualTo("00");
        }

        @Test
        void versionComesFromSupportedVersionsNeverFromTheRecord() {
            assertThat(ja4(hello().recordVersion(0x0301).legacyVersion(0x0303).sni("a.example")
                    .supportedVersions(0x0303, 0x0304).record())).startsWith("t13");
            assertThat(ja4(hello().recordVersion(0x0301).legacyVersion(0x0303).sni("a.example").record()))
                    .startsWith("t12");
            assertThat(ja4(hello().recordVersion(0x0303).legacyVersion(0x0301).sni("a.example").record()))
                    .startsWith("t10");
        }

        @ParameterizedTest(name = "supported_versions {0} -> {1}")
        @CsvSource({"0304, 13", "0303, 12", "0302, 11", "0301, 10", "0300, s3", "0002, s2", "feff, d1", "fefd, d2",
            "fefc, d3", "7f1c, 00", "0305, 00", "0a0a, 00"})
        void versionCodes(String version, String code) {
            byte[] wire = hello().sni("a.example").supportedVersions(Integer.parseInt(version, 16)).record();

            assertThat(ja4(wire).substring(1, 3)).isEqualTo(code);
        }

        @Test
        void supportedVersionsOfGreaseAloneNamesNoVersionEvenWithALegacyOne() {
            assertThat(ja4(hello().legacyVersion(0x0303).sni("a.example").supportedVersions(0x2a2a, 0xdada).record()))
                    .startsWith("t00");
        }

        @Test
        void legacyVersionSsl2() {
            assertThat(ja4(hello().legacyVersion(0x0002).sni("a.example").record())).startsWith("ts2");
        }

        @Test
        void sniMarksAServerNameExtensionWhateverNameItHolds() {
            assertThat(ja4(hello().sni("a.example").record()).charAt(3)).isEqualTo('d');
            assertThat(ja4(hello().alpn("h2").record()).charAt(3)).isEqualTo('i');
            Parsed invalidName = parse(hello().sni("bad name.example").record(), false);
            assertThat(invalidName.reason()).isEqualTo(Reason.INVALID_SNI);
            assertThat(invalidName.hello().ja4().charAt(3)).isEqualTo('d');
        }

        @Test
        void countsLeaveOutGreaseKeepServerNameAndAlpnAndStopAt99() {
            byte[] counted = hello().cipherSuites(0x0a0a, 0x1301, 0x1302, 0xfafa).sni("a.example").alpn("h2")
                    .otherExtension(0x1a1a).otherExtension(0x0017).record();
            assertThat(ja4(counted).substring(4, 8)).isEqualTo("0203");

            int[] many = IntStream.range(0x0100, 0x0100 + 120).toArray();
            TestHellos.Builder crowded = hello().cipherSuites(many).sni("a.example");
            for (int type = 0x0100; type < 0x0100 + 110; type++) {
                crowded.otherExtension(type);
            }
            assertThat(ja4(crowded.record()).substring(4, 8)).isEqualTo("9999");
        }

        @Test
        void listsEmptyOnceGreaseIsLeftOutHashToZeros() {
            String onlyGreaseCiphers = ja4(hello().cipherSuites(0x0a0a, 0x1a1a).sni("a.example").alpn("h2").record());
            assertThat(onlyGreaseCiphers).isEqualTo("t12d0002h2_000000000000_000000000000");

            String noExtensionsBlock = ja4(hello().withoutExtensionsBlock().record());
            assertThat(noExtensionsBlock).endsWith("_000000000000").startsWith("t12i0300");
        }

        @Test
        void signatureAlgorithmsKeepTheirOrderButLoseGrease() {
            String inOrder = ja4(hello().sni("a.example").signatureAlgorithms(0x0804, 0x0403).record());
            String reversed = ja4(hello().sni("a.example").signatureAlgorithms(0x0403, 0x0804).record());
            String greased = ja4(hello().sni("a.example").signatureAlgorithms(0x0804, 0x3a3a, 0x0403, 0xeaea).record());

            assertThat(inOrder).isNotEqualTo(reversed).isEqualTo(greased);
            assertThat(inOrder.substring(24)).isEqualTo(NaiveJa4.hash("000d_0804,0403"));
        }

        @Test
        void extensionsAreSortedAndCiphersToo() {
            String one = ja4(hello().cipherSuites(0x1301, 0xc02f).sni("a.example").otherExtension(0x0017)
                    .otherExtension(0x0005).record());
            String other = ja4(hello().cipherSuites(0xc02f, 0x1301).otherExtension(0x0005).sni("b.example")
                    .otherExtension(0x0017).record());

            assertThat(one).isEqualTo(other);
            assertThat(one.substring(11, 23)).isEqualTo(NaiveJa4.hash("1301,c02f"));
            assertThat(one.substring(24)).isEqualTo(NaiveJa4.hash("0005,0017"));
        }

        @Test
        void reportedForRejectedHellosToo() {
            byte[] noSni = hello().alpn("h2").record();
            byte[] invalidSni = hello().sni("10.0.0.1").alpn("h2").record();

            assertThat(parse(noSni, false).hello().ja4()).isEqualTo(NaiveJa4.of(noSni)).startsWith("t12i");
            assertThat(parse(invalidSni, false).reason()).isEqualTo(Reason.INVALID_SNI);
            assertThat(parse(invalidSni, false).hello().ja4()).isEqualTo(NaiveJa4.of(invalidSni)).startsWith("t12d");
        }
    }

    @Nested
    class AgainstTheSecondComputation {

        @TestFactory
        Stream<DynamicTest> everyCorpusHelloThatParses() {
            return Corpus.entries().stream()
                    .filter(entry -> entry.reframable(Corpus.bytes(entry)))
                    .map(entry -> dynamicTest(entry.file(), () -> {
                        byte[] wire = Corpus.bytes(entry);
                        String expected = NaiveJa4.of(wire);
                        assertThat(ja4(wire)).isEqualTo(expected);
                        assertThat(ja4(Corpus.reframe(wire, 5, new Random(entry.file().hashCode()))))
                                .isEqualTo(expected);
                    }));
        }

        /**
         * What FoxIO's own implementation says of the corpus: python/ja4.py of
         * github.com/FoxIO-LLC/ja4 at 0e54bc8, through tshark 4.0.17, over each file wrapped in a
         * pcap by {@code text2pcap -T 40000,443}. A third opinion, and a pin: a change to both
         * computations here at once cannot pass unseen.
         */
        @ParameterizedTest(name = "{0}")
        @CsvSource({
            "captured/curl-connect-to-tls12.bin, t12d2807h2_d943125447b4_a44c6288192a",
            "captured/curl-default.bin, t13d3112h2_e8f1e7e78f70_b26ce05bbdd6",
            "captured/curl-http1.1.bin, t13d3112h1_e8f1e7e78f70_b26ce05bbdd6",
            "captured/curl-http2.bin, t13d3112h2_e8f1e7e78f70_b26ce05bbdd6",
            "captured/jdk17-httpclient-h2.bin, t13d3713h2_db35923f8641_7c76daad20ec",
            "captured/jdk17-sslsocket-alpn.bin, t13d3713h2_db35923f8641_7c76daad20ec",
            "captured/jdk17-sslsocket-noalpn.bin, t13d371200_db35923f8641_7c76daad20ec",
            "captured/openssl-alpn-h2-http11.bin, t13d3111h2_e8f1e7e78f70_1f22a2ca17c4",
            "captured/openssl-no-tls13-alpn-http11.bin, t12d2808h1_d943125447b4_e7e480e5a997",
            "captured/openssl-noservername.bin, t13i310900_e8f1e7e78f70_1f22a2ca17c4",
            "captured/openssl-sni-253.bin, t13d311000_e8f1e7e78f70_1f22a2ca17c4",
            "captured/openssl-tls12.bin, t12d280700_d943125447b4_e7e480e5a997",
            "captured/openssl-tls13-default.bin, t13d311000_e8f1e7e78f70_1f22a2ca17c4",
            "crafted/frag2-curl-http2-split-in-sni.bin, t13d3112h2_e8f1e7e78f70_b26ce05bbdd6",
            "crafted/frag2-jdk17-header-split.bin, t13d3713h2_db35923f8641_7c76daad20ec",
            "crafted/frag2-no-sni-openssl.bin, t13i310900_e8f1e7e78f70_1f22a2ca17c4",
            "crafted/frag2-openssl-sni-253.bin, t13d311000_e8f1e7e78f70_1f22a2ca17c4",
            "crafted/frag2-openssl-tls13.bin, t13d311000_e8f1e7e78f70_1f22a2ca17c4",
            "crafted/no-sni-curl.bin, t13i3111h2_e8f1e7e78f70_b26ce05bbdd6",
            "crafted/no-sni-jdk17.bin, t13i3712h2_db35923f8641_7c76daad20ec",
            "crafted/no-sni-openssl-tls12.bin, t12i280600_d943125447b4_e7e480e5a997",
            "crafted/sni-mixed-case-jdk17.bin, t13d3713h2_db35923f8641_7c76daad20ec",
            "crafted/sni-trailing-dot-openssl.bin, t13d311000_e8f1e7e78f70_1f22a2ca17c4",
            "crafted/sni-trailing-dot-uppercase-curl.bin, t13d3112h1_e8f1e7e78f70_b26ce05bbdd6",
            "crafted/sni-uppercase-curl.bin, t13d3112h2_e8f1e7e78f70_b26ce05bbdd6",
        })
        void realClientsFingerprints(String file, String expected) {
            assertThat(ja4(Corpus.resource("corpus/" + file))).isEqualTo(expected);
        }

        /**
         * Hellos of random shapes, each built twice from the same choices: once plain, once with
         * GREASE in the cipher suites, the extensions, supported_versions, signature_algorithms
         * and supported_groups.
         */
        @TestFactory
        Stream<DynamicTest> greasedHellos() {
            long seed = 0x6a4_2026L;
            Random seeds = new Random(seed);
            List<DynamicTest> tests = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                long shape = seeds.nextLong();
                tests.add(dynamicTest("shape " + shape, () -> {
                    byte[] plain = randomHello(shape, null);
                    byte[] greased = randomHello(shape, new Random(shape));
                    assertThat(greased).isNotEqualTo(plain);
                    assertThat(ja4(greased)).isEqualTo(NaiveJa4.of(greased)).isEqualTo(ja4(plain));
                    assertThat(ja4(plain)).isEqualTo(NaiveJa4.of(plain));
                }));
            }
            return tests.stream();
        }
    }

    /**
     * The fingerprints a thread remembers ({@link Ja4Memory}): every hello is fingerprinted
     * several times over on this thread, so most answers below come from the memory, and each must
     * still be what the second computation says.
     */
    @Nested
    class TheMemory {

        @Test
        void givesAFingerprintBackOnlyForTheSameLists() {
            List<byte[]> neighbours = List.of(
                    specExample(false, SPEC_SIGNATURE_ALGORITHMS).record(),
                    specExample(true, SPEC_SIGNATURE_ALGORITHMS).record(),
                    specExample(false, 0x0804, 0x0403, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601).record(),
                    specExample(false, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806).record(),
                    specExample(false, 0x1a1a).record(),
                    hello().cipherSuites(0x1301, 0x1302).sni("a.example").otherExtension(0x0017).record(),
                    hello().cipherSuites(0x1301).sni("a.example").otherExtension(0x0017).otherExtension(0x1302).record(),
                    hello().cipherSuites(0x1301, 0x1302).sni("a.example").alpn("h2").otherExtension(0x0017).record(),
                    hello().cipherSuites(0x1301, 0x1302).alpn("h2").otherExtension(0x0017).record());
            for (int round = 0; round < 3; round++) {
                for (byte[] hello : neighbours) {
                    assertThat(ja4(hello)).as("round %d", round).isEqualTo(NaiveJa4.of(hello));
                }
            }
            assertThat(neighbours.stream().map(NaiveJa4::of).distinct()).hasSize(neighbours.size() - 1);
        }

        @Test
        void moreKindsOfClientThanItHasSlots() {
            Random seeds = new Random(0x6a4_5107L);
            long[] shapes = seeds.longs(3L * Ja4Memory.SLOTS).toArray();
            for (int round = 0; round < 2; round++) {
                for (long shape : shapes) {
                    byte[] hello = randomHello(shape, null);
                    assertThat(ja4(hello)).as("shape %d, round %d", shape, round).isEqualTo(NaiveJa4.of(hello));
                }
            }
        }

        @Test
        void inputsThatShareASlotAreToldApart() {
            Ja4Memory memory = new Ja4Memory();
            // 31 * (31 * 1 + 0) + 31 == 31 * (31 * 1 + 1) + 0: one hash, one slot.
            int[] one = {0, 31};
            int[] other = {1, 0};
            memory.remember(one, 2, "one");

            assertThat(memory.find(one, 2)).isEqualTo("one");
            assertThat(memory.find(other, 2)).isNull();
            assertThat(memory.find(new int[] {0, 31, 7}, 2)).as("only the length given counts").isEqualTo("one");
            assertThat(memory.find(new int[] {0}, 1)).isNull();
            memory.remember(other, 2, "other");
            assertThat(memory.find(other, 2)).isEqualTo("other");
            assertThat(memory.find(one, 2)).as("its slot now holds the other").isNull();
        }

        @Test
        void rememberNothingLongerThanItsBound() {
            Ja4Memory memory = new Ja4Memory();
            int[] longest = new int[Ja4Memory.MAX_INPUT + 1];
            memory.remember(longest, Ja4Memory.MAX_INPUT + 1, "long");
            memory.remember(longest, Ja4Memory.MAX_INPUT, "at the bound");

            assertThat(memory.find(longest, Ja4Memory.MAX_INPUT + 1)).isNull();
            assertThat(memory.find(longest, Ja4Memory.MAX_INPUT)).isEqualTo("at the bound");
        }
    }

    private static final int[] CIPHER_POOL = {
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d,
        0x002f, 0x0035, 0x000a, 0x00ff, 0x5600, 0xfe00, 0xfeff, 0x0000, 0xffff
    };
    private static final int[] SIGNATURE_ALGORITHM_POOL = {
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807, 0x0808, 0x0201, 0x0904, 0x0905
    };
    private static final int[] GROUP_POOL = {0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0100, 0x11ec, 0x6399};
    private static final int[] VERSION_POOL = {0x0304, 0x0303, 0x0302, 0x0301};
    private static final int[] OTHER_EXTENSION_POOL = {
        0x0005, 0x000b, 0x0012, 0x0015, 0x0016, 0x0017, 0x001b, 0x001c, 0x0023, 0x002d, 0x0031, 0x0033, 0x4469,
        0x44cd, 0xff01, 0x0029
    };
    private static final String[] ALPN_POOL = {"h2", "http/1.1", "h3", "x", "\u00ff\u0001", "acme-tls/1", "-h2-"};

    /**
     * A hello whose shape {@code shape} decides; with {@code grease}, GREASE values go into every
     * list at places it chooses, so the same shape with and without GREASE differs only there.
     */
    private static byte[] randomHello(long shape, Random grease) {
        Random r = new Random(shape);
        TestHellos.Builder b = hello().legacyVersion(r.nextBoolean() ? 0x0303 : 0x0301);
        b.cipherSuites(greased(grease, pick(r, CIPHER_POOL, 1 + r.nextInt(CIPHER_POOL.length))));
        List<Consumer<TestHellos.Builder>> extensions = new ArrayList<>();
        if (r.nextInt(10) < 7) {
            String name = "host" + r.nextInt(1000) + ".example";
            extensions.add(x -> x.sni(name));
        }
        if (r.nextInt(10) < 6) {
            String[] protocols = new String[1 + r.nextInt(3)];
            for (int i = 0; i < protocols.length; i++) {
                protocols[i] = ALPN_POOL[r.nextInt(ALPN_POOL.length)];
            }
            extensions.add(x -> x.alpn(protocols));
        }
        if (r.nextInt(10) < 7) {
            int[] versions = greased(grease, pick(r, VERSION_POOL, 1 + r.nextInt(VERSION_POOL.length)));
            extensions.add(x -> x.supportedVersions(versions));
        }
        if (r.nextInt(10) < 8) {
            int[] schemes = greased(grease, pick(r, SIGNATURE_ALGORITHM_POOL, 1 + r.nextInt(8)));
            extensions.add(x -> x.signatureAlgorithms(schemes));
        }
        if (r.nextInt(10) < 7) {
            int[] groups = greased(grease, pick(r, GROUP_POOL, 1 + r.nextInt(GROUP_POOL.length)));
            extensions.add(x -> x.supportedGroups(groups));
        }
        for (int type : pick(r, OTHER_EXTENSION_POOL, r.nextInt(OTHER_EXTENSION_POOL.length))) {
            extensions.add(x -> x.otherExtension(type));
        }
        Collections.shuffle(extensions, r);
        if (grease != null) {
            for (int i = 0; i < 1 + grease.nextInt(2); i++) {
                int type = grease(grease);
                extensions.add(grease.nextInt(extensions.size() + 1), x -> x.otherExtension(type));
            }
        }
        extensions.forEach(extension -> extension.accept(b));
        return b.record();
    }

    /** {@code count} values of {@code pool} in a random order. */
    private static int[] pick(Random random, int[] pool, int count) {
        List<Integer> values = new ArrayList<>();
        for (int value : pool) {
            values.add(value);
        }
        Collections.shuffle(values, random);
        return values.subList(0, count).stream().mapToInt(Integer::intValue).toArray();
    }

    /** {@code values} with one GREASE value put in where {@code grease} chooses, or as they are without it. */
    private static int[] greased(Random grease, int[] values) {
        if (grease == null) {
            return values;
        }
        List<Integer> all = new ArrayList<>();
        for (int value : values) {
            all.add(value);
        }
        all.add(grease.nextInt(all.size() + 1), grease(grease));
        return all.stream().mapToInt(Integer::intValue).toArray();
    }


    private static int[] prepend(int first, int[] rest) {
        int[] all = new int[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    private static int grease(Random random) {
        return GREASE[random.nextInt(GREASE.length)];
    }

}
