package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.preread.ClientHelloParser;
import io.snigate.preread.PrereadVerdict;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * {@link ClientHelloParser#parse} over every file of the corpus, each a whole first flight as
 * the pre-read hands it over (endOfStream false, the default 16 KiB limit), reporting into a
 * {@link ConnectionRecord} as the pre-read does. Each op hands the verdict and the record's SNI
 * and ALPN list to the Blackhole, so escape analysis cannot make the strings disappear.
 *
 * <ul>
 *   <li>{@code corpusFile}: one parse of one file per op, one {@code @Param} value per file of
 *       {@code manifest.json} (the list in {@link OneFile}; the run fails if they differ), so
 *       {@code -prof gc} gives the bytes allocated by one parse of that file
 *       ({@code gc.alloc.rate.norm}).
 *   <li>{@code wholeCorpus}: every file of the manifest once per op (30 parses today).
 * </ul>
 *
 * <p>Buffers are unpooled and direct by default (the proxy's cumulation is a direct buffer);
 * {@code -p direct=false} uses heap buffers. The parser never moves their indexes, so they are
 * filled once at setup. Run from the checkout's root (src/site/markdown/performance.md).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ClientHelloParserBenchmark {

    static final int MAX_CLIENT_HELLO_BYTES = 16384;

    private static final ConnectionObserver UNOBSERVED = (event, connection, nanos) -> {};

    /** The record of one connection, which the parser fills as the pre-read's does. */
    static final class Connection {
        private final EmbeddedChannel channel = new EmbeddedChannel();
        final ConnectionRecord record = ConnectionRecord.attach(channel, "bench", UNOBSERVED);

        void close() {
            channel.finishAndReleaseAll();
        }
    }

    /** One file of the corpus. */
    @State(Scope.Thread)
    public static class OneFile {
        @Param({
            "captured/curl-as-http-proxy-client.bin",
            "captured/curl-connect-to-tls12.bin",
            "captured/curl-default.bin",
            "captured/curl-http1.1.bin",
            "captured/curl-http2.bin",
            "captured/jdk17-httpclient-h2.bin",
            "captured/jdk17-sslsocket-alpn.bin",
            "captured/jdk17-sslsocket-noalpn.bin",
            "captured/openssl-alpn-h2-http11.bin",
            "captured/openssl-no-tls13-alpn-http11.bin",
            "captured/openssl-noservername.bin",
            "captured/openssl-sni-253.bin",
            "captured/openssl-tls12.bin",
            "captured/openssl-tls13-default.bin",
            "crafted/connect-example.bin",
            "crafted/connect-http10-proxy-auth.bin",
            "crafted/frag2-curl-http2-split-in-sni.bin",
            "crafted/frag2-jdk17-header-split.bin",
            "crafted/frag2-no-sni-openssl.bin",
            "crafted/frag2-openssl-sni-253.bin",
            "crafted/frag2-openssl-tls13.bin",
            "crafted/http-get.bin",
            "crafted/no-sni-curl.bin",
            "crafted/no-sni-jdk17.bin",
            "crafted/no-sni-openssl-tls12.bin",
            "crafted/random-64.bin",
            "crafted/sni-mixed-case-jdk17.bin",
            "crafted/sni-trailing-dot-openssl.bin",
            "crafted/sni-trailing-dot-uppercase-curl.bin",
            "crafted/sni-uppercase-curl.bin",
        })
        public String file;

        @Param({"true"})
        public boolean direct;

        ByteBuf buf;
        Connection connection;

        @Setup(Level.Trial)
        public void setUp() {
            checkParams();
            buf = Corpus.buffer(file, direct);
            connection = new Connection();
            // Fail early rather than measure a buffer the parser did not read whole.
            if (ClientHelloParser.parse(buf, MAX_CLIENT_HELLO_BYTES, false, connection.record).needsMore()) {
                throw new IllegalStateException(file + ": the parser wants more bytes");
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            buf.release();
            connection.close();
        }

        /** The @Param list must be the manifest's: a corpus file added later is not skipped silently. */
        private static void checkParams() {
            List<String> manifest = Corpus.files();
            List<String> params;
            try {
                params = List.of(OneFile.class.getField("file").getAnnotation(Param.class).value());
            } catch (NoSuchFieldException e) {
                throw new AssertionError(e);
            }
            if (!manifest.equals(params)) {
                throw new IllegalStateException("the @Param list of ClientHelloParserBenchmark.OneFile.file differs "
                        + "from manifest.json; update it to: " + manifest);
            }
        }
    }

    /** Every file of the corpus. */
    @State(Scope.Thread)
    public static class AllFiles {
        @Param({"true"})
        public boolean direct;

        ByteBuf[] bufs;
        Connection connection;

        @Setup(Level.Trial)
        public void setUp() {
            List<String> files = Corpus.files();
            bufs = new ByteBuf[files.size()];
            for (int i = 0; i < bufs.length; i++) {
                bufs[i] = Corpus.buffer(files.get(i), direct);
            }
            connection = new Connection();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            for (ByteBuf buf : bufs) {
                buf.release();
            }
            connection.close();
        }
    }

    @Benchmark
    public void corpusFile(OneFile state, Blackhole bh) {
        parseAndConsume(state.buf, state.connection.record, bh);
    }

    @Benchmark
    public void wholeCorpus(AllFiles state, Blackhole bh) {
        for (ByteBuf buf : state.bufs) {
            parseAndConsume(buf, state.connection.record, bh);
        }
    }

    private static void parseAndConsume(ByteBuf buf, ConnectionRecord record, Blackhole bh) {
        bh.consume(ClientHelloParser.parse(buf, MAX_CLIENT_HELLO_BYTES, false, record));
        bh.consume(record.sni());
        bh.consume(record.alpn());
    }
}
