package io.snigate.preread;

import static io.snigate.preread.TestHellos.concat;
import static io.snigate.preread.TestHellos.hello;
import static io.snigate.preread.TestHellos.u16;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.HelloRetryCheck;
import io.snigate.core.Reason;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A second ClientHello, after the server's HelloRetryRequest, must ask for what the first did: a
 * server may take its name from the second, so an allowed first name would open the way to any
 * name served at the same address.
 */
@ExtendWith(NettyLeaks.class)
class RetriedHelloTest {
    private static final int X25519 = 0x001d;
    private static final int SECP256R1 = 0x0017;
    private static final int KEY_SHARE = 51;
    /** A ServerHello's random that asks for a retry (RFC 8446 §4.1.3). */
    private static final byte[] RETRY_RANDOM = ByteBufUtil.decodeHexDump(
            "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c");
    private static final byte[] CHANGE_CIPHER_SPEC = {20, 3, 3, 0, 1, 1};

    /** A TLS 1.3 hello for {@code name} whose one key share is of {@code group}. */
    private static byte[] helloFor(String name, int group, String... alpn) {
        int keyLength = group == X25519 ? 32 : 65;
        byte[] key = new byte[keyLength];
        Arrays.fill(key, (byte) 9);
        key[0] = (byte) (group == X25519 ? 9 : 4); // an uncompressed P-256 point's prefix; only the retry reads it
        byte[] share = concat(u16(group), u16(keyLength), key);
        TestHellos.Builder hello = hello().recordVersion(0x0301).legacyVersion(0x0303).sni(name)
                .cipherSuites(0x1301).supportedVersions(0x0304).supportedGroups(X25519, SECP256R1)
                .signatureAlgorithms(0x0403, 0x0804, 0x0401).extension(KEY_SHARE, concat(u16(share.length), share));
        if (alpn.length > 0) {
            hello.alpn(alpn);
        }
        return hello.record();
    }

    /** A server's retry request: a ServerHello record with the retry random. */
    private static byte[] retryRequest() {
        byte[] body = concat(u16(0x0303), RETRY_RANDOM, new byte[] {0}, u16(0x1301), new byte[] {0},
                u16(6), u16(43), u16(2), u16(0x0304));
        byte[] handshake = concat(new byte[] {2, 0, 0, (byte) body.length}, body);
        return concat(new byte[] {22, 3, 3}, u16(handshake.length), handshake);
    }

    /**
     * The check on a record of {@code firstHello} as the pre-read parsed it, shown that hello as
     * the relay shows it the client's first bytes.
     */
    private static HelloRetryCheck checkAfter(byte[] firstHello) {
        HelloRetryCheck check = checkOn(firstHello);
        ByteBuf sent = check.clientSent(pooled(firstHello), false);
        assertThat(sent).as("the first hello goes on").isNotNull();
        sent.release();
        return check;
    }

    /** The check on a record of {@code firstHello} as the pre-read parsed it. */
    private static HelloRetryCheck checkOn(byte[] firstHello) {
        EmbeddedChannel channel = new EmbeddedChannel();
        ConnectionRecord record = ConnectionRecord.attach(channel, "test", (event, connection, nanos) -> { });
        ByteBuf hello = Unpooled.wrappedBuffer(firstHello);
        assertThat(ClientHelloParser.parse(hello, 16384, false, record).status()).isEqualTo(PrereadVerdict.Status.COMPLETE);
        return RetriedHello.of(record, 16384, 10_000, PooledByteBufAllocator.DEFAULT);
    }

    /** The check after {@code firstHello}, once the server has asked for a retry. */
    private static HelloRetryCheck retriedAfter(byte[] firstHello) {
        HelloRetryCheck check = checkAfter(firstHello);
        ByteBuf retry = pooled(retryRequest());
        check.serverSent(retry);
        retry.release();
        return check;
    }

    /** What {@code check} passes on of {@code bytes} sent in pieces cut at {@code cuts}, all of it asserted passed. */
    private static void passesInPieces(HelloRetryCheck check, byte[] bytes, int... cuts) {
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : bytes.length;
            ByteBuf piece = pooled(Arrays.copyOfRange(bytes, from, to));
            ByteBuf passed = check.clientSent(piece, false);
            assertThat(passed).as("bytes %d to %d go on", from, to).isSameAs(piece);
            passed.release();
            from = to;
        }
        assertThat(check.refused()).isNull();
    }

    /** Makes {@code key.pem} and {@code cert.pem} for allowed.test in {@code dir}; returns a free loopback port. */
    private static int certificateAndFreePort(Path dir) throws Exception {
        ProcessRunner.Result made = ProcessRunner.run(30, "openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=allowed.test", "-days", "1",
                "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString());
        assertThat(made.exitCode()).as(made.stderr()).isZero();
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return free.getLocalPort();
        }
    }

    private static ByteBuf pooled(byte[] bytes) {
        return PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
    }

    @Nested
    class TheCheck {
        @Test
        void aServerHelloThatIsNoRetryEndsItAtOnce() {
            HelloRetryCheck check = checkAfter(helloFor("allowed.test", X25519));
            byte[] serverHello = retryRequest();
            serverHello[20] ^= 1; // another random
            ByteBuf bytes = pooled(serverHello);
            check.serverSent(bytes);
            assertThat(check.over()).isTrue();
            assertThat(check.holdingClient()).isFalse();
            bytes.release();
        }

        @Test
        void aRetryInPiecesHoldsTheSecondHelloUntilWholeAndLetsTheSameThrough() {
            HelloRetryCheck check = checkAfter(helloFor("allowed.test", SECP256R1, "h2"));
            byte[] retry = retryRequest();
            ByteBuf first = pooled(Arrays.copyOf(retry, 7));
            ByteBuf rest = pooled(Arrays.copyOfRange(retry, 7, retry.length));
            check.serverSent(first);
            assertThat(check.over()).as("7 bytes tell nothing yet").isFalse();
            check.serverSent(rest);
            assertThat(check.over()).as("a retry").isFalse();
            first.release();
            rest.release();

            byte[] second = concat(CHANGE_CIPHER_SPEC, helloFor("allowed.test", X25519, "h2"));
            assertThat(check.clientSent(pooled(Arrays.copyOf(second, 40)), false)).as("held").isNull();
            assertThat(check.refused()).isNull();
            assertThat(check.holdingClient()).isTrue();
            ByteBuf passed = check.clientSent(pooled(Arrays.copyOfRange(second, 40, second.length)), false);
            assertThat(passed).isNotNull();
            assertThat(ByteBufUtil.getBytes(passed)).isEqualTo(second);
            assertThat(check.holdingClient()).isFalse();
            assertThat(check.over()).isTrue();
            passed.release();
        }

        /**
         * A second hello near the size limit, whose last byte comes in one read with a record
         * after it, is judged as a hello, not refused for the bytes that follow it: they are the
         * client's next flight, as after a first hello (failed before: client_hello_too_large).
         */
        @Test
        void aLargeSecondHelloWithMoreAfterItInTheSameReadIsJudgedAsAHello() {
            HelloRetryCheck check = retriedAfter(helloFor("allowed.test", SECP256R1));
            byte[] padded = hello().recordVersion(0x0301).legacyVersion(0x0303).sni("allowed.test")
                    .cipherSuites(0x1301).supportedVersions(0x0304).supportedGroups(X25519, SECP256R1)
                    .signatureAlgorithms(0x0403, 0x0804, 0x0401).extension(21, new byte[15_000]).record();
            byte[] next = concat(new byte[] {23, 3, 3, 0x20, 0}, new byte[8192]); // past the bound with the hello
            assertThat(check.clientSent(pooled(Arrays.copyOf(padded, padded.length - 1)), false)).as("held").isNull();
            ByteBuf passed = check.clientSent(pooled(concat(new byte[] {padded[padded.length - 1]}, next)), false);
            assertThat(check.refused()).isNull();
            assertThat(passed).as("the hello and what followed it").isNotNull();
            assertThat(ByteBufUtil.getBytes(passed)).isEqualTo(concat(padded, next));
            passed.release();
        }

        /**
         * A second hello sent before the server has answered would reach it before any retry
         * request, unchecked: no TLS client sends a handshake record then.
         */
        @Test
        void aHandshakeRecordBeforeTheServerAnswersIsRefused() {
            byte[] first = helloFor("allowed.test", SECP256R1);
            HelloRetryCheck inOneWrite = checkOn(first);
            assertThat(inOneWrite.clientSent(pooled(concat(first, helloFor("other.test", X25519))), false)).isNull();
            assertThat(inOneWrite.refused()).isEqualTo(Reason.MALFORMED);

            HelloRetryCheck afterAChangeCipherSpec = checkAfter(first);
            passesInPieces(afterAChangeCipherSpec, CHANGE_CIPHER_SPEC, 2);
            assertThat(afterAChangeCipherSpec.clientSent(pooled(helloFor("allowed.test", X25519)), false)).isNull();
            assertThat(afterAChangeCipherSpec.refused()).isEqualTo(Reason.MALFORMED);
        }

        /**
         * Early data (RFC 8446 §4.2.10) and a compatibility ChangeCipherSpec go on before the
         * server answers, however the records are cut, and a retry request after them is looked
         * for as before.
         */
        @Test
        void earlyDataGoesOnAsItComesWhereverItsRecordsAreCut() {
            byte[] first = helloFor("allowed.test", SECP256R1);
            byte[] earlyData = new byte[300];
            Arrays.fill(earlyData, (byte) 22); // bytes that would look like handshake records if read as headers
            byte[] flight = concat(first, CHANGE_CIPHER_SPEC, new byte[] {23, 3, 3}, u16(earlyData.length), earlyData,
                    new byte[] {23, 3, 3}, u16(earlyData.length), earlyData);
            HelloRetryCheck check = checkOn(first);
            passesInPieces(check, flight, 3, first.length + 1, first.length + 8, first.length + 9, first.length + 200,
                    first.length + CHANGE_CIPHER_SPEC.length + 305 + 2);
            ByteBuf retry = pooled(retryRequest());
            check.serverSent(retry);
            retry.release();
            assertThat(check.over()).isFalse();
            ByteBuf passed = check.clientSent(pooled(helloFor("allowed.test", X25519)), false);
            assertThat(passed).as("the second hello, asking for the same").isNotNull();
            passed.release();
        }

        /** A record the walk cannot read (no TLS content type) ends the check: the server refuses it. */
        @Test
        void whatIsNoTlsRecordEndsTheCheck() {
            HelloRetryCheck check = checkAfter(helloFor("allowed.test", SECP256R1));
            passesInPieces(check, "GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(check.over()).isTrue();
        }

        @Test
        void aSecondHelloThatAsksForAnotherNameOrOtherProtocolsIsRefused() {
            for (byte[] second : new byte[][] {helloFor("other.test", X25519, "h2"), helloFor("allowed.test", X25519, "http/1.1")}) {
                HelloRetryCheck check = retriedAfter(helloFor("allowed.test", SECP256R1, "h2"));
                assertThat(check.clientSent(pooled(second), false)).isNull();
                assertThat(check.refused()).isEqualTo(Reason.MALFORMED);
            }
        }

        /** A warning alert (user_canceled) before the second hello does not end the check. */
        @Test
        void aWarningAlertBeforeTheSecondHelloIsLookedPast() {
            HelloRetryCheck check = retriedAfter(helloFor("allowed.test", SECP256R1));
            byte[] userCanceled = {21, 3, 3, 0, 2, 1, 90};
            assertThat(check.clientSent(pooled(concat(userCanceled, helloFor("other.test", X25519))), false)).isNull();
            assertThat(check.refused()).isEqualTo(Reason.MALFORMED);
        }

        @Test
        void whatIsHeldIsReleasedWhenTheTunnelCloses() {
            HelloRetryCheck check = retriedAfter(helloFor("allowed.test", SECP256R1));
            byte[] second = concat(CHANGE_CIPHER_SPEC, helloFor("allowed.test", X25519));
            assertThat(check.clientSent(pooled(Arrays.copyOf(second, 20)), false)).isNull();
            assertThat(check.holdingClient()).isTrue();
            check.release(); // the leak detector fails the class if the held bytes stay
        }

        /**
         * Early data after a retry request goes on as it comes, however much (the server skips it):
         * only the second hello is held, and only it counts towards the limit.
         */
        @Test
        void earlyDataAfterARetryGoesOnAndOnlyTheSecondHelloIsHeld() {
            HelloRetryCheck check = retriedAfter(helloFor("allowed.test", SECP256R1));
            byte[] earlyData = new byte[16_000];
            byte[] record = concat(new byte[] {23, 3, 3}, u16(earlyData.length), earlyData);
            passesInPieces(check, concat(CHANGE_CIPHER_SPEC, record, record, record), 1, 7, 9000, 30_000);
            assertThat(check.holdingClient()).isFalse();
            byte[] second = helloFor("allowed.test", X25519);
            assertThat(check.clientSent(pooled(Arrays.copyOf(second, 1)), false)).as("held from its first byte").isNull();
            ByteBuf passed = check.clientSent(pooled(Arrays.copyOfRange(second, 1, second.length)), false);
            assertThat(ByteBufUtil.getBytes(passed)).isEqualTo(second);
            passed.release();
        }

        @Test
        void aTls12HelloNeedsNoCheck() {
            EmbeddedChannel channel = new EmbeddedChannel();
            ConnectionRecord record = ConnectionRecord.attach(channel, "test", (event, connection, nanos) -> { });
            ClientHelloParser.parse(Unpooled.wrappedBuffer(hello().sni("old.test").record()), 16384, false, record);
            assertThat(RetriedHello.of(record, 16384, 10_000, PooledByteBufAllocator.DEFAULT)).isNull();
        }
    }

    /**
     * Early data (0-RTT) goes on before the server answers: a real OpenSSL client resuming a
     * session sends its hello, a ChangeCipherSpec and early data records at once, which the check
     * walks and must not take for a second hello.
     */
    @Nested
    class EarlyData {
        @TempDir
        Path dir;

        @Test
        void aResumingOpenSslClientsEarlyDataIsAccepted() throws Exception {
            int port = certificateAndFreePort(dir);
            Path serverLog = dir.resolve("s_server.log");
            // Its standard input stays open (the pipe this process holds): at its end s_server stops.
            Process server = new ProcessBuilder("openssl", "s_server", "-accept", "127.0.0.1:" + port, "-tls1_3",
                    "-cert", dir.resolve("cert.pem").toString(), "-key", dir.resolve("key.pem").toString(),
                    "-early_data").redirectErrorStream(true).redirectOutput(serverLog.toFile()).start();
            try (ProxyHarness proxy = ProxyHarness.start("""
                    routes:
                      - match: "allowed.test"
                        upstream: "127.0.0.1:%d"
                    """.formatted(port))) {
                ThroughTheProxy.awaitListening(port);
                Files.writeString(dir.resolve("early.txt"), "EARLY-BYTES\n");
                String client = "sleep 1 | openssl s_client -connect 127.0.0.1:" + proxy.port()
                        + " -servername allowed.test -tls1_3 ";
                ProcessRunner.Result first = ProcessRunner.run(30, "sh", "-c", client + "-sess_out " + dir.resolve("sess.pem"));
                assertThat(first.stdout()).as(first.stderr()).contains("New, TLSv1.3");
                assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");

                ProcessRunner.Result resumed = ProcessRunner.run(30, "sh", "-c", client + "-sess_in " + dir.resolve("sess.pem")
                        + " -early_data " + dir.resolve("early.txt"));
                assertThat(resumed.stdout()).as(resumed.stderr()).contains("Reused, TLSv1.3").contains("Early data was accepted");
                JsonNode line = proxy.nextLog();
                assertThat(line.get("outcome").asText()).as(line.toString()).isEqualTo("forwarded");
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                String received = Files.readString(serverLog);
                while (!received.contains("EARLY-BYTES") && System.nanoTime() < until) {
                    Thread.sleep(50); // s_server writes its log after the client has gone
                    received = Files.readString(serverLog);
                }
                assertThat(received).as("the server read the early data").contains("EARLY-BYTES");
            } finally {
                server.destroy();
                server.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    /** Through the proxy, against a real OpenSSL server that takes only X25519 key shares. */
    @Nested
    class ThroughTheProxy {
        @TempDir
        static Path dir;
        private static Process server;
        private static ProxyHarness proxy;

        @BeforeAll
        static void start() throws Exception {
            int port = certificateAndFreePort(dir);
            server = new ProcessBuilder("openssl", "s_server", "-accept", "127.0.0.1:" + port, "-tls1_3",
                    "-groups", "X25519", "-cert", dir.resolve("cert.pem").toString(),
                    "-key", dir.resolve("key.pem").toString(), "-www", "-quiet")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("s_server.log").toFile()).start();
            awaitListening(port);
            proxy = ProxyHarness.start("""
                    timeouts: { preread: 2s }
                    routes:
                      - match: "allowed.test"
                        upstream: "127.0.0.1:%d"
                    """.formatted(port));
        }

        private static void awaitListening(int port) throws Exception {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (true) {
                try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    return;
                } catch (IOException notYet) {
                    if (System.nanoTime() > until) {
                        throw new AssertionError("openssl s_server did not listen on " + port);
                    }
                    Thread.sleep(50);
                }
            }
        }

        @AfterAll
        static void stop() throws Exception {
            if (proxy != null) {
                proxy.close();
            }
            if (server != null) {
                server.destroy();
                server.waitFor(5, TimeUnit.SECONDS);
            }
        }

        /**
         * The next TLS record the proxy sends back, past the ChangeCipherSpec a server in
         * compatibility mode sends after its retry request.
         */
        private static byte[] nextRecord(DataInputStream in) throws IOException {
            while (true) {
                byte[] header = new byte[5];
                in.readFully(header);
                byte[] body = new byte[((header[3] & 0xff) << 8) | (header[4] & 0xff)];
                in.readFully(body);
                if (header[0] != 20) {
                    return concat(header, body);
                }
            }
        }

        private static boolean isRetry(byte[] record) {
            return record[0] == 22 && record[5] == 2 && Arrays.equals(Arrays.copyOfRange(record, 11, 43), RETRY_RANDOM);
        }

        /** Sends the first hello, which the server answers with a retry, then {@code second}. */
        private Socket retriedWith(byte[] second) throws Exception {
            Socket client = proxy.connect();
            client.getOutputStream().write(helloFor("allowed.test", SECP256R1));
            DataInputStream in = new DataInputStream(client.getInputStream());
            assertThat(isRetry(nextRecord(in))).as("the server asked for a retry").isTrue();
            client.getOutputStream().write(concat(CHANGE_CIPHER_SPEC, second));
            return client;
        }

        /** A real client that the server asks to retry (its first key share is P-256) finishes its handshake. */
        @Test
        void openSslSClientRetriedByTheServerFinishesItsHandshake() throws Exception {
            ProcessRunner.Result result = ProcessRunner.run(30, "sh", "-c", "echo Q | openssl s_client -connect 127.0.0.1:"
                    + proxy.port() + " -servername allowed.test -tls1_3 -groups P-256:X25519 -msg");
            assertThat(result.stdout()).as(result.stderr()).contains("Server Temp Key: X25519")
                    .contains("New, TLSv1.3");
            // Two ClientHellos went through: the server asked for a retry.
            assertThat(result.stdout().split(">>> TLS 1.3, Handshake \\[length [0-9a-f]+\\], ClientHello", -1))
                    .as("ClientHellos sent").hasSize(3);
            assertThat(proxy.nextLog().get("outcome").asText()).isEqualTo("forwarded");
        }

        @Test
        void aSecondHelloForTheSameNameReachesTheServer() throws Exception {
            try (Socket client = retriedWith(helloFor("allowed.test", X25519))) {
                byte[] answer = nextRecord(new DataInputStream(client.getInputStream()));
                assertThat(answer[0] == 22 && answer[5] == 2 && !isRetry(answer)).as("a ServerHello").isTrue();
            }
            JsonNode line = proxy.nextLog();
            assertThat(line.get("outcome").asText()).isEqualTo("forwarded");
        }

        @Test
        void aSecondHelloForAnotherNameIsRefusedBeforeTheServerSeesItWhole() throws Exception {
            try (Socket client = retriedWith(helloFor("secret.test", X25519))) {
                assertNoServerHello(client);
            }
            // What went on: the first hello; the ChangeCipherSpec came in the refused hello's read.
            assertRefusedAsMalformed(proxy.nextLog(), helloFor("allowed.test", SECP256R1).length);
        }

        /**
         * Both hellos in one write, the second ahead of the retry request the client expects: it
         * would reach the server before the relay knew of any retry.
         */
        @Test
        void aSecondHelloSentBeforeTheRetryRequestIsRefused() throws Exception {
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(concat(helloFor("allowed.test", SECP256R1), CHANGE_CIPHER_SPEC,
                        helloFor("secret.test", X25519)));
                assertNoServerHello(client);
            }
            assertRefusedAsMalformed(proxy.nextLog(), 0); // refused with the first hello, in the same read
        }

        /**
         * A second hello that does not come whole within the pre-read's timeout ends the connection
         * as the first would: a stalled client would otherwise hold it, outside the pre-read's budget.
         */
        @Test
        void aSecondHelloStalledPastThePrereadTimeoutEndsTheConnection() throws Exception {
            byte[] second = helloFor("allowed.test", X25519);
            long started = System.nanoTime();
            try (Socket client = retriedWith(Arrays.copyOf(second, 20))) {
                client.setSoTimeout(10_000);
                assertNoServerHello(client);
            }
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).as("closed by the 2 s timeout")
                    .isLessThan(9_000);
            JsonNode line = proxy.nextLog();
            assertThat(line.get("sni").asText()).isEqualTo("allowed.test");
            assertThat(line.get("reason").asText()).isEqualTo("preread_timeout");
        }

        /** The proxy closes the connection without a ServerHello (a retry request may come first). */
        private static void assertNoServerHello(Socket client) throws IOException {
            DataInputStream in = new DataInputStream(client.getInputStream());
            try {
                while (true) {
                    byte[] answer = nextRecord(in);
                    if (!isRetry(answer)) {
                        throw new AssertionError("the server answered the second hello: record type " + answer[0]);
                    }
                }
            } catch (EOFException | SocketException closed) {
                // closed by the proxy, the server's answer never sent
            }
        }

        /** Refused as {@code malformed}, {@code forwardedBytes} of the client's having gone on. */
        private static void assertRefusedAsMalformed(JsonNode line, int forwardedBytes) {
            assertThat(line.get("sni").asText()).isEqualTo("allowed.test");
            assertThat(line.get("reason").asText()).isEqualTo("malformed");
            assertThat(line.get("outcome").asText()).isEqualTo("rejected");
            assertThat(line.get("bytes_from_client").asLong()).as(line.toString()).isEqualTo(forwardedBytes);
        }
    }
}
