package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.snigate.preread.ClientHello;
import io.snigate.preread.ClientHelloParser;
import io.snigate.preread.PrereadVerdict;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jol.info.GraphLayout;

/**
 * Prints, for each corpus file, what the parse returns and how many heap bytes its result
 * retains (JOL graph sizes in this JVM's layout): the SNI string plus the ALPN list (the issue's
 * allocation target for one parse), and the whole verdict (which also holds the ClientHello and
 * PrereadVerdict records). Compare with {@code gc.alloc.rate.norm} of
 * {@link ClientHelloParserBenchmark}.
 *
 * <pre>java -Djdk.attach.allowAttachSelf=true -cp target/benchmarks.jar io.snigate.bench.AllocationFloor</pre>
 * (JOL needs the attach API to size record classes.)
 */
public final class AllocationFloor {

    private AllocationFloor() {}

    public static void main(String[] args) {
        System.out.println("file\tbytes\tverdict\tsni\talpn\tsni+alpn B\tverdict graph B");
        for (String file : Corpus.files()) {
            ByteBuf buf = Corpus.buffer(file, true);
            try {
                PrereadVerdict v = ClientHelloParser.parse(buf, ClientHelloParserBenchmark.MAX_CLIENT_HELLO_BYTES, false);
                ClientHello hello = v.hello();
                String sni = hello == null ? null : hello.sni();
                List<String> alpn = hello == null ? null : hello.alpn();
                List<Object> roots = new ArrayList<>();
                if (sni != null) {
                    roots.add(sni);
                }
                if (alpn != null) {
                    roots.add(alpn);
                }
                if (v.rawSni() != null) {
                    roots.add(v.rawSni());
                }
                long floor = roots.isEmpty() ? 0 : GraphLayout.parseInstance(roots.toArray()).totalSize();
                // Shared singletons (NEED_MORE, bare rejections) are not allocated by a parse.
                long whole = hello == null && v.rawSni() == null ? 0 : GraphLayout.parseInstance(v).totalSize()
                        - sizeOfShared(v);
                System.out.printf("%s\t%d\t%s\t%s\t%s\t%d\t%d%n", file, buf.readableBytes(),
                        v.isRejected() ? "reject " + v.reason() : v.status(), sni, alpn, floor, whole);
            } finally {
                buf.release();
            }
        }
    }

    /** The enum constants a verdict points at are not allocated by a parse. */
    private static long sizeOfShared(PrereadVerdict v) {
        List<Object> shared = new ArrayList<>();
        shared.add(v.status());
        if (v.reason() != null) {
            shared.add(v.reason());
        }
        return GraphLayout.parseInstance(shared.toArray()).totalSize();
    }
}
