package io.snigate.handover;

import io.snigate.config.ConfigException;
import io.snigate.config.ConfigLoader;
import io.snigate.config.HostPort;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code snigate --await-ready PID --config FILE [--timeout SECONDS]} (the launcher
 * deploy/bin/snigate runs it in a small JVM of its own; {@code java -jar snigate.jar} takes it too): waits until the snigate process PID answers 200 on {@code /readyz} at the
 * admin address of FILE, then exits 0. It is the step between starting a new process and sending
 * the old one SIGTERM in a restart that hands over.
 *
 * <p>While two processes share the admin address ({@code SO_REUSEPORT}), the kernel gives each new
 * connection to either one, so a bare 200 does not say which process is ready: {@code /readyz}
 * names its process ({@code ready pid=N}), and this asks again on a new connection until the
 * answer is PID's own. Exits 1 when PID exits first or the time runs out, 2 on a usage or config
 * error. Runs in its own short-lived JVM, never inside the proxy.
 */
public final class AwaitReady {
    private static final Duration POLL = Duration.ofMillis(50);

    private AwaitReady() {}

    public static void main(String[] args) throws InterruptedException {
        System.exit(run(args));
    }

    /** Waits as the class says; the exit status is returned. */
    public static int run(String... args) throws InterruptedException {
        long pid = -1;
        Path config = null;
        long timeoutSeconds = 60;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--config" -> config = Path.of(args[++i]);
                    case "--timeout" -> timeoutSeconds = Long.parseLong(args[++i]);
                    default -> pid = Long.parseLong(args[i]);
                }
            }
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            pid = -1;
        }
        if (pid <= 0 || config == null) {
            System.err.println("usage: snigate --await-ready PID --config FILE [--timeout SECONDS]");
            return 2;
        }
        InetSocketAddress admin;
        try {
            admin = reachable(ConfigLoader.loadAdmin(config).toResolvedLiteral());
        } catch (ConfigException e) {
            System.err.println("snigate: " + e.getMessage());
            return 2;
        }
        String expected = "ready pid=" + pid + "\n";
        long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
        while (System.nanoTime() < deadline) {
            if (ProcessHandle.of(pid).filter(ProcessHandle::isAlive).isEmpty()) {
                System.err.println("snigate: process " + pid + " exited before it was ready");
                return 1;
            }
            if (readyz(admin).endsWith("\r\n\r\n" + expected)) {
                System.err.println("snigate: process " + pid + " is ready on " + readyzUrl(admin));
                return 0;
            }
            Thread.sleep(POLL.toMillis());
        }
        System.err.println("snigate: process " + pid + " was not ready on " + readyzUrl(admin) + " within "
                + timeoutSeconds + " s");
        return 1;
    }

    /** A wildcard admin address is reached through loopback. */
    private static InetSocketAddress reachable(InetSocketAddress admin) {
        if (!admin.getAddress().isAnyLocalAddress()) {
            return admin;
        }
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), admin.getPort());
    }

    /** The whole answer to {@code GET /readyz} on a new connection, or "" when there is none. */
    private static String readyz(InetSocketAddress admin) {
        try (Socket socket = new Socket()) {
            socket.connect(admin, 2_000);
            socket.setSoTimeout(2_000);
            OutputStream out = socket.getOutputStream();
            out.write("GET /readyz HTTP/1.0\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readNBytes(4096), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return "";
        }
    }

    private static String readyzUrl(InetSocketAddress admin) {
        return "http://" + HostPort.format(admin) + "/readyz";
    }
}
