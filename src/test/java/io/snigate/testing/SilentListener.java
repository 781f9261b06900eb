package io.snigate.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback listener that never accepts and whose accept queue is full: the kernel drops every
 * further SYN, so a dial to it hangs until the dialer gives up (a dead upstream behind a firewall
 * that drops).
 */
public final class SilentListener implements AutoCloseable {
    private final ServerSocket socket;
    private final List<Socket> fillers = new ArrayList<>();

    public SilentListener() throws IOException {
        socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        for (int i = 0; i < 3; i++) {
            Socket filler = new Socket();
            fillers.add(filler);
            try {
                filler.connect(socket.getLocalSocketAddress(), 200);
            } catch (IOException dropped) {
                // The queue is full already.
            }
        }
    }

    public int port() {
        return socket.getLocalPort();
    }

    /** Whether a socket of this machine is sending SYNs to this listener (/proc/net/tcp, state 02). */
    public boolean isBeingDialed() throws IOException {
        String remote = String.format("0100007F:%04X", port());
        try (var lines = Files.lines(Path.of("/proc/net/tcp"))) {
            return lines.skip(1).map(String::trim).map(line -> line.split("\\s+"))
                    .anyMatch(fields -> fields[2].equals(remote) && fields[3].equals("02"));
        }
    }

    @Override
    public void close() throws IOException {
        for (Socket filler : fillers) {
            filler.close();
        }
        socket.close();
    }
}
