package io.snigate.listen;

import io.netty.util.NetUtil;
import io.snigate.config.ConfigException;
import io.snigate.config.HostPort;
import io.snigate.config.Listener;
import io.snigate.config.ProxyConfig;
import io.snigate.core.Sysctl;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an operator needs to hear about binding a listening address: that another process already
 * listens there (snigate binds with {@code SO_REUSEPORT}, so the kernel would quietly split the
 * connections between the two), and, when a bind fails, which address, why, and what to do.
 */
final class BindChecks {
    private static final Logger LOG = LoggerFactory.getLogger(BindChecks.class);

    private BindChecks() {}

    /**
     * Says when {@code address} already has a listener: a bind without {@code SO_REUSEPORT} fails
     * there exactly then. Another snigate on the same config file ({@code config}, as this one was
     * given it) is a restart handing over (deploy/README.md), said as information; any other
     * process, another snigate on another config among them, or one this process may not see,
     * would take part of the traffic unnoticed, and is warned of with its name when {@code /proc}
     * gives it.
     */
    static void warnIfServed(InetSocketAddress address, String what, String config) {
        warnIfServed(address, what, config, new PortListeners(Path.of("/proc")));
    }

    static void warnIfServed(InetSocketAddress address, String what, String config, PortListeners listeners) {
        if (address.getPort() == 0) {
            return;
        }
        try {
            probe(address, false);
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("Address already in use") && shared(address)) {
                said(address, what, listeners.on(address.getPort()), Path.of(config).toAbsolutePath().normalize());
            }
            // Anything else (a transparent listener's foreign address, a port below 1024) the bind tells.
        }
    }

    /**
     * The kernel's lowest port any user may bind ({@code net.ipv4.ip_unprivileged_port_start}),
     * as this host has it, or its default when it cannot be read.
     */
    private static String unprivilegedPortStart() {
        try {
            return Sysctl.read(Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start"));
        } catch (IOException | RuntimeException unreadable) {
            return "1024";
        }
    }

    private static boolean below(int port, String floor) {
        try {
            return port < Integer.parseInt(floor);
        } catch (NumberFormatException unexpected) {
            return true;
        }
    }

    /**
     * Whether the listener on {@code address} lets this process join it ({@code SO_REUSEPORT}, the
     * same user): one that does not makes the bind fail next, and that failure says all.
     */
    private static boolean shared(InetSocketAddress address) {
        try {
            probe(address, true);
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /**
     * Refuses, for {@code --check}, a listen or admin address this process may not bind: a port
     * below the kernel's unprivileged floor without the capability, or an address that is not of
     * this host (a TPROXY listener's may not be). One in use is no refusal, nor one a socket
     * already listens on, which this process could not bind: a reload's check meets the running
     * proxy there, and a reload keeps its sockets.
     */
    static void checkBindable(ProxyConfig config) throws ConfigException {
        PortListeners listening = new PortListeners(Path.of("/proc"));
        for (Listener listener : config.listeners()) {
            checkBindable(config.source(), listener.line(), "listen", listener.address().toResolvedLiteral(),
                    listener.originalDst() == Listener.OriginalDst.TPROXY, listening);
        }
        checkBindable(config.source(), config.adminLine(), "serve admin", config.admin().toResolvedLiteral(), false,
                listening);
    }

    private static void checkBindable(String source, int line, String what, InetSocketAddress address,
            boolean transparent, PortListeners listening) throws ConfigException {
        // A TPROXY listener's address may be another host's: its port is asked of its family's
        // wildcard, where only the floor can refuse it.
        InetSocketAddress probed = transparent
                ? new InetSocketAddress(wildcardLike(address.getAddress()), address.getPort()) : address;
        try {
            probe(probed, false);
        } catch (IOException e) {
            String reason = String.valueOf(e.getMessage());
            boolean refused = reason.contains("Permission denied")
                    || !transparent && reason.contains("Cannot assign requested address");
            if (refused && listening.listeningOn(address) == 0) {
                String problem = problem(what, address, e);
                throw new ConfigException(source, line, reason.contains("Permission denied")
                        ? problem + "; the file itself is valid: check it as the service runs it (sudo, or systemctl"
                                + " reload, whose check has the unit's capabilities)"
                        : problem, e);
            }
        }
    }

    /** The wildcard address of {@code address}'s family. */
    private static InetAddress wildcardLike(InetAddress address) {
        try {
            return InetAddress.getByAddress(new byte[address instanceof Inet6Address ? 16 : 4]);
        } catch (UnknownHostException impossible) { // thrown only for a length other than 4 or 16
            throw new IllegalStateException(impossible);
        }
    }

    /**
     * Binds a socket to {@code address} and closes it. It never listens: a listening probe with
     * {@code SO_REUSEPORT} would join the other process's group, and the connections the kernel
     * gave it would be reset at its close. {@code SO_REUSEADDR}, as a listener has it, keeps the
     * connections of an earlier process in TIME_WAIT from counting.
     */
    private static void probe(InetSocketAddress address, boolean reusePort) throws IOException {
        try (Socket probe = new Socket()) {
            probe.setReuseAddress(true);
            if (reusePort) {
                probe.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            }
            probe.bind(address);
        }
    }

    private static void said(InetSocketAddress address, String what, List<PortListeners.Listener> others, Path config) {
        String names = others.stream().map(PortListeners.Listener::described).collect(Collectors.joining(", "));
        if (!others.isEmpty() && others.stream().allMatch(other -> other.runs(config))) {
            LOG.info("{} {} is also listened on by {}: the kernel splits new connections between it and this one "
                    + "until it closes its listeners, as when a restart hands over (deploy/README.md)",
                    what, HostPort.format(address), names);
            return;
        }
        LOG.warn("{} {} is already listened on by another process{}: the kernel will split new connections "
                + "between it and this snigate. Expected only while a restart hands over (deploy/README.md); "
                + "otherwise stop the other process (ss -ltnp 'sport = :{}') or choose another port",
                what, HostPort.format(address), others.isEmpty() ? "" : " (" + names + ")", address.getPort());
    }

    /**
     * The failure of binding {@code address} as a config error: the address, the reason, the fix.
     *
     * @param line the line of the config that asked for it, or 0
     */
    static ConfigException failed(String source, int line, String what, InetSocketAddress address, Throwable failure) {
        return new ConfigException(source, line, problem(what, address, failure), failure);
    }

    private static String problem(String what, InetSocketAddress address, Throwable failure) {
        String reason = rootMessage(failure);
        String hint;
        if (reason.contains("Address already in use")) {
            hint = "another process listens there without sharing it (ss -ltnp 'sport = :" + address.getPort()
                    + "'): stop it, or choose another port";
        } else if (reason.contains("Permission denied")) {
            String floor = unprivilegedPortStart();
            hint = !below(address.getPort(), floor) ? "the port is not below this host's floor for any user (" + floor
                    + ", net.ipv4.ip_unprivileged_port_start): a security module (SELinux, AppArmor) or a seccomp filter"
                    + " refused it, and its log says why"
                    : "a port below " + floor + " (net.ipv4.ip_unprivileged_port_start) needs root or CAP_NET_BIND_SERVICE"
                    + " (deploy/systemd/snigate@.service grants it); in a container: --sysctl"
                    + " net.ipv4.ip_unprivileged_port_start=0, or listen on port " + floor + " or above and publish it as "
                    + address.getPort();
        } else if (reason.contains("Cannot assign requested address")) {
            hint = NetUtil.toAddressString(address.getAddress()) + " is not an address of this host";
        } else {
            hint = "check the address";
        }
        return "cannot " + what + " on " + HostPort.format(address) + ": " + reason + "; " + hint;
    }

    private static String rootMessage(Throwable failure) {
        Throwable cause = failure;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        int errno = message.indexOf("failed with error(");
        int colon = message.indexOf("): ", errno);
        return errno >= 0 && colon > errno ? message.substring(colon + 3) : message;
    }
}
