package io.snigate.preread;

import static io.snigate.preread.ParserHarness.DEFAULT_MAX_HELLO;
import static io.snigate.preread.ParserHarness.parse;
import static io.snigate.preread.TestHellos.concat;
import static io.snigate.preread.TestHellos.hello;
import static io.snigate.preread.TestHellos.indexOf;
import static io.snigate.preread.TestHellos.serverNameEntry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import io.snigate.preread.ParserHarness.Hello;
import io.snigate.preread.ParserHarness.Parsed;
import io.snigate.preread.PrereadVerdict.Status;
import io.snigate.testing.Corpus;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClientHelloParserTest {

    private static final byte[] OPENSSL_ALPN = Corpus.resource("corpus/captured/openssl-alpn-h2-http11.bin");
    private static final byte[] CURL_DEFAULT = Corpus.resource("corpus/captured/curl-default.bin");
    private static final byte[] FRAG2_SPLIT_IN_SNI =
            Corpus.resource("corpus/crafted/frag2-curl-http2-split-in-sni.bin");

    private static Parsed complete(byte[] bytes) {
        Parsed verdict = parse(bytes, false);
        assertThat(verdict.status()).as("verdict %s", verdict).isEqualTo(Status.COMPLETE);
        return verdict;
    }

    private static void assertRejected(byte[] bytes, Reason reason) {
        Parsed verdict = parse(bytes, false);
        assertThat(verdict.status()).as("verdict %s", verdict).isEqualTo(Status.REJECT);
        assertThat(verdict.reason()).isEqualTo(reason);
    }

    @Nested
    class RealClients {

        @Test
        void extractsSniAlpnVersionFromOpensslHello() {
            Hello hello = complete(OPENSSL_ALPN).hello();

            assertThat(hello.sni()).isEqualTo("openssl-alpn.corpus.test");
            assertThat(hello.alpn()).containsExactly("h2", "http/1.1");
            assertThat(hello.tlsVersion()).isEqualTo(TlsVersions.TLS_1_3);
            assertThat(hello.ech()).isFalse();
            assertThat(hello.recordVersion()).isEqualTo(TlsVersions.TLS_1_0);
        }

        @Test
        void needsMoreAtEveryPrefixThenCompletesAtFullLength() {
            for (byte[] wire : List.of(OPENSSL_ALPN, CURL_DEFAULT, FRAG2_SPLIT_IN_SNI)) {
                for (int length = 0; length < wire.length; length++) {
                    assertThat(parse(wire, 0, length, DEFAULT_MAX_HELLO, false).verdict())
                            .as("prefix of %d bytes", length)
                            .isSameAs(PrereadVerdict.NEED_MORE);
                }
                assertThat(parse(wire, false).status()).isEqualTo(Status.COMPLETE);
            }
        }

        @Test
        void needsMoreUntilLastRecordArrives() {
            byte[] wire = FRAG2_SPLIT_IN_SNI;
            int secondRecord = 5 + ((wire[3] & 0xff) << 8 | (wire[4] & 0xff));

            assertThat(parse(wire, 0, secondRecord, DEFAULT_MAX_HELLO, false).verdict())
                    .isSameAs(PrereadVerdict.NEED_MORE);
            assertThat(parse(wire, 0, wire.length - 1, DEFAULT_MAX_HELLO, false).verdict())
                    .isSameAs(PrereadVerdict.NEED_MORE);
            assertThat(complete(wire).hello().sni()).isEqualTo("curl-http2.corpus.test");
        }

        @Test
        void neverThrowsOnTruncationAtEveryOffset() {
            for (byte[] wire : List.of(OPENSSL_ALPN, FRAG2_SPLIT_IN_SNI)) {
                for (int length = 1; length < wire.length; length++) {
                    Parsed verdict = parse(wire, 0, length, DEFAULT_MAX_HELLO, true);
                    assertThat(verdict.status()).as("prefix of %d bytes at end of stream", length)
                            .isEqualTo(Status.REJECT);
                    assertThat(verdict.reason()).isEqualTo(Reason.MALFORMED);
                }
            }
        }

        @Test
        void neverThrowsOnRandomByteFlips() {
            Random random = new Random(0x5eed);
            for (byte[] original : List.of(OPENSSL_ALPN, CURL_DEFAULT, FRAG2_SPLIT_IN_SNI)) {
                for (int round = 0; round < 1000; round++) {
                    byte[] mutated = original.clone();
                    int flips = 1 + random.nextInt(4);
                    for (int i = 0; i < flips; i++) {
                        mutated[random.nextInt(mutated.length)] ^= (byte) (1 + random.nextInt(255));
                    }
                    int length = random.nextInt(4) == 0 ? random.nextInt(mutated.length + 1) : mutated.length;
                    parse(mutated, 0, length, DEFAULT_MAX_HELLO, false);
                    parse(mutated, 0, length, DEFAULT_MAX_HELLO, true);
                }
            }
        }

        @Test
        void forwardsWhateverFollowsTheHello() {
            byte[] changeCipherSpec = {20, 3, 3, 0, 1, 1};
            byte[] applicationData = {23, 3, 3, 0, 3, 'a', 'b', 'c'};

            assertThat(complete(concat(OPENSSL_ALPN, changeCipherSpec, applicationData)).hello().sni())
                    .isEqualTo("openssl-alpn.corpus.test");
            assertThat(complete(concat(OPENSSL_ALPN, new byte[64 * 1024])).hello().sni())
                    .isEqualTo("openssl-alpn.corpus.test");
        }
    }

    @Nested
    class Fragmentation {

        @ParameterizedTest
        @ValueSource(ints = {1, 2, 3, 5, 10, 40})
        void reassemblesHelloSplitIntoRecords(int records) {
            Hello hello = complete(hello().sni("split.example").alpn("h2").records(records)).hello();

            assertThat(hello.sni()).isEqualTo("split.example");
            assertThat(hello.alpn()).containsExactly("h2");
        }

        @Test
        void reassemblesWhenHandshakeHeaderIsSplitByteByByte() {
            byte[] handshake = hello().sni("header.example").handshake();

            byte[] wire = TestHellos.frame(handshake, TlsVersions.TLS_1_0, 1, 1, 1, 1);

            assertThat(complete(wire).hello().sni()).isEqualTo("header.example");
        }

        @Test
        void needsMoreAtEveryPrefixOfAManyRecordHello() {
            byte[] wire = hello().sni("prefix.example").records(7);
            for (int length = 0; length < wire.length; length++) {
                assertThat(parse(wire, 0, length, DEFAULT_MAX_HELLO, false).verdict())
                        .isSameAs(PrereadVerdict.NEED_MORE);
                assertThat(parse(wire, 0, length, DEFAULT_MAX_HELLO, true).reason())
                        .isIn(Reason.MALFORMED, Reason.CLIENT_CLOSED);
            }
            assertThat(complete(wire).hello().sni()).isEqualTo("prefix.example");
        }

        @Test
        void reframedRealHelloGivesTheSameFacts() {
            Random random = new Random(42);
            for (int pieces = 2; pieces <= 8; pieces++) {
                Hello hello = complete(Corpus.reframe(CURL_DEFAULT, pieces, random)).hello();
                assertThat(hello).isEqualTo(complete(CURL_DEFAULT).hello());
            }
        }

        @Test
        void waitsForTheRestOfTheLastRecordAndIsMalformedIfTheClientCloses() {
            byte[] wire = hello().sni("whole.example").alpn("h2").records(2);

            for (int missing = 1; missing < 10; missing++) {
                assertThat(parse(wire, 0, wire.length - missing, DEFAULT_MAX_HELLO, false).verdict())
                        .as("%d bytes of the last record missing", missing)
                        .isSameAs(PrereadVerdict.NEED_MORE);
                assertThat(parse(wire, 0, wire.length - missing, DEFAULT_MAX_HELLO, true).reason())
                        .isEqualTo(Reason.MALFORMED);
            }
            assertThat(complete(wire).hello().sni()).isEqualTo("whole.example");
        }

        @ParameterizedTest
        @ValueSource(ints = {1, 2, 3})
        void rejectsARecordThatGoesOnPastTheHelloAsSoonAsItsHeaderShowsIt(int records) {
            byte[] handshake = hello().sni("past.example").handshake();
            // A Certificate message header after the hello, inside the hello's last record.
            byte[] payload = concat(handshake, new byte[] {11, 0, 0, 2, 0, 0});
            int[] fragments = new int[records - 1];
            Arrays.fill(fragments, handshake.length / records);
            byte[] wire = TestHellos.frame(payload, TlsVersions.TLS_1_0, fragments);
            int lastRecord = 5 * (records - 1) + handshake.length / records * (records - 1);
            int handshakeHeaderSeen = records == 1 ? 9 : lastRecord + 5;

            assertRejected(wire, Reason.MALFORMED);
            assertThat(parse(wire, 0, handshakeHeaderSeen, DEFAULT_MAX_HELLO, false).reason())
                    .as("decided from the headers alone").isEqualTo(Reason.MALFORMED);
            if (records == 1) {
                assertThat(parse(wire, 0, handshakeHeaderSeen - 1, DEFAULT_MAX_HELLO, false).verdict())
                        .isSameAs(PrereadVerdict.NEED_MORE);
            }
        }

        @Test
        void forwardsWholeRecordsAfterTheHelloUnread() {
            byte[] nextHandshakeRecord = {22, 3, 3, 0, 6, 11, 0, 0, 2, 0, 0};

            assertThat(complete(concat(hello().sni("next.example").records(2), nextHandshakeRecord)).hello().sni())
                    .isEqualTo("next.example");
            assertThat(complete(concat(hello().sni("next.example").record(), new byte[] {22, 3, 3, 0x40})).hello()
                    .sni()).isEqualTo("next.example");
        }

        @Test
        void rejectsOtherContentTypeBeforeHelloIsComplete() {
            byte[] handshake = hello().sni("x.example").handshake();
            byte[] wire = TestHellos.frame(handshake, TlsVersions.TLS_1_0, 20);
            wire[5 + 20] = 23; // second record claims to be application data

            assertRejected(wire, Reason.MALFORMED);
            assertThat(parse(wire, 0, 5 + 20 + 1, DEFAULT_MAX_HELLO, false).reason()).isEqualTo(Reason.MALFORMED);
        }

        @Test
        void rejectsEmptyRecord() {
            byte[] handshake = hello().sni("x.example").handshake();
            byte[] wire = concat(new byte[] {22, 3, 1, 0, 0}, TestHellos.frame(handshake, TlsVersions.TLS_1_0));

            assertRejected(wire, Reason.MALFORMED);
        }

        @Test
        void rejectsRecordLongerThanTlsAllows() {
            assertRejected(new byte[] {22, 3, 1, 0x40, 0x01, 1, 0, 0, 10}, Reason.MALFORMED);
        }
    }

    @Nested
    class Limits {

        @Test
        void rejectsDeclaredLengthOverLimitBeforeBuffering() {
            // Only the record header and the handshake header have arrived.
            byte[] headers = {22, 3, 1, 0x40, 0x00, 1, 0x01, 0x00, 0x01};

            assertRejected(headers, Reason.CLIENT_HELLO_TOO_LARGE);
            assertThat(parse(headers, 4096, false).reason()).isEqualTo(Reason.CLIENT_HELLO_TOO_LARGE);
        }

        @Test
        void acceptsHelloOfExactlyTheLimit() {
            byte[] handshake = hello().sni("limit.example").handshake();
            int bodyLength = handshake.length - 4;

            assertThat(parse(TestHellos.splitIntoRecords(handshake, 0x0301, 1), bodyLength, false).status())
                    .isEqualTo(Status.COMPLETE);
            assertThat(parse(TestHellos.splitIntoRecords(handshake, 0x0301, 1), bodyLength - 1, false).reason())
                    .isEqualTo(Reason.CLIENT_HELLO_TOO_LARGE);
        }

        @Test
        void rejectsHelloSpreadOverTooManyRecords() {
            byte[] handshake = hello().sni("tiny-records.example").handshake();
            int[] oneByteFragments = new int[handshake.length - 1];
            Arrays.fill(oneByteFragments, 1);
            byte[] wire = TestHellos.frame(handshake, TlsVersions.TLS_1_0, oneByteFragments);

            assertThat(parse(wire, handshake.length, false).reason()).isEqualTo(Reason.CLIENT_HELLO_TOO_LARGE);
        }

        /**
         * A count, not only bytes: every read parses the records from the first, so a hello in
         * thousands of one-byte records would cost each read a walk over all of them.
         */
        @Test
        void aHelloWellUnderTheLimitIsRefusedPastMaxFramingRecords() {
            byte[] handshake = hello().sni("tiny-records.example").handshake();
            int[] ones = new int[HelloRecords.MAX_FRAMING_RECORDS - 1];
            Arrays.fill(ones, 1);
            assertThat(parse(TestHellos.frame(handshake, TlsVersions.TLS_1_0, ones), false).status())
                    .as("64 records").isEqualTo(Status.COMPLETE);
            ones = new int[HelloRecords.MAX_FRAMING_RECORDS];
            Arrays.fill(ones, 1);
            byte[] wire = TestHellos.frame(handshake, TlsVersions.TLS_1_0, ones);
            assertThat(parse(wire, false).reason()).as("65 records").isEqualTo(Reason.CLIENT_HELLO_TOO_LARGE);
            int sixtyFourRecords = HelloRecords.MAX_FRAMING_RECORDS * (TlsWire.RECORD_HEADER_LENGTH + 1);
            assertThat(parse(wire, 0, sixtyFourRecords, DEFAULT_MAX_HELLO, false).reason())
                    .as("refused at the 64th whole record, before the 65th arrives").isEqualTo(Reason.CLIENT_HELLO_TOO_LARGE);
        }

        @Test
        void rejectsOtherHandshakeMessage() {
            assertRejected(hello().handshakeType(2).sni("x.example").record(), Reason.MALFORMED);
        }
    }

    @Nested
    class Extensions {

        @Test
        void normalizesUpperCaseAndOneTrailingDot() {
            assertThat(complete(hello().sni("WWW.Example.COM.").record()).hello().sni()).isEqualTo("www.example.com");
        }

        @Test
        void keepsAlpnInClientOrderAsLatin1() {
            Hello hello = complete(hello().sni("a.example").alpn("http/1.1", "h2", "\u00ff\u0000x").record())
                    .hello();

            assertThat(hello.alpn()).containsExactly("http/1.1", "h2", "\u00ff\u0000x");
            assertThat(hello.alpn()).isEqualTo(List.of("http/1.1", "h2", "\u00ff\u0000x"));
            assertThat(hello.alpn()).hasToString("[http/1.1, h2, \u00ff\u0000x]");
            assertThatThrownBy(() -> hello.alpn().set(0, "h3")).isInstanceOf(UnsupportedOperationException.class);
        }

        @Test
        void sharesWellKnownAlpnNamesAndDecodesOthers() {
            List<String> browser = complete(hello().sni("a.example").alpn("h2", "http/1.1").record()).hello().alpn();
            List<String> again = complete(hello().sni("b.example").alpn("h2", "http/1.1").record()).hello().alpn();
            assertThat(browser).containsExactly("h2", "http/1.1").isSameAs(again);

            List<String> mixed = complete(hello().sni("a.example").alpn("h3", "h2c").record()).hello().alpn();
            List<String> mixedAgain = complete(hello().sni("b.example").alpn("h3", "h2c").record()).hello().alpn();
            assertThat(mixed).containsExactly("h3", "h2c");
            assertThat(mixed.get(0)).isSameAs(mixedAgain.get(0));
            assertThat(mixed.get(1)).isEqualTo(mixedAgain.get(1)).isNotSameAs(mixedAgain.get(1));

            // A name that only starts like a known one, or has its length, is decoded as sent.
            assertThat(complete(hello().sni("a.example").alpn("h2x").record()).hello().alpn()).containsExactly("h2x");
            assertThat(complete(hello().sni("a.example").alpn("h4").record()).hello().alpn()).containsExactly("h4");
        }

        /**
         * More than 16 protocols, or more than 512 bytes of them, is refused: routes choose by the
         * whole list, and the connection keeps it for its log.
         */
        @Test
        void refusesAnAlpnListOfMoreThanSixteenProtocolsOr512Bytes() {
            String[] sixteen = IntStream.range(0, 16).mapToObj(i -> "p" + i).toArray(String[]::new);
            assertThat(complete(hello().sni("a.example").alpn(sixteen).record()).hello().alpn()).containsExactly(sixteen);
            String[] seventeen = IntStream.range(0, 17).mapToObj(i -> "p" + i).toArray(String[]::new);
            assertRejected(hello().sni("a.example").alpn(seventeen).record(), Reason.MALFORMED);
            String two255 = "a".repeat(255);
            assertThat(complete(hello().sni("a.example").alpn(two255, two255, "b").record()).hello().alpn())
                    .as("511 bytes").hasSize(3);
            assertThat(complete(hello().sni("a.example").alpn(two255, two255, "bc").record()).hello().alpn())
                    .as("512 bytes").hasSize(3);
            assertRejected(hello().sni("a.example").alpn(two255, two255, "bcd").record(), Reason.MALFORMED);
        }

        @Test
        void keepsOneOrTwoAlpnProtocols() {
            assertThat(complete(hello().sni("a.example").alpn("h2").record()).hello().alpn()).isEqualTo(List.of("h2"));
            assertThat(complete(hello().sni("a.example").alpn("h2", "http/1.1").record()).hello().alpn())
                    .isEqualTo(List.of("h2", "http/1.1"));
        }

        @Test
        void reportsNoAlpnAsNull() {
            assertThat(complete(hello().sni("a.example").record()).hello().alpn()).isNull();
        }

        @Test
        void takesHighestSupportedVersionIgnoringGrease() {
            byte[] wire = hello().sni("a.example").supportedVersions(0x7a7a, 0x0303, 0x0304, 0xfafa).record();

            assertThat(complete(wire).hello().tlsVersion()).isEqualTo(TlsVersions.TLS_1_3);
        }

        @Test
        void greaseIsTheSixteenValuesOfRfc8701AndNothingLikeThem() {
            // 0x0a1a has GREASE's shape in each byte but is not one of the sixteen values.
            for (int grease = 0x0a0a; grease <= 0xfafa; grease += 0x1010) {
                assertThat(TlsWire.isGrease(grease)).as("0x%04x", grease).isTrue();
            }
            assertThat(TlsWire.isGrease(0x0a1a)).isFalse();
            assertThat(TlsWire.isGrease(0x1a0a)).isFalse();
            assertThat(TlsWire.isGrease(0x0b0b)).isFalse();
        }

        /**
         * A server ignores what it does not know and picks from the rest: a client offering an
         * unknown value and TLS 1.0 gets TLS 1.0, so that is its version, for the log and for
         * {@code min_tls_version}.
         */
        @Test
        void valuesThatAreNoTlsVersionAreIgnoredAsAServerIgnoresThem() {
            assertThat(complete(hello().sni("a.example").legacyVersion(0x0301).supportedVersions(0x0a0b, 0x0301).record())
                    .hello().tlsVersion()).isEqualTo(TlsVersions.TLS_1_0);
            assertThat(complete(hello().sni("a.example").supportedVersions(0x0303, 0x0a1a, 0xfefd).record())
                    .hello().tlsVersion()).as("0x0a1a, not GREASE; DTLS 1.2").isEqualTo(TlsVersions.TLS_1_2);
            assertThat(complete(hello().sni("a.example").legacyVersion(0x0302).supportedVersions(0x0a0b).record())
                    .hello().tlsVersion()).as("nothing known: the legacy version").isEqualTo(TlsVersions.TLS_1_1);
        }

        @Test
        void fallsBackToLegacyVersionWithoutSupportedVersions() {
            assertThat(complete(hello().legacyVersion(0x0302).sni("a.example").record()).hello().tlsVersion())
                    .isEqualTo(TlsVersions.TLS_1_1);
            assertThat(complete(hello().sni("a.example").supportedVersions(0x1a1a).record()).hello().tlsVersion())
                    .isEqualTo(TlsVersions.TLS_1_2);
        }

        /** RFC 8446 §4.2.1: without supported_versions a server negotiates TLS 1.2 at most. */
        @Test
        void aLegacyVersionAboveTls12OffersTls12AtMost() {
            assertThat(complete(hello().legacyVersion(0x0304).sni("a.example").record()).hello().tlsVersion())
                    .isEqualTo(TlsVersions.TLS_1_2);
            assertThat(complete(hello().legacyVersion(0x03ff).sni("a.example").record()).hello().tlsVersion())
                    .isEqualTo(TlsVersions.TLS_1_2);
            assertThat(complete(hello().legacyVersion(0x0304).sni("a.example").supportedVersions(0x0a0b).record())
                    .hello().tlsVersion()).as("no TLS version in supported_versions").isEqualTo(TlsVersions.TLS_1_2);
        }

        @Test
        void detectsEncryptedClientHello() {
            assertThat(complete(hello().sni("public.example").ech().record()).hello().ech()).isTrue();
        }

        @Test
        void reportsOuterEchAlsoWithTheEmptyEncOfARetry() {
            byte[] retry = hello().sni("public.example")
                    .extension(0xfe0d, TestHellos.echOuter(new byte[0], new byte[100])).record();

            assertThat(complete(retry).hello().ech()).isTrue();
        }

        @Test
        void rejectsEchOfTypeInnerWhateverTheName() {
            assertRejected(hello().sni("public.example").echInner().record(), Reason.MALFORMED);
            assertRejected(hello().echInner().record(), Reason.MALFORMED);
            assertRejected(hello().sni("10.0.0.1").echInner().record(), Reason.MALFORMED);
        }

        @Test
        void rejectsEchOuterExtensionsOnTheWire() {
            assertRejected(hello().sni("public.example").ech().echOuterExtensions(0x000a, 0x0033).record(),
                    Reason.MALFORMED);
            assertRejected(hello().sni("public.example").echOuterExtensions(0x000a).record(), Reason.MALFORMED);
        }

        @Test
        void rejectsEchOfUnknownTypeOrWithLengthsThatDoNotAddUp() {
            byte[] outer = TestHellos.echOuter(new byte[32], new byte[144]);
            byte[] unknownType = outer.clone();
            unknownType[0] = 2;
            byte[] emptyPayload = TestHellos.echOuter(new byte[32], new byte[0]);
            byte[] trailing = concat(outer, new byte[] {0});
            byte[] truncated = Arrays.copyOf(outer, outer.length - 1);
            byte[] encPastTheEnd = Arrays.copyOf(outer, 10);

            for (byte[] ech : List.of(unknownType, emptyPayload, trailing, truncated, encPastTheEnd, new byte[0])) {
                assertRejected(hello().sni("public.example").extension(0xfe0d, ech).record(), Reason.MALFORMED);
            }
        }

        @Test
        void rejectsMalformedSignatureAlgorithms() {
            for (byte[] data : List.of(new byte[0], new byte[] {0, 0}, new byte[] {0, 3, 4, 3, 8},
                    new byte[] {0, 4, 4, 3}, new byte[] {0, 2, 4, 3, 8, 4}, new byte[] {0})) {
                assertRejected(hello().sni("a.example").extension(13, data).record(), Reason.MALFORMED);
            }
            assertThat(complete(hello().sni("a.example").signatureAlgorithms(0x0403).record()).hello().sni())
                    .isEqualTo("a.example");
        }

        @Test
        void reportsFirstRecordVersion() {
            assertThat(complete(hello().recordVersion(0x0303).sni("a.example").record()).hello().recordVersion())
                    .isEqualTo(0x0303);
        }

        @Test
        void rejectsDuplicateServerName() {
            assertRejected(hello().sni("a.example").sni("b.example").record(), Reason.MALFORMED);
        }

        @Test
        void rejectsSecondHostNameEntry() {
            byte[] wire = hello().serverNameEntries(
                            serverNameEntry(0, ascii("a.example")), serverNameEntry(0, ascii("b.example")))
                    .record();

            assertRejected(wire, Reason.MALFORMED);
        }

        @Test
        void refusesNameTypesOtherThanHostNameAsOpenSslDoes() {
            assertRejected(hello().serverNameEntries(serverNameEntry(7, ascii("other")), serverNameEntry(0, ascii("a.example")))
                    .record(), Reason.MALFORMED);
            assertRejected(hello().serverNameEntries(serverNameEntry(0, ascii("a.example")), serverNameEntry(7, ascii("other")))
                    .record(), Reason.MALFORMED);
            assertRejected(hello().serverNameEntries(serverNameEntry(7, ascii("other"))).record(), Reason.MALFORMED);
        }

        @Test
        void rejectsEmptyServerNameExtensionOrList() {
            assertRejected(hello().extension(0, new byte[0]).record(), Reason.MALFORMED);
            assertRejected(hello().extension(0, new byte[] {0, 0}).record(), Reason.MALFORMED);
        }

        @Test
        void rejectsServerNameListLengthThatDoesNotAddUp() {
            assertRejected(hello().extension(0, new byte[] {0, 9, 0, 0, 1, 'a'}).record(), Reason.MALFORMED);
            assertRejected(hello().extension(0, new byte[] {0, 4, 0, 0, 2, 'a'}).record(), Reason.MALFORMED);
        }

        @Test
        void rejectsDuplicateAlpnSupportedVersionsSignatureAlgorithmsOrEch() {
            assertRejected(hello().sni("a.example").alpn("h2").alpn("h2").record(), Reason.MALFORMED);
            assertRejected(hello().sni("a.example").signatureAlgorithms(0x0403).signatureAlgorithms(0x0403).record(),
                    Reason.MALFORMED);
            assertRejected(
                    hello().sni("a.example").supportedVersions(0x0304).supportedVersions(0x0304).record(),
                    Reason.MALFORMED);
            assertRejected(hello().sni("a.example").ech().ech().record(), Reason.MALFORMED);
        }

        @Test
        void toleratesRepeatsOfExtensionsItDoesNotRead() {
            byte[] wire = hello().sni("a.example").extension(21, new byte[3]).extension(21, new byte[3]).record();

            assertThat(complete(wire).hello().sni()).isEqualTo("a.example");
        }

        @Test
        void rejectsMalformedAlpn() {
            assertRejected(hello().sni("a.example").extension(16, new byte[] {0, 0}).record(), Reason.MALFORMED);
            assertRejected(hello().sni("a.example").extension(16, new byte[] {0, 1, 0}).record(), Reason.MALFORMED);
            assertRejected(hello().sni("a.example").extension(16, new byte[] {0, 3, 3, 'h'}).record(), Reason.MALFORMED);
            assertRejected(hello().sni("a.example").extension(16, new byte[] {0}).record(), Reason.MALFORMED);
        }

        @Test
        void rejectsMalformedSupportedVersions() {
            assertRejected(hello().sni("a.example").extension(43, new byte[] {3, 3, 4, 3}).record(), Reason.MALFORMED);
            assertRejected(hello().sni("a.example").extension(43, new byte[] {0}).record(), Reason.MALFORMED);
            assertRejected(hello().sni("a.example").extension(43, new byte[0]).record(), Reason.MALFORMED);
            assertRejected(hello().sni("a.example").extension(43, new byte[] {4, 3, 4}).record(), Reason.MALFORMED);
        }

        @Test
        void rejectsExtensionOverrunningTheBlock() {
            byte[] handshake = hello().sni("a.example").handshake();
            byte[] wire = TestHellos.splitIntoRecords(handshake, 0x0301, 1);
            // The server_name extension's own length now claims more than the block holds.
            int extensionLength = indexOf(wire, new byte[] {0, 0, 0, 14, 0, 12}) + 2;
            wire[extensionLength + 1] = 15;

            assertRejected(wire, Reason.MALFORMED);
        }
    }

    @Nested
    class HelloBody {

        @Test
        void acceptsHelloWithoutExtensionsBlockAsNoSni() {
            Parsed verdict = parse(hello().withoutExtensionsBlock().record(), false);

            assertThat(verdict.reason()).isEqualTo(Reason.NO_SNI);
            assertThat(verdict.hello().tlsVersion()).isEqualTo(TlsVersions.TLS_1_2);
        }

        @Test
        void rejectsSessionIdLongerThan32() {
            assertRejected(hello().sessionId(33).sni("a.example").record(), Reason.MALFORMED);
        }

        @Test
        void rejectsOddOrEmptyCipherSuites() {
            assertRejected(hello().cipherSuites((byte) 0x13, (byte) 0x01, (byte) 0x13).sni("a.example").record(),
                    Reason.MALFORMED);
            assertRejected(hello().cipherSuites().sni("a.example").record(), Reason.MALFORMED);
        }

        @Test
        void rejectsNoCompressionMethods() {
            assertRejected(hello().compressionMethods().sni("a.example").record(), Reason.MALFORMED);
        }

        @Test
        void rejectsBodyShorterThanItsFixedFields() {
            byte[] handshake = {1, 0, 0, 10, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0};

            assertRejected(TestHellos.frame(handshake, 0x0301), Reason.MALFORMED);
        }

        @Test
        void rejectsBytesAfterTheExtensionsBlock() {
            byte[] body = concat(hello().sni("a.example").body(), new byte[] {0});
            byte[] handshake = concat(new byte[] {1}, TestHellos.u24(body.length), body);

            assertRejected(TestHellos.frame(handshake, 0x0301), Reason.MALFORMED);
        }
    }

    @Nested
    class HostNameChecks {

        @Test
        void rejectsMissingServerNameAsNoSniKeepingOtherFacts() {
            Parsed verdict = parse(hello().alpn("h2").supportedVersions(0x0304).record(), false);

            assertThat(verdict.reason()).isEqualTo(Reason.NO_SNI);
            assertThat(verdict.hello().sni()).isNull();
            assertThat(verdict.hello().alpn()).containsExactly("h2");
            assertThat(verdict.hello().tlsVersion()).isEqualTo(TlsVersions.TLS_1_3);
            assertThat(verdict.rawSni()).isNull();
        }

        @ParameterizedTest
        @ValueSource(strings = {"", ".", "a..example", "192.168.1.1", "a b.example", "a/b.example", "a.example..",
            "xn--\u00e9.example"})
        void rejectsInvalidHostNames(String name) {
            Parsed verdict = parse(hello().sni(name).alpn("h2").record(), false);

            assertThat(verdict.reason()).isEqualTo(Reason.INVALID_SNI);
            assertThat(verdict.hello().alpn()).containsExactly("h2");
        }

        /**
         * A name whose last label is a number is an IPv4 literal to a URL parser (WHATWG's "ends
         * in a number"), in hexadecimal and octal too (failed before: {@code 0x7f.0.0.1} and
         * the like were names, routed and looked up).
         */
        @ParameterizedTest
        @ValueSource(strings = {"0x7f.0.0.1", "0X7F.0.0.1", "2130706433", "0177.0.0.01", "127.1", "a.b.0x", "host.example.443",
            "a.0xff"})
        void rejectsNamesThatEndInANumber(String name) {
            assertThat(parse(hello().sni(name).record(), false).reason()).isEqualTo(Reason.INVALID_SNI);
        }

        @ParameterizedTest
        @ValueSource(strings = {"0x7f.example", "123.example", "a.0xg", "a.x0", "1e100.net", "a.0x1z"})
        void acceptsNamesWithNumbersThatDoNotEndInOne(String name) {
            assertThat(complete(hello().sni(name).record()).hello().sni()).isEqualTo(name);
        }

        @Test
        void rejectsNameOver253Characters() {
            String label = "a".repeat(63);
            String name254 = String.join(".", label, label, label, "b".repeat(62));
            assertThat(name254).hasSize(254);

            assertRejected(hello().sni(name254).record(), Reason.INVALID_SNI);
            assertThat(complete(hello().sni(name254.substring(1)).record()).hello().sni()).hasSize(253);
        }

        @Test
        void logsInvalidNameLowerCasedWithUnprintableBytesEscaped() {
            byte[] name = "Bad\u0000Name\\.Example\u00ff ".getBytes(StandardCharsets.ISO_8859_1);

            Parsed verdict = parse(hello().sni(name).record(), false);

            assertThat(verdict.reason()).isEqualTo(Reason.INVALID_SNI);
            assertThat(verdict.rawSni()).isEqualTo("bad\\x00name\\x5c.example\\xff\\x20");
        }

        @Test
        void logsNoMoreThan300BytesOfAnInvalidName() {
            byte[] name = new byte[16_000];
            Arrays.fill(name, (byte) 1);

            Parsed verdict = parse(hello().sni(name).record(), false);

            assertThat(verdict.reason()).isEqualTo(Reason.INVALID_SNI);
            assertThat(verdict.rawSni()).isEqualTo("\\x01".repeat(300) + "...(+15700 bytes)");
        }

        @Test
        void logsPrintableInvalidNameLowerCased() {
            assertThat(parse(hello().sni("10.0.0.1").record(), false).rawSni()).isEqualTo("10.0.0.1");
            assertThat(parse(hello().sni("A..B").record(), false).rawSni()).isEqualTo("a..b");
        }
    }

    @Nested
    class Openers {

        @ParameterizedTest
        @ValueSource(strings = {"CONNECT example.com:443 HTTP/1.1\r\n", "connect x:443 HTTP/1.1", "Connect "})
        void recognisesConnectInAnyCase(String request) {
            assertRejected(ascii(request), Reason.CONNECT_REQUEST);
        }

        @ParameterizedTest
        @ValueSource(strings = {"GET / HTTP/1.1\r\n", "HEAD / HTTP/1.0", "POST /x HTTP/1.1", "PUT ", "DELETE /",
            "OPTIONS * HTTP/1.1", "TRACE /", "PATCH /", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"})
        void recognisesPlainHttp(String request) {
            assertRejected(ascii(request), Reason.PLAIN_HTTP);
        }

        /** A balancer's send-proxy to a listener without proxy_protocol: said as a PROXY header, not as noise. */
        @Test
        void recognisesAProxyHeaderWhereNoneIsExpected() {
            assertRejected(ascii("PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n"), Reason.PROXY_PROTOCOL_INVALID);
            assertRejected(ascii("\r\n\r\n\0\r\nQUIT\n\u0021\u0011\0\u000c"), Reason.PROXY_PROTOCOL_INVALID);
            assertThat(parse(ascii("PRO"), false).verdict()).isSameAs(PrereadVerdict.NEED_MORE);
            assertThat(parse(ascii("\r\n\r\n"), false).verdict()).isSameAs(PrereadVerdict.NEED_MORE);
        }

        @Test
        void matchesHttpMethodsCaseSensitively() {
            assertRejected(ascii("get / HTTP/1.1"), Reason.NOT_TLS);
        }

        @ParameterizedTest
        @ValueSource(strings = {"C", "CONN", "connect", "G", "GET", "PRI * HTTP/2", "P", "OPTIONS"})
        void waitsWhileTheBytesMayStillBecomeAnHttpOpener(String prefix) {
            assertThat(parse(ascii(prefix), false).verdict()).isSameAs(PrereadVerdict.NEED_MORE);
        }

        @Test
        void decidesPartialOpenerAtEndOfStream() {
            assertThat(parse(ascii("CONNECT"), true).reason()).isEqualTo(Reason.CONNECT_REQUEST);
            assertThat(parse(ascii("GET"), true).reason()).isEqualTo(Reason.PLAIN_HTTP);
            assertThat(parse(ascii("CONN"), true).reason()).isEqualTo(Reason.NOT_TLS);
            assertThat(parse(ascii("PRI * HTTP/2"), true).reason()).isEqualTo(Reason.NOT_TLS);
        }

        @Test
        void rejectsSslv2HelloAndNoiseAsNotTls() {
            assertRejected(new byte[] {(byte) 0x80, 0x2e, 0x01, 0x00, 0x02}, Reason.NOT_TLS);
            assertRejected(new byte[] {0x3c, 0x00}, Reason.NOT_TLS);
            assertRejected(ascii("SSH-2.0-OpenSSH_9.2\r\n"), Reason.NOT_TLS);
        }

        @Test
        void rejectsHandshakeRecordWithForeignMajorVersionAsNotTls() {
            assertRejected(new byte[] {22, 2}, Reason.NOT_TLS);
            assertRejected(new byte[] {22, 4, 1, 0, 5, 1, 0, 0, 1, 0}, Reason.NOT_TLS);
        }

        @Test
        void reportsClientClosedWhenNothingWasSent() {
            assertThat(parse(new byte[0], true).reason()).isEqualTo(Reason.CLIENT_CLOSED);
            assertThat(parse(new byte[0], false).verdict()).isSameAs(PrereadVerdict.NEED_MORE);
        }

        @Test
        void reportsTruncatedTlsAtEndOfStreamAsMalformed() {
            assertThat(parse(new byte[] {22}, true).reason()).isEqualTo(Reason.MALFORMED);
            assertThat(parse(new byte[] {22, 3, 1, 0, 10, 1}, true).reason()).isEqualTo(Reason.MALFORMED);
        }
    }

    @Test
    void namesVersions() {
        assertThat(TlsVersions.name(0x0304)).isEqualTo("TLSv1.3");
        assertThat(TlsVersions.name(0x0303)).isEqualTo("TLSv1.2");
        assertThat(TlsVersions.name(0x0302)).isEqualTo("TLSv1.1");
        assertThat(TlsVersions.name(0x0301)).isEqualTo("TLSv1.0");
        assertThat(TlsVersions.name(0x0300)).isEqualTo("SSLv3");
        assertThat(TlsVersions.name(0x7f1c)).isEqualTo("0x7f1c");
    }

    @Test
    void sharesOneNeedMoreVerdict() {
        assertThat(parse(new byte[] {22, 3}, false).verdict()).isSameAs(PrereadVerdict.NEED_MORE);
        assertThat(parse(ascii("GE"), false).verdict()).isSameAs(PrereadVerdict.NEED_MORE);
    }

    @Test
    void exposesAlpnAsImmutableList() {
        List<String> alpn = complete(OPENSSL_ALPN).hello().alpn();

        assertThatThrownBy(() -> alpn.add("h3"))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.ISO_8859_1);
    }
}
