package io.snigate.bench;

import io.snigate.config.ConfigLoader;
import io.snigate.config.NameList;
import io.snigate.config.ProxyConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.openjdk.jol.info.GraphLayout;

/**
 * Prints, for generated lists of 100,000 and 1,000,000 names, the heap the loaded list keeps
 * (JOL's size of the whole {@code NameList} graph, in this JVM's layout) per name, and the time
 * the whole config takes to load, the median of five loads after two warm-ups.
 *
 * <pre>java -Djdk.attach.allowAttachSelf=true -cp target/benchmarks.jar io.snigate.bench.AllowlistMemory</pre>
 */
public final class AllowlistMemory {
    private AllowlistMemory() {}

    public static void main(String[] args) throws Exception {
        for (int names : new int[] {100_000, 1_000_000}) {
            Path dir = Files.createTempDirectory("allowlist-memory");
            Path config = Allowlists.config(dir, names);
            long fileBytes = Files.size(dir.resolve("allow.list"));
            long[] millis = new long[7];
            ProxyConfig loaded = null;
            for (int i = 0; i < millis.length; i++) {
                long started = System.nanoTime();
                loaded = ConfigLoader.load(config);
                millis[i] = (System.nanoTime() - started) / 1_000_000;
            }
            NameList list = loaded.nameLists().get(0);
            long heap = GraphLayout.parseInstance(list).totalSize();
            long[] measured = Arrays.copyOfRange(millis, 2, millis.length);
            Arrays.sort(measured);
            System.out.printf("names=%d file_bytes=%d bytes_per_line=%.1f heap_bytes=%d heap_bytes_per_name=%.1f"
                            + " arrays_bytes_per_name=%.1f load_ms_median=%d load_ms_all=%s%n",
                    list.size(), fileBytes, fileBytes / (double) names, heap, heap / (double) list.size(),
                    list.heapBytes() / (double) list.size(), measured[measured.length / 2], Arrays.toString(millis));
            Files.delete(dir.resolve("allow.list"));
            Files.delete(config);
            Files.delete(dir);
        }
    }
}
