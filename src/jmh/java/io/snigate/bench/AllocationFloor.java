package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.snigate.core.ClientHelloSink;
import io.snigate.preread.ClientHelloParser;
import io.snigate.preread.PrereadVerdict;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jol.info.GraphLayout;

/**
 * Prints, for each corpus file, what the parse reports and how many heap bytes that is (JOL graph
 * sizes in this JVM's layout): the SNI string, the ALPN list with its strings and the JA4 string,
 * the allocation target for one parse. Verdicts are shared constants and allocate nothing. Compare
 * with {@code gc.alloc.rate.norm} of {@link ClientHelloParserBenchmark}.
 *
 * <pre>java -Djdk.attach.allowAttachSelf=true -cp target/benchmarks.jar io.snigate.bench.AllocationFloor</pre>
 * (JOL needs the attach API to size some classes.)
 */
public final class AllocationFloor {

    /**
     * Objects a parse's results point at without the parse allocating them: the JDK's one-element
     * {@code List.of} keeps a shared sentinel in its second slot. Subtracting this graph removes
     * it, and nothing else, since the rest of it is made here.
     */
    private static final GraphLayout SHARED = GraphLayout.parseInstance(List.of(new Object()));

    private AllocationFloor() {}

    /** Keeps what one parse reported. */
    private static final class Reported implements ClientHelloSink {
        String sni;
        List<String> alpn;
        String ja4;

        @Override
        public void clientHello(
                String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion, String ja4) {
            this.sni = sni;
            this.alpn = alpn;
            this.ja4 = ja4;
        }
    }

    public static void main(String[] args) {
        System.out.println("file\tbytes\tverdict\tsni\talpn\tja4\tsni+alpn+ja4 B");
        for (String file : Corpus.files()) {
            ByteBuf buf = Corpus.buffer(file, true);
            try {
                Reported reported = new Reported();
                PrereadVerdict v = ClientHelloParser.parse(
                        buf, ClientHelloParserBenchmark.MAX_CLIENT_HELLO_BYTES, false, reported);
                List<Object> roots = new ArrayList<>();
                if (reported.sni != null) {
                    roots.add(reported.sni);
                }
                if (reported.alpn != null) {
                    roots.add(reported.alpn);
                }
                if (reported.ja4 != null) {
                    roots.add(reported.ja4);
                }
                long floor = roots.isEmpty()
                        ? 0
                        : GraphLayout.parseInstance(roots.toArray()).subtract(SHARED).totalSize();
                System.out.printf("%s\t%d\t%s\t%s\t%s\t%s\t%d%n", file, buf.readableBytes(),
                        v.isRejected() ? "reject " + v.reason() : v.status(), reported.sni, reported.alpn, reported.ja4,
                        floor);
            } finally {
                buf.release();
            }
        }
    }
}
