package io.snigate.explain;

import io.netty.util.NetUtil;
import io.snigate.core.TlsVersions;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The connection {@code snigate explain} is asked about, from its command line.
 *
 * @param alpn the protocols offered, or null when the client sends no ALPN extension
 * @param client the client's address, or null when not given
 * @param port the port dialed, or null for the listener's
 * @param tls the highest TLS version offered, as on the wire
 * @param listener the listen address as written, or null for the first listener
 * @param ech whether the ClientHello carries an Encrypted Client Hello extension (its SNI then the
 *     provider's cover name)
 */
record ExplainQuestion(Path config, String sni, List<String> alpn, InetAddress client, Integer port, int tls,
        String listener, boolean ech, boolean resolve, boolean json) {

    /**
     * Parses the arguments after {@code explain}; null for {@code --help}.
     *
     * @throws IllegalArgumentException whose message says what is wrong with the command line
     */
    static ExplainQuestion parse(List<String> args) {
        Path config = Path.of("routes.yaml");
        String sni = null;
        List<String> alpn = null;
        InetAddress client = null;
        Integer port = null;
        int tls = TlsVersions.TLS_1_3;
        String listener = null;
        boolean ech = false;
        boolean resolve = false;
        boolean json = false;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            switch (arg) {
                case "-h", "--help" -> {
                    return null;
                }
                case "--ech" -> ech = true;
                case "--resolve" -> resolve = true;
                case "--json" -> json = true;
                case "-c", "--config" -> config = Path.of(value(args, i++));
                case "--sni" -> sni = value(args, i++);
                case "--alpn" -> alpn = Arrays.stream(value(args, i++).split(",")).map(String::trim)
                        .filter(p -> !p.isEmpty()).toList();
                case "--client" -> client = address(value(args, i++));
                case "--port" -> port = port(value(args, i++));
                case "--tls" -> tls = tlsVersion(value(args, i++));
                case "--listener" -> listener = value(args, i++);
                default -> throw new IllegalArgumentException("unknown argument '" + arg + "'");
            }
        }
        if (sni == null) {
            throw new IllegalArgumentException("--sni NAME is required: the server name the client sends");
        }
        return new ExplainQuestion(config, sni, alpn, client, port, tls, listener, ech, resolve, json);
    }

    private static String value(List<String> args, int at) {
        if (at + 1 >= args.size()) {
            throw new IllegalArgumentException("option '" + args.get(at) + "' needs a value");
        }
        return args.get(at + 1);
    }

    private static InetAddress address(String text) {
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(text);
        if (bytes == null) {
            throw new IllegalArgumentException("--client \"" + text + "\" is not an IP address");
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException impossible) {
            throw new IllegalArgumentException("--client \"" + text + "\" is not an IP address");
        }
    }

    private static int port(String text) {
        try {
            int port = Integer.parseInt(text);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // Said below.
        }
        throw new IllegalArgumentException("--port \"" + text + "\" is not a port from 1 to 65535");
    }

    private static int tlsVersion(String text) {
        try {
            return TlsVersions.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--tls \"" + text + "\": " + e.getMessage());
        }
    }
}
