package io.snigate.core;

import java.util.Locale;

/**
 * The one vocabulary of why a connection was denied or ended: the access log's {@code reason}
 * field and the {@code reason} metric label use exactly these names.
 *
 * <p>Each reason knows the fatal TLS alert a TLS client gets for it (RFC 8446 §6), or
 * {@link Alerts#NONE} when the proxy should just close: a client that is not speaking TLS cannot
 * read an alert, and a client that went silent or hung up gets nothing.
 */
public enum Reason {
    // --- accept: what the proxy can afford
    /**
     * Over {@code max_connections}, {@code max_connections_per_client} or
     * {@code max_preread_connections} (closed at accept), or over a route's {@code max_connections}
     * (closed when routed).
     */
    CONNECTION_LIMIT(Outcome.REJECTED, Alerts.NONE),
    /**
     * A connection to a transparent listener ({@code original_dst}) that no firewall rule
     * diverted: someone dialed the proxy's port directly, so there is no destination to honour.
     * Closed at the accept; a {@code $original_dst} route reached through a listener that knows
     * none has read the hello, and its client gets the alert.
     */
    NO_ORIGINAL_DESTINATION(Outcome.REJECTED, Alerts.INTERNAL_ERROR),
    /**
     * The client's address is not admitted by {@code clients:}: a listener's rules close the
     * connection at accept (behind a PROXY header, once the header named the client), before a
     * byte of the ClientHello is read; a route's rules answer with {@code access_denied}.
     */
    CLIENT_NOT_ALLOWED(Outcome.REJECTED, Alerts.ACCESS_DENIED),
    // --- PROXY protocol header, on a listener that requires one
    /** The peer is not in the listener's {@code proxy_protocol.trusted}: closed before a byte is read. */
    PROXY_PROTOCOL_UNTRUSTED(Outcome.REJECTED, Alerts.NONE),
    /** A missing, malformed or oversized header, or a v2 CRC32C that does not match. */
    PROXY_PROTOCOL_INVALID(Outcome.REJECTED, Alerts.NONE),
    /** No whole header within {@code proxy_protocol.timeout}. */
    PROXY_PROTOCOL_TIMEOUT(Outcome.REJECTED, Alerts.NONE),
    // --- pre-read: what the client sent
    NO_SNI(Outcome.REJECTED, Alerts.HANDSHAKE_FAILURE),
    CONNECT_REQUEST(Outcome.REJECTED, Alerts.NONE),
    PLAIN_HTTP(Outcome.REJECTED, Alerts.NONE),
    NOT_TLS(Outcome.REJECTED, Alerts.NONE),
    MALFORMED(Outcome.REJECTED, Alerts.DECODE_ERROR),
    INVALID_SNI(Outcome.REJECTED, Alerts.UNRECOGNIZED_NAME),
    CLIENT_HELLO_TOO_LARGE(Outcome.REJECTED, Alerts.HANDSHAKE_FAILURE),
    PREREAD_TIMEOUT(Outcome.REJECTED, Alerts.NONE),
    /** The client hung up before a ClientHello was complete (port scanners, TCP health checks). */
    CLIENT_CLOSED(Outcome.REJECTED, Alerts.NONE),
    /**
     * A balancer's health check: a trusted balancer's connection closed before any byte, or after
     * a PROXY v2 {@code LOCAL} or v1 {@code UNKNOWN} header (the balancer's own connection) and
     * before any byte more. Kept apart from {@link #CLIENT_CLOSED} so that checks every few
     * seconds do not look like clients giving up.
     */
    HEALTH_CHECK(Outcome.REJECTED, Alerts.NONE),
    // --- route: what the policy says
    NO_ROUTE(Outcome.REJECTED, Alerts.UNRECOGNIZED_NAME),
    ALPN_NOT_ALLOWED(Outcome.REJECTED, Alerts.NO_APPLICATION_PROTOCOL),
    /** The highest TLS version the client offers is below {@code min_tls_version}. */
    TLS_VERSION_NOT_ALLOWED(Outcome.REJECTED, Alerts.PROTOCOL_VERSION),
    /**
     * A ClientHello with Encrypted Client Hello whose SNI is one of {@code ech.public_names}: the
     * name is a provider's cover, the real destination is encrypted; refused unless a route names
     * the cover name exactly.
     */
    ECH_PUBLIC_NAME(Outcome.REJECTED, Alerts.ACCESS_DENIED),
    /** A {@code $sni} name resolved only to addresses the destination policy refuses. */
    FORBIDDEN_DESTINATION(Outcome.REJECTED, Alerts.ACCESS_DENIED),
    /**
     * A {@code $original_dst} route with {@code verify_destination}: the address the client dialed
     * is not among the addresses the proxy's resolver gives for the SNI (an allowed name sent to
     * an address of the client's choosing).
     */
    SNI_DESTINATION_MISMATCH(Outcome.REJECTED, Alerts.ACCESS_DENIED),
    /**
     * The connection would go round in a circle: it came from one of the proxy's own upstream
     * sockets (a firewall redirected the proxy's own traffic back to it), its ClientHello is one an
     * open connection to where its client chose already carries (it came back through a balancer
     * in front of the proxy), or its destination is one of the proxy's own listeners.
     */
    LOOP_DETECTED(Outcome.REJECTED, Alerts.INTERNAL_ERROR),
    // --- connect: what the network says
    DNS_FAILURE(Outcome.FAILED, Alerts.INTERNAL_ERROR),
    UPSTREAM_UNREACHABLE(Outcome.FAILED, Alerts.INTERNAL_ERROR),
    UPSTREAM_TIMEOUT(Outcome.FAILED, Alerts.INTERNAL_ERROR),
    /** The route's parent proxy ({@code via}) answered CONNECT with other than 2xx; its status is logged. */
    PARENT_PROXY_REFUSED(Outcome.FAILED, Alerts.INTERNAL_ERROR),
    /**
     * A stage failed in a way it does not handle, a bug: the connection is closed rather than left
     * open with no timer and no reads, and standard error has the stack trace.
     */
    INTERNAL_ERROR(Outcome.FAILED, Alerts.NONE),
    // --- relay: how a forwarded tunnel ended, when it did not end by both sides closing
    IDLE_TIMEOUT(Outcome.FORWARDED, Alerts.NONE),
    /** One side stopped sending, and then no byte moved for {@code timeouts.half_closed}. */
    HALF_CLOSED_TIMEOUT(Outcome.FORWARDED, Alerts.NONE),
    CONNECTION_RESET(Outcome.FORWARDED, Alerts.NONE),
    /**
     * Still open when {@code timeouts.drain} ran out after SIGTERM: closed by the proxy, a tunnel
     * mid-stream or a client still being pre-read.
     */
    DRAIN_TIMEOUT(Outcome.FORWARDED, Alerts.NONE),
    /**
     * A reload's config refuses a connection routed before it (a name, client or protocol taken
     * off the policy): closed by the proxy, as {@code policy.recheck_on_reload} asks.
     */
    REVOKED_BY_RELOAD(Outcome.FORWARDED, Alerts.NONE);

    /** TLS alert descriptions used above (RFC 8446 §6.2). */
    public static final class Alerts {
        /** Not an alert: close without sending anything. */
        public static final int NONE = -1;
        public static final int HANDSHAKE_FAILURE = 40;
        public static final int ACCESS_DENIED = 49;
        public static final int DECODE_ERROR = 50;
        public static final int PROTOCOL_VERSION = 70;
        public static final int INTERNAL_ERROR = 80;
        public static final int UNRECOGNIZED_NAME = 112;
        public static final int NO_APPLICATION_PROTOCOL = 120;

        private Alerts() {}

        /** The RFC 8446 name of an alert description used here, e.g. {@code access_denied}. */
        public static String name(int description) {
            return switch (description) {
                case NONE -> "none";
                case HANDSHAKE_FAILURE -> "handshake_failure";
                case ACCESS_DENIED -> "access_denied";
                case DECODE_ERROR -> "decode_error";
                case PROTOCOL_VERSION -> "protocol_version";
                case INTERNAL_ERROR -> "internal_error";
                case UNRECOGNIZED_NAME -> "unrecognized_name";
                case NO_APPLICATION_PROTOCOL -> "no_application_protocol";
                default -> Integer.toString(description);
            };
        }
    }

    private final Outcome outcome;
    private final int tlsAlert;
    private final String label = name().toLowerCase(Locale.ROOT);

    Reason(Outcome outcome, int tlsAlert) {
        this.outcome = outcome;
        this.tlsAlert = tlsAlert;
    }

    /** The name used in logs and metrics, e.g. {@code no_sni}. */
    public String label() {
        return label;
    }

    /**
     * The outcome a connection ending for this reason is counted under; for
     * {@link #endsUnforwardedToo() a reason that also ends unforwarded connections}, those count
     * as {@link Outcome#REJECTED}.
     */
    public Outcome outcome() {
        return outcome;
    }

    /**
     * Whether this reason ends a connection only before a route is chosen, so that it is counted
     * only under route {@code none}: what the PROXY header and the pre-read refuse, and a name no
     * route matches. (What the accept refuses may also be a route's verdict: its clients, or an
     * {@code $original_dst} route on a listener that knows no original destination.)
     */
    public boolean beforeRouting() {
        return switch (this) {
            case PROXY_PROTOCOL_UNTRUSTED, PROXY_PROTOCOL_INVALID, PROXY_PROTOCOL_TIMEOUT,
                    NO_SNI, CONNECT_REQUEST, PLAIN_HTTP, NOT_TLS, MALFORMED, INVALID_SNI, CLIENT_HELLO_TOO_LARGE,
                    PREREAD_TIMEOUT, HEALTH_CHECK, NO_ROUTE -> true;
            default -> false;
        };
    }

    /**
     * Whether a tunnel that ends for this reason is closed with a reset on both sides, not a FIN:
     * a side that reset reaches the other as a reset, as it would without the proxy, and a
     * transfer cut short (by that reset, the drain's deadline, a reload's verdict or want of
     * memory) does not read as a complete one (a FIN would, to a client that takes the end of the
     * stream as the end of the answer). The timeouts end tunnels with nothing moving, with a FIN,
     * as nginx and HAProxy do.
     */
    public boolean resetsThePeer() {
        return this == CONNECTION_RESET || this == DRAIN_TIMEOUT || this == REVOKED_BY_RELOAD || this == CONNECTION_LIMIT;
    }

    /**
     * Whether this reason of a forwarded tunnel's end can also end a connection that was never
     * forwarded: the drain's deadline closes clients still in pre-read or being dialed too, and a
     * reload those being dialed.
     */
    public boolean endsUnforwardedToo() {
        return this == DRAIN_TIMEOUT || this == REVOKED_BY_RELOAD;
    }

    /**
     * Whether this is a verdict of the policy on a well-formed connection, which audit mode
     * reports instead of enforcing: which names, protocols, clients, TLS versions and destinations
     * are allowed. Safety verdicts (malformed input, limits, timeouts, forbidden destinations,
     * loops) are never audited.
     */
    public boolean isPolicyVerdict() {
        return switch (this) {
            case NO_ROUTE, ALPN_NOT_ALLOWED, CLIENT_NOT_ALLOWED, TLS_VERSION_NOT_ALLOWED, SNI_DESTINATION_MISMATCH -> true;
            default -> false;
        };
    }

    /** Whether a TLS client should receive a fatal alert before the close. */
    public boolean sendsTlsAlert() {
        return tlsAlert >= 0;
    }

    /** The TLS alert description to send, meaningful only when {@link #sendsTlsAlert()}. */
    public int tlsAlert() {
        return tlsAlert;
    }
}
