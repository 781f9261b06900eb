package io.snigate.core;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * What is known about one client connection, filled in stage by stage and handed to the
 * {@link ConnectionObserver} exactly once, when the client connection closes. It becomes the
 * connection's access-log line and its metrics.
 *
 * <p>Not thread-safe, and it need not be: the client channel and its upstream channel share one
 * event loop, and every write happens there.
 */
public final class ConnectionRecord implements ClientHelloSink {
    private static final AttributeKey<ConnectionRecord> KEY = AttributeKey.valueOf("snigate.connection");
    private static final int NO_VERSION = -1;

    private final String listener;
    private final InetSocketAddress client;
    private final long acceptedAtMillis;
    private final long acceptedAtNanos;
    private final ConnectionObserver observer;

    private String sni;
    private List<String> alpn;
    private int tlsVersion = NO_VERSION;
    private int recordVersion;
    private Boolean ech;
    private String ja4;
    private String route;
    private InetSocketAddress upstream;
    private Reason reason;
    private boolean forwarded;
    private long bytesFromClient;
    private long bytesToClient;
    private boolean finished;
    private boolean admitted;

    private ConnectionRecord(
            String listener, InetSocketAddress client, ConnectionObserver observer) {
        this.listener = listener;
        this.client = client;
        this.observer = observer;
        this.acceptedAtMillis = System.currentTimeMillis();
        this.acceptedAtNanos = System.nanoTime();
    }

    /** Starts the record of a freshly accepted connection; it finishes when the channel closes. */
    public static ConnectionRecord attach(Channel client, String listener, ConnectionObserver observer) {
        InetSocketAddress remote =
                client.remoteAddress() instanceof InetSocketAddress address ? address : null;
        ConnectionRecord record = new ConnectionRecord(listener, remote, observer);
        client.attr(KEY).set(record);
        observer.opened(record);
        client.closeFuture().addListener(f -> record.finish());
        return record;
    }

    public static ConnectionRecord of(Channel client) {
        return client.attr(KEY).get();
    }

    @Override
    public void clientHello(String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion, String ja4) {
        this.sni = sni;
        this.alpn = alpn;
        this.tlsVersion = tlsVersion;
        this.ech = ech;
        this.recordVersion = recordVersion;
        this.ja4 = ja4;
    }

    /** Marks the connection as counted by the connection limits, which must then count it out. */
    public void admitted() {
        this.admitted = true;
    }

    public boolean isAdmitted() {
        return admitted;
    }

    public void route(String route) {
        this.route = route;
    }

    public void upstream(InetSocketAddress upstream) {
        this.upstream = upstream;
        this.forwarded = true;
    }

    /** Records why the connection ends; the first reason given is the one that stands. */
    public void endedBecause(Reason reason) {
        if (this.reason == null) {
            this.reason = reason;
        }
    }

    public void addBytesFromClient(long n) {
        bytesFromClient += n;
    }

    public void addBytesToClient(long n) {
        bytesToClient += n;
    }

    private void finish() {
        if (!finished) {
            finished = true;
            if (!forwarded && reason == null) {
                // Hung up while its connection was being routed or dialed.
                reason = Reason.CLIENT_CLOSED;
            }
            observer.closed(this);
        }
    }

    public Outcome outcome() {
        if (reason != null && reason.outcome() != Outcome.FORWARDED) {
            return reason.outcome();
        }
        return forwarded ? Outcome.FORWARDED : Outcome.REJECTED;
    }

    public String listener() {
        return listener;
    }

    public InetSocketAddress client() {
        return client;
    }

    public long acceptedAtMillis() {
        return acceptedAtMillis;
    }

    public long acceptedAtNanos() {
        return acceptedAtNanos;
    }

    /**
     * The host name the client asked for: normalized when valid, else (invalid_sni) as sent with
     * unprintable bytes escaped; null without one.
     */
    public String sni() {
        return sni;
    }

    public List<String> alpn() {
        return alpn;
    }

    /** The name of the highest TLS version the client offered, or null before a ClientHello parsed. */
    public String tlsVersion() {
        // Named only when asked (by the access log), so the pre-read never formats an unusual version.
        return tlsVersion == NO_VERSION ? null : TlsVersions.name(tlsVersion);
    }

    /**
     * The version of the client's first TLS record header, to answer it with an alert; 0 before a
     * ClientHello parsed.
     */
    public int recordVersion() {
        return recordVersion;
    }

    public Boolean ech() {
        return ech;
    }

    /**
     * The JA4 TLS client fingerprint of the ClientHello, or null before one parsed. For the log
     * only: a fingerprint per client build is too many values for a metric label.
     */
    public String ja4() {
        return ja4;
    }

    public String route() {
        return route;
    }

    public InetSocketAddress upstream() {
        return upstream;
    }

    /** Null when the connection was forwarded and both sides closed normally. */
    public Reason reason() {
        return reason;
    }

    public long bytesFromClient() {
        return bytesFromClient;
    }

    public long bytesToClient() {
        return bytesToClient;
    }
}
