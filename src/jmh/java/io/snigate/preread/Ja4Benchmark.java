package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.snigate.bench.Corpus;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The JA4 fingerprint alone, {@link Ja4#fingerprint}, of every corpus ClientHello that parses:
 * what JA4 adds to a parse. The hello is laid out once at setup, as the parse lays it out, so an
 * op is the fingerprint only: sorting, hex text, two SHA-256 and the string.
 *
 * <ul>
 *   <li>{@code fingerprint}: one hello per op, of a few clients ({@code -p file=...} takes any
 *       corpus file that holds a ClientHello).
 *   <li>{@code fingerprintWholeCorpus}: every corpus hello that parses once per op (25 today).
 * </ul>
 *
 * <p>In package {@code io.snigate.preread} to reach the package-private {@link Ja4}. Compare with
 * {@code ClientHelloParserBenchmark}, whose parse includes the fingerprint.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class Ja4Benchmark {

    /** A corpus hello laid out for the fingerprint. */
    static final class LaidOut {
        final ByteBuf message;
        final HelloLayout layout = new HelloLayout();
        final int version;

        /** The file's hello, or an exception when the file holds none that parses. */
        LaidOut(String file, boolean direct) {
            byte[] bytes = handshakeMessage(Corpus.bytes(file));
            message = direct ? Unpooled.directBuffer(bytes.length) : Unpooled.buffer(bytes.length);
            message.writeBytes(bytes);
            if (!layout.read(message, TlsWire.HANDSHAKE_HEADER_LENGTH, bytes.length)) {
                message.release();
                throw new IllegalArgumentException(file + " holds no ClientHello that parses");
            }
            // The version JA4 names, as ClientHelloFields.parse picks it.
            version = layout.supportedVersions() != HelloLayout.ABSENT
                    ? ClientHelloFields.highestSupportedVersion(message, layout.supportedVersions())
                    : layout.legacyVersion();
        }
    }

    @State(Scope.Thread)
    public static class OneHello {
        /** One client of each kind, with the most and the fewest cipher suites and extensions. */
        @Param({
            "captured/curl-default.bin",
            "captured/jdk17-sslsocket-alpn.bin",
            "captured/openssl-tls12.bin",
            "captured/openssl-sni-253.bin",
        })
        public String file;

        @Param({"true"})
        public boolean direct;

        LaidOut hello;
        final Ja4 ja4 = new Ja4();

        @Setup(Level.Trial)
        public void setUp() {
            hello = new LaidOut(file, direct);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            hello.message.release();
        }
    }

    @State(Scope.Thread)
    public static class AllHellos {
        @Param({"true"})
        public boolean direct;

        List<LaidOut> hellos;
        final Ja4 ja4 = new Ja4();

        @Setup(Level.Trial)
        public void setUp() {
            hellos = new ArrayList<>();
            for (String file : hellosThatParse()) {
                hellos.add(new LaidOut(file, direct));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            hellos.forEach(hello -> hello.message.release());
        }
    }

    @Benchmark
    public String fingerprint(OneHello state) {
        LaidOut hello = state.hello;
        return state.ja4.fingerprint(hello.message, hello.layout, hello.version);
    }

    @Benchmark
    public int fingerprintWholeCorpus(AllHellos state) {
        int length = 0;
        for (LaidOut hello : state.hellos) {
            length += state.ja4.fingerprint(hello.message, hello.layout, hello.version).length();
        }
        return length;
    }

    /** The corpus files whose ClientHello parses, in the manifest's order. */
    static List<String> hellosThatParse() {
        List<String> files = new ArrayList<>();
        for (String file : Corpus.files()) {
            byte[] bytes = Corpus.bytes(file);
            ByteBuf buf = Unpooled.wrappedBuffer(bytes);
            boolean[] reported = {false};
            ClientHelloParser.parse(buf, 16384, true, (sni, alpn, version, ech, recordVersion, ja4) -> reported[0] = true);
            if (reported[0]) {
                files.add(file);
            }
        }
        return files;
    }

    /** The handshake message carried by the records {@code wire} opens with. */
    private static byte[] handshakeMessage(byte[] wire) {
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        int needed = Integer.MAX_VALUE;
        for (int at = 0; message.size() < needed; ) {
            int length = (wire[at + 3] & 0xff) << 8 | (wire[at + 4] & 0xff);
            message.write(wire, at + TlsWire.RECORD_HEADER_LENGTH, length);
            at += TlsWire.RECORD_HEADER_LENGTH + length;
            byte[] soFar = message.toByteArray();
            if (soFar.length >= TlsWire.HANDSHAKE_HEADER_LENGTH) {
                needed = TlsWire.HANDSHAKE_HEADER_LENGTH
                        + ((soFar[1] & 0xff) << 16 | (soFar[2] & 0xff) << 8 | (soFar[3] & 0xff));
            }
        }
        return message.toByteArray();
    }
}
