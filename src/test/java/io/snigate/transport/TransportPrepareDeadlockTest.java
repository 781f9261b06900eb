package io.snigate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.snigate.testing.ProcessRunner;
import java.net.InetAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@link Transport#prepareInBackground} while the starting thread makes its first address, as
 * {@code Main} does from the config's: unless {@code InetAddress} is initialised before the
 * thread starts, the two wait for each other for ever, and the proxy never becomes ready.
 *
 * <p>The window is the loading of Netty's io_uring library, a few milliseconds: a fresh JVM
 * ({@link Child}) watches the {@code snigate-start} thread and touches {@code InetAddress} for the
 * first time while that thread is inside {@code System.load}. The test repeats until a child has
 * hit the window, and fails if any child does not finish.
 */
class TransportPrepareDeadlockTest {
    private static final int ATTEMPTS = 8;

    @Test
    void theStartThreadAndTheConfigsFirstAddressDoNotWaitForEachOther() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        int hits = 0;
        StringBuilder outcomes = new StringBuilder();
        for (int attempt = 0; attempt < ATTEMPTS && hits == 0; attempt++) {
            ProcessRunner.Result result;
            try {
                result = ProcessRunner.run(30, java, "-cp", System.getProperty("java.class.path"), Child.class.getName());
            } catch (AssertionError timedOut) {
                throw new AssertionError("the child hung: its start thread and its first InetAddress waited for each other ("
                        + timedOut.getMessage() + ")", timedOut);
            }
            assertThat(result.exitCode()).as(result.stdout() + result.stderr()).isZero();
            outcomes.append(result.stdout().strip()).append(' ');
            if (result.stdout().contains("in the window")) {
                hits++;
            }
        }
        assertThat(hits).as("no child touched InetAddress while the library loaded: " + outcomes).isPositive();
    }

    /** A fresh JVM: nothing has initialised {@code InetAddress} when it starts. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Transport.prepareInBackground();
            Thread start = thread("snigate-start");
            boolean inWindow = false;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (start != null && start.isAlive() && !inWindow && System.nanoTime() < deadline) {
                inWindow = loadingNettysLibrary(start.getStackTrace());
            }
            // The first address this thread makes, as Main's would be one of the config's.
            InetAddress.getByName("192.0.2.1");
            if (start != null) {
                start.join();
            }
            System.out.println(inWindow ? "in the window" : "missed the window");
        }

        private static Thread thread(String name) {
            return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)).findFirst().orElse(null);
        }

        private static boolean loadingNettysLibrary(StackTraceElement[] stack) {
            boolean load = false;
            for (StackTraceElement frame : stack) {
                load |= frame.getClassName().equals("jdk.internal.loader.NativeLibraries") && frame.getMethodName().equals("load");
                if (load && frame.getClassName().equals("io.netty.util.internal.NativeLibraryUtil")) {
                    return true;
                }
            }
            return false;
        }
    }
}
