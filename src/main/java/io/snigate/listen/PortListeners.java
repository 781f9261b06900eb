package io.snigate.listen;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The processes that listen on a TCP port, found in {@code /proc} as {@code ss -ltnp} finds them:
 * the listening sockets' inodes in {@code /proc/net/tcp} and {@code tcp6}, then the processes
 * whose descriptors name them. Used only to word the start's message about a shared port, on the
 * thread that binds, never on an event loop. A process whose descriptors this one may not read
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

        String described() {
            return isSnigate() ? "snigate (pid " + pid + ", config " + snigateConfig + ")" : name + " (pid " + pid + ")";
        }
    }

    /** The processes found listening on {@code port}, in the order of their ids; empty if none are readable. */
    List<Listener> on(int port) {
        Set<String> sockets = new HashSet<>();
        for (String table : List.of("net/tcp", "net/tcp6")) {
            sockets.addAll(listeningInodes(proc.resolve(table), port));
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
     * The descriptions of the listening sockets on {@code port} in one table, as "socket:[inode]".
     * The kernel lists the listening sockets first, so the reading stops at the first row that is
     * not one: during a hand-over the table also holds every connection of the other process.
     */
    private static Set<String> listeningInodes(Path table, int port) {
        Set<String> inodes = new HashSet<>();
        String localPort = String.format(Locale.ROOT, ":%04X", port);
        try (BufferedReader rows = Files.newBufferedReader(table, StandardCharsets.ISO_8859_1)) {
            rows.readLine(); // the header
            for (String row; (row = rows.readLine()) != null; ) {
                String[] fields = row.trim().split("\\s+");
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
                if (fields.length <= 9 || !fields[3].equals(LISTEN)) {
                    break;
                }
                if (fields[1].endsWith(localPort)) {
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
