package io.snigate.config;

import java.util.Locale;
import java.util.Objects;

/**
 * One entry of {@code listen:}: an address for TLS clients, and how the proxy learns where a
 * client was really going when a firewall sent it here.
 *
 * @param address the IP literal and port to bind
 * @param originalDst how the original destination is found on this listener
 * @param line the line of the entry in the file, for messages
 * @param clients the client addresses admitted at accept; others are closed before a byte is read
 */
public record Listener(HostPort address, OriginalDst originalDst, int line, ClientRules clients) {

    /** How a listener learns the address and port a client dialed before it was intercepted. */
    public enum OriginalDst {
        /** Clients dial the proxy itself (a DNS redirect, or a plain service address). */
        NONE,
        /** iptables/nftables REDIRECT or DNAT: the kernel's conntrack entry has the original destination. */
        REDIRECT,
        /** TPROXY: the socket is bound to the original destination, so it is the local address. */
        TPROXY;

        private final String label = name().toLowerCase(Locale.ROOT);

        /** The value as written in the config. */
        public String label() {
            return label;
        }
    }

    public Listener {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(originalDst, "originalDst");
        Objects.requireNonNull(clients, "clients");
    }

    /** A listener that admits every client. */
    public Listener(HostPort address, OriginalDst originalDst, int line) {
        this(address, originalDst, line, ClientRules.ANYONE);
    }

    /** A listener as a plain {@code "ip:port"} entry gives it. */
    public static Listener plain(HostPort address, int line) {
        return new Listener(address, OriginalDst.NONE, line);
    }

    /** The listen address as written, which names the listener in logs and metrics. */
    public String name() {
        return address.toString();
    }

    /** Whether the proxy sits behind an interception and reads each client's original destination. */
    public boolean isTransparent() {
        return originalDst != OriginalDst.NONE;
    }
}
