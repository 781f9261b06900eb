package io.snigate.config;

import io.snigate.core.Reason;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One entry of {@code listen:}: an address for TLS clients, and how the proxy learns where a
 * client was really going when a firewall sent it here.
 *
 * @param address the IP literal and port to bind
 * @param originalDst how the original destination is found on this listener
 * @param proxyProtocol when not null, every connection must start with a PROXY protocol header
 *     from one of these peers, and its source stands for the client
 * @param clients the client addresses admitted (behind a PROXY header, the header's client); others
 *     are closed before a byte of the ClientHello is read
 * @param line the line of the entry in the file, for messages
 */
public record Listener(
        HostPort address, OriginalDst originalDst, ProxyProtocol proxyProtocol, ClientRules clients, int line) {
    /** Default of {@code proxy_protocol.timeout}. */
    public static final Duration DEFAULT_PROXY_PROTOCOL_TIMEOUT = Duration.ofSeconds(5);

    /**
     * {@code proxy_protocol}: a balancer in front of the listener sends the client's address in a
     * PROXY protocol header (v1 or v2) before anything else.
     *
     * @param trusted the peers allowed to send one; any other is closed before a byte is read
     * @param timeout how long a peer may take to send its whole header
     */
    public record ProxyProtocol(List<Cidr> trusted, Duration timeout) {
        public ProxyProtocol {
            trusted = List.copyOf(trusted);
            Objects.requireNonNull(timeout, "timeout");
        }

        /** Whether {@code peer} may send a header; an IPv4-mapped peer is judged as IPv4. */
        public boolean trusts(InetAddress peer) {
            for (Cidr range : trusted) {
                if (range.contains(peer)) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Whether {@code peer} may name a client in a PROXY header now: a listener without
     * {@code proxy_protocol} trusts no one to, whatever its headers' peers were trusted with before.
     */
    public boolean trustsHeadersFrom(InetAddress peer) {
        return proxyProtocol != null && proxyProtocol.trusts(peer);
    }

    /**
     * Why this listener refuses a connection's client now, or null. A client a PROXY header named
     * ({@code namedByHeader}) is only as good as the balancer {@code peer} that named it, so the
     * balancer's trust is judged first; then the client by {@code clients}. The same order at the
     * header's arrival and at a reload's judgement of open connections.
     */
    public Reason refusalOf(InetAddress peer, InetAddress client, boolean namedByHeader) {
        if (namedByHeader && !trustsHeadersFrom(peer)) {
            return Reason.PROXY_PROTOCOL_UNTRUSTED;
        }
        return clients.admits(client) ? null : Reason.CLIENT_NOT_ALLOWED;
    }

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


    /** A listener as a plain {@code "ip:port"} entry gives it. */
    public static Listener plain(HostPort address, int line) {
        return new Listener(address, OriginalDst.NONE, null, ClientRules.ANYONE, line);
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
