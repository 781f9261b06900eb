package io.snigate.core;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What is known about one client connection, filled in stage by stage and handed to the
 * {@link ConnectionObserver} exactly once, when the client connection closes. It becomes the
 * connection's access-log line and its metrics.
 *
 * <p>Not thread-safe, and it need not be: the client channel and its upstream channel share one
 * event loop, and every write happens there.
 *
 * <p>About 450 lines: one field, one setter and one getter for each fact the access log
 * writes, and what the stages keep of the connection between them: the limits it was counted
 * against, the hello's random and record bytes that the loop and retry checks compare, and the
 * dial its close cancels. Split, the facts of one connection would live in several objects per
 * connection, each an allocation on every accept (performance page, "What changed the figures").
 */
public final class ConnectionRecord implements ClientHelloSink {
    private static final AttributeKey<ConnectionRecord> KEY = AttributeKey.valueOf("snigate.connection");
    private static final int NO_VERSION = -1;

    private final String listener;
    private final InetSocketAddress peer;
    private InetSocketAddress client;
    private InetAddress countedAsClient;
    private final long acceptedAtMillis;
    private final long acceptedAtNanos;
    private final ConnectionObserver observer;

    private String sni;
    private List<String> alpn;
    private int tlsVersion = NO_VERSION;
    private int recordVersion;
    private Boolean ech;
    private String ja4;
    private long helloRandom;
    private int helloRecordBytes;
    private String route;
    private String policyMode;
    private Reason wouldReject;
    private AtomicInteger routeConnections;
    private InetSocketAddress upstream;
    private InetSocketAddress originalDst;
    private InetSocketAddress proxiedTo;
    private int dialedPort;
    private DestinationCheck destinationCheck;
    private int parentStatus;
    private Reason reason;
    private boolean forwarded;
    private boolean upstreamChosenByClient;
    private long bytesFromClient;
    private long bytesToClient;
    private boolean finished;
    /** Set from the event loop of the connection its upstream came back as, so volatile. */
    private volatile boolean loopedBack;
    private boolean admitted;
    /** Where {@link #finish} goes one task later, when a channel tunnel asked; else null. */
    private Executor finishLaterOn;
    /** The dial of the upstream while it runs: the client's close cancels it. */
    private Future<?> dial;

    private ConnectionRecord(
            String listener, InetSocketAddress client, ConnectionObserver observer) {
        this.listener = listener;
        this.peer = client;
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
        observer.on(ConnectionEvent.OPENED, record, 0);
        client.closeFuture().addListener(f -> record.closed());
        return record;
    }

    /**
     * The upstream's {@code dial} runs (null: it has ended). A client that closes meanwhile (a
     * reload's verdict, the drain, a reset a reading channel sees) takes it with it: the socket
     * being connected closes, and no address is dialed after it. Kept here, where the close is
     * heard already, so that an open tunnel holds no listener for a dial long done.
     */
    public void upstreamDial(Future<?> dial) {
        this.dial = dial;
    }

    private void closed() {
        Future<?> running = dial;
        if (running != null) {
            dial = null;
            running.cancel(false);
        }
        finish();
    }

    public static ConnectionRecord of(Channel client) {
        return client.attr(KEY).get();
    }

    @Override
    public void helloRandom(long digest) {
        this.helloRandom = digest;
    }

    /** The digest of the ClientHello's random ({@link ClientHelloSink#helloRandom}), or 0 when not known. */
    public long helloRandom() {
        return helloRandom;
    }

    @Override
    public void helloRecordBytes(int bytes) {
        this.helloRecordBytes = bytes;
    }

    /** How many bytes the ClientHello's records take ({@link ClientHelloSink#helloRecordBytes}), or 0 when not known. */
    public int helloRecordBytes() {
        return helloRecordBytes;
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

    /**
     * Where the client was going: {@code originalDst} is the address it dialed before a firewall
     * sent it here (null on a listener that does not read it), {@code dialedPort} the port it
     * dialed (the original destination's, or the listener's own).
     */
    public void destination(InetSocketAddress originalDst, int dialedPort) {
        this.originalDst = originalDst;
        this.dialedPort = dialedPort;
    }

    public void destinationChecked(DestinationCheck check) {
        this.destinationCheck = check;
    }

    /** The status a parent proxy answered CONNECT with. */
    public void parentStatus(int status) {
        this.parentStatus = status;
    }

    /** The status of the parent proxy's answer to CONNECT, or 0 when none was asked. */
    public int parentStatus() {
        return parentStatus;
    }

    /**
     * The client a PROXY protocol header names, which stands for the connection's client from now
     * on (the socket's own remote address stays the {@link #peer}).
     */
    public void proxiedFor(InetSocketAddress source) {
        this.client = source;
    }

    /** The address the client dialed, as a PROXY protocol header names it (the balancer's front). */
    public void proxiedTo(InetSocketAddress destination) {
        this.proxiedTo = destination;
    }

    /** The destination a PROXY header named, or null: none received, or one without addresses. */
    public InetSocketAddress proxiedTo() {
        return proxiedTo;
    }

    /**
     * Marks the connection as counted in the budget of {@code client} (its address, or its IPv6
     * network), which must then count it out.
     */
    public void countedAsClient(InetAddress client) {
        this.countedAsClient = client;
    }

    /** Whom the connection limits counted this connection for, or null. */
    public InetAddress countedAsClient() {
        return countedAsClient;
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

    /**
     * The policy mode the routing decision was made in ({@code enforce} or {@code audit}), and
     * the policy verdict audit mode forwarded anyway (null when none).
     */
    public void policy(String mode, Reason wouldReject) {
        this.policyMode = mode;
        this.wouldReject = wouldReject;
    }

    /** A policy verdict audit mode forwarded anyway, found after routing (a destination mismatch). */
    public void wouldReject(Reason reason) {
        if (wouldReject == null) {
            wouldReject = reason;
        }
    }

    /** The count of the route's open connections this one is in, to be given back when it closes. */
    public void countedOnRoute(AtomicInteger connections) {
        this.routeConnections = connections;
    }

    public AtomicInteger routeConnections() {
        return routeConnections;
    }

    /** The address being dialed: the access log names it whichever way the connect ends. */
    public void dialing(InetSocketAddress target) {
        this.upstream = target;
    }

    /** The addresses being dialed are the client's choice ({@code $sni}, {@code $original_dst}), not the config's. */
    public void upstreamChosenByClient() {
        this.upstreamChosenByClient = true;
    }

    public boolean isUpstreamChosenByClient() {
        return upstreamChosenByClient;
    }

    /** The upstream connected: the connection is forwarded. */
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

    /**
     * This connection's upstream came back to the proxy (a firewall that intercepts the proxy's
     * own traffic): it ends as {@code loop_detected}, whatever its tunnel met meanwhile. Any
     * thread; set before the looped connection is refused, so before this one can end.
     */
    public void loopedBack() {
        loopedBack = true;
    }

    public void addBytesFromClient(long n) {
        bytesFromClient += n;
    }

    public void addBytesToClient(long n) {
        bytesToClient += n;
    }

    /**
     * Finishes the record one task after the client's channel closes, on {@code loop}, instead of
     * at once; null finishes it at the close again. A channel closed because a write to it failed
     * completes its close future before it fails the writes still queued, and that failure is
     * where a channel tunnel learns the reason (a client that reset).
     */
    public void finishAfterTheClose(Executor loop) {
        finishLaterOn = loop;
    }

    private void finish() {
        Executor later = finishLaterOn;
        if (later != null) {
            finishLaterOn = null;
            try {
                later.execute(this::finish);
                return;
            } catch (RejectedExecutionException loopStopped) {
                // The loop is closing its channels as it stops: nothing is queued behind this.
            }
        }
        if (!finished) {
            finished = true;
            if (loopedBack) {
                reason = Reason.LOOP_DETECTED;
            }
            if (!forwarded && reason == null) {
                // Hung up while its connection was being routed or dialed.
                reason = Reason.CLIENT_CLOSED;
            }
            observer.on(ConnectionEvent.CLOSED, this, 0);
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

    /** The client: the socket's remote address, or the source a PROXY protocol header gave. */
    public InetSocketAddress client() {
        return client;
    }

    /** The socket's own remote address: the client, or the balancer in front of it. */
    public InetSocketAddress peer() {
        return peer;
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

    /** The highest TLS version the client offered as on the wire (0x0303 for 1.2), or -1 before a ClientHello parsed. */
    public int tlsVersionCode() {
        return tlsVersion;
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

    /** The upstream connected, or the last address dialed when none connected; null before. */
    public InetSocketAddress upstream() {
        return upstream;
    }

    public boolean isForwarded() {
        return forwarded;
    }

    /** {@code enforce} or {@code audit} once routed, else null. */
    public String policyMode() {
        return policyMode;
    }

    /**
     * The policy verdict that audit mode forwarded anyway, or null: null too for a connection the
     * audit let through and that was then not forwarded (refused by a safety verdict such as the
     * destination policy, or its dial failed), which enforcing the policy would not change.
     */
    public Reason wouldReject() {
        return forwarded ? wouldReject : null;
    }

    /** The address the client dialed before it was intercepted, or null when not known. */
    public InetSocketAddress originalDst() {
        return originalDst;
    }

    /**
     * Where the client was going, as far as it is known: intercepted ({@link #originalDst}), or
     * as its balancer's PROXY header names it ({@link #proxiedTo}; a listener takes one or the
     * other); else null.
     */
    public InetSocketAddress wentTo() {
        return originalDst != null ? originalDst : proxiedTo;
    }

    /** The port the client dialed: the original destination's, else the listener's. */
    public int dialedPort() {
        return dialedPort;
    }

    /** The {@code $original_dst} verification verdict, or null when none was made. */
    public DestinationCheck destinationCheck() {
        return destinationCheck;
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
