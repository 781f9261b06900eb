package io.snigate.listen;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The processes that listen on a TCP port, found in {@code /proc} as {@code ss -ltnp} finds them:
 * the listening sockets' inodes in {@code /proc/net/tcp} and {@code tcp6}, then the processes
 * whose descriptors name them. Read on the thread that binds and on the watch of
 * {@link PortSharing}, never on an event loop. A process whose descriptors this one may not read
 * (another user's, without root) is not found.
 */
final class PortListeners {
    /** The state {@code /proc/net/tcp} gives a listening socket. */
    private static final String LISTEN = "0A";

    private final Path proc;

    PortListeners(Path proc) {
        this.proc = proc;
    }

    /**
     * A process listening on the port: its id, {@code comm} name, and, when it runs snigate, the
     * config file it was given, made absolute from its working directory (else null).
     */
    record Listener(long pid, String name, Path snigateConfig) {
        boolean isSnigate() {
            return snigateConfig != null;
        }

        /**
         * Whether this process is a snigate on the config file {@code config}: the same file,
         * however either names it (a link, a relative path).
         */
        boolean runs(Path config) {
            if (snigateConfig == null) {
                return false;
            }
            try {
                return Files.isSameFile(config, snigateConfig);
            } catch (IOException | SecurityException unreadable) {
                return config.toAbsolutePath().normalize().equals(snigateConfig); // gone, or not ours to see
            }
        }

        String described() {
            return isSnigate() ? "snigate (pid " + pid + ", config " + snigateConfig + ")" : name + " (pid " + pid + ")";
        }
    }

    /** The processes found listening on {@code port}, in the order of their ids; empty if none are readable. */
    List<Listener> on(int port) {
        String localPort = String.format(Locale.ROOT, ":%04X", port);
        Set<String> sockets = new HashSet<>();
        for (String table : List.of("net/tcp", "net/tcp6")) {
            sockets.addAll(listeningInodes(proc.resolve(table), local -> local.endsWith(localPort)));
        }
        List<Listener> found = new ArrayList<>();
        if (sockets.isEmpty()) {
            return found;
        }
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(proc, "[0-9]*")) {
            for (Path process : processes) {
                if (holdsAny(process.resolve("fd"), sockets)) {
                    found.add(new Listener(Long.parseLong(process.getFileName().toString()),
                            read(process.resolve("comm")).strip(), snigateConfig(process)));
                }
            }
        } catch (IOException | RuntimeException e) {
            // /proc unreadable here: the message stays without a name.
        }
        found.sort((a, b) -> Long.compare(a.pid(), b.pid()));
        return found;
    }

    /**
     * How many sockets listen on exactly {@code address}, whichever processes hold them: those of
     * one {@code SO_REUSEPORT} group, among which the kernel splits the address's new connections.
     */
    int listeningOn(InetSocketAddress address) {
        InetAddress ip = address.getAddress();
        String local = hex(ip.getAddress()) + String.format(Locale.ROOT, ":%04X", address.getPort());
        return listeningInodes(proc.resolve(ip instanceof Inet6Address ? "net/tcp6" : "net/tcp"), local::equals).size();
    }

    /**
     * An address as the kernel prints it in {@code /proc/net/tcp}: each 32-bit word of it in the
     * host's byte order, in hex.
     */
    private static String hex(byte[] address) {
        ByteBuffer words = ByteBuffer.wrap(address).order(ByteOrder.nativeOrder());
        StringBuilder printed = new StringBuilder();
        while (words.hasRemaining()) {
            printed.append(String.format(Locale.ROOT, "%08X", words.getInt()));
        }
        return printed.toString();
    }

    /**
     * The descriptions of the listening sockets in one table whose local address ({@code ip:port}
     * in hex) {@code local} accepts, as "socket:[inode]". The kernel lists the listening sockets
     * first, so the reading stops at the first row that is not one: during a hand-over the table
     * also holds every connection of the other process.
     */
    private static Set<String> listeningInodes(Path table, Predicate<String> local) {
        Set<String> inodes = new HashSet<>();
        try (BufferedReader rows = Files.newBufferedReader(table, StandardCharsets.ISO_8859_1)) {
            rows.readLine(); // the header
            for (String row; (row = rows.readLine()) != null; ) {
                String[] fields = row.trim().split("\\s+");
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
                if (fields.length <= 9 || !fields[3].equals(LISTEN)) {
                    break;
                }
                if (local.test(fields[1])) {
                    inodes.add("socket:[" + fields[9] + "]");
                }
            }
        } catch (IOException | RuntimeException e) {
            // No such table here (no IPv6), or /proc unreadable: nothing found in it.
        }
        return inodes;
    }

    private static boolean holdsAny(Path descriptors, Set<String> sockets) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(descriptors)) {
            for (Path fd : fds) {
                try {
                    if (sockets.contains(Files.readSymbolicLink(fd).toString())) {
                        return true;
                    }
                } catch (IOException closedMeanwhile) {
                    // The descriptor was closed between the listing and the read.
                }
            }
        } catch (IOException | SecurityException notOurs) {
            // Another user's process, or one that ended.
        }
        return false;
    }

    /**
     * The config file of a process whose command line runs snigate (its main class, or its jar as
     * the launcher names it), as {@code Main} reads it: {@code -c}, {@code --config},
     * {@code --config=}, else routes.yaml; null for any other process.
     */
    private static Path snigateConfig(Path process) {
        String[] arguments = read(process.resolve("cmdline")).split("\0");
        boolean snigate = false;
        String config = "routes.yaml";
        for (int i = 0; i < arguments.length; i++) {
            String argument = arguments[i];
            String file = argument.substring(argument.lastIndexOf('/') + 1);
            if (argument.equals("io.snigate.Main") || file.startsWith("snigate") && file.endsWith(".jar")) {
                snigate = true;
            } else if (snigate && (argument.equals("-c") || argument.equals("--config")) && i + 1 < arguments.length) {
                config = arguments[++i];
            } else if (snigate && argument.startsWith("--config=")) {
                config = argument.substring("--config=".length());
            }
        }
        if (!snigate) {
            return null;
        }
        try {
            return Files.readSymbolicLink(process.resolve("cwd")).resolve(config).normalize();
        } catch (IOException | RuntimeException unreadable) {
            return Path.of(config);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
