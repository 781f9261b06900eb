package io.snigate.testing;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A child process that holds tunnels through the proxy from outside its JVM, so that the proxy
 * process may spend its whole file-descriptor budget on them: it runs the upstream sink, prints
 * {@code PORT n}, and then obeys lines on standard input: {@code OPEN proxyPort count} (prints
 * {@code HELD n} once the sink holds them all), {@code CLOSE} (prints {@code CLOSED} once the
 * sink holds none), {@code EXIT}. Every wait is bounded.
 */
public final class TunnelLoad {
    public static void main(String[] args) throws Exception {
        byte[] hello = Corpus.resource("corpus/captured/curl-default.bin");
        List<Socket> clients = new ArrayList<>();
        try (SinkServer sink = new SinkServer(0);
                BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            System.out.println("PORT " + sink.port());
            for (String line; (line = commands.readLine()) != null; ) {
                String[] words = line.split(" ");
                switch (words[0]) {
                    case "OPEN" -> {
                        int port = Integer.parseInt(words[1]);
                        int count = Integer.parseInt(words[2]);
                        for (int i = 0; i < count; i++) {
                            Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
                            socket.getOutputStream().write(hello);
                            clients.add(socket);
                        }
                        waitFor(() -> sink.open() >= count);
                        System.out.println("HELD " + sink.open());
                    }
                    case "CLOSE" -> {
                        for (Socket socket : clients) {
                            socket.close();
                        }
                        clients.clear();
                        waitFor(() -> sink.open() == 0);
                        System.out.println("CLOSED " + sink.open());
                    }
                    default -> {
                        return;
                    }
                }
            }
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }
}
