package io.snigate.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * A real TLS server on loopback (the JDK's SSLServerSocket) with a certificate made in the test.
 * It negotiates ALPN from the protocols it is given and then behaves by the first bytes it reads:
 * an HTTP/1.1 request gets a small response naming the negotiated protocol; the HTTP/2 preface
 * gets a SETTINGS frame; anything else is echoed back until the client half-closes, after which
 * the server half-closes too.
 */
public final class TlsServer implements AutoCloseable {
    private final SSLServerSocket socket;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final ConcurrentLinkedQueue<String> negotiated = new ConcurrentLinkedQueue<>();

    public TlsServer(TestCerts certs, List<String> alpn) throws IOException {
        socket = (SSLServerSocket) certs.serverContext().getServerSocketFactory()
                .createServerSocket(0, 128, InetAddress.getLoopbackAddress());
        SSLParameters params = socket.getSSLParameters();
        params.setApplicationProtocols(alpn.toArray(String[]::new));
        socket.setSSLParameters(params);
        threads.submit(this::acceptLoop);
    }

    public int port() {
        return socket.getLocalPort();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port());
    }

    /** The ALPN protocol of every handshake the server completed ("" when none was agreed). */
    public List<String> negotiatedProtocols() {
        return List.copyOf(negotiated);
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket client = socket.accept();
                threads.submit(() -> serve((SSLSocket) client));
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void serve(SSLSocket client) {
        try (client) {
            client.setSoTimeout(60_000);
            client.startHandshake();
            String protocol = client.getApplicationProtocol();
            negotiated.add(protocol == null ? "" : protocol);
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            byte[] buffer = new byte[64 * 1024];
            int n = in.read(buffer);
            if (n <= 0) {
                return;
            }
            String start = new String(buffer, 0, Math.min(n, 16), StandardCharsets.ISO_8859_1);
            if (start.startsWith("PRI * HTTP/2.0")) {
                // An empty SETTINGS frame: enough for an HTTP/2 client to see a live h2 server.
                out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0});
                out.flush();
                return;
            }
            if (start.startsWith("GET ") || start.startsWith("HEAD ")) {
                byte[] body = ("hello over " + (protocol == null || protocol.isEmpty() ? "no-alpn" : protocol) + "\n")
                        .getBytes(StandardCharsets.US_ASCII);
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                return;
            }
            do {
                out.write(buffer, 0, n);
            } while ((n = in.read(buffer)) > 0);
            out.flush();
            client.shutdownOutput();
        } catch (IOException e) {
            // The client went away: nothing to serve.
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
        threads.shutdownNow();
    }
}
