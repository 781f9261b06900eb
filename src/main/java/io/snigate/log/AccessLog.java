package io.snigate.log;

import io.netty.util.concurrent.FastThreadLocal;
import io.snigate.config.HostPort;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * One JSON object per line for every connection when it ends, rejections included: the audit
 * trail of every routing decision. With {@code access_log.on_connect}, a forwarded connection also
 * gets a line when its upstream connects, so that a tunnel's decision is on record while it is
 * open; the {@code event} field tells the two apart.
 *
 * <p>Lines go to a sink that must not block: in the proxy a {@link BatchingLineWriter} on
 * standard output, so an event loop never waits on a terminal or a pipe.
 */
public final class AccessLog implements ConnectionObserver {
    /** The time up to the second of the last line, shared by the event loops. */
    private static volatile SecondPrefix lastSecond = new SecondPrefix(Long.MIN_VALUE, "");
    /**
     * Each event loop's line builder, used again for every line: a forwarded connection's line is
     * about 500 characters, and a builder made per line was about an eighth of the garbage a
     * connection leaves. One that an unusual line grew past {@link #KEPT_BUILDER_CHARS} is not
     * kept. Every character appended is ASCII ({@link #string} escapes the rest), so the builder
     * stays one byte a character.
     */
    private static final FastThreadLocal<StringBuilder> BUILDER = new FastThreadLocal<>() {
        @Override
        protected StringBuilder initialValue() {
            return new StringBuilder(768);
        }
    };
    private static final int KEPT_BUILDER_CHARS = 4096;

    /** The {@code event} field of a line: which moment of the connection's life it records. */
    static final String CONNECTED = "connected";
    static final String CLOSED = "closed";

    private final Consumer<String> sink;
    private final BooleanSupplier linesOnConnect;

    /** Writes a line when each connection ends. */
    public AccessLog(Consumer<String> sink) {
        this(sink, () -> false);
    }

    /** Writes a line when each connection ends, and also when its upstream connects while {@code linesOnConnect} says so. */
    public AccessLog(Consumer<String> sink, BooleanSupplier linesOnConnect) {
        this.sink = sink;
        this.linesOnConnect = linesOnConnect;
    }

    @Override
    public void on(ConnectionEvent event, ConnectionRecord connection, long nanos) {
        if (event == ConnectionEvent.CLOSED) {
            sink.accept(format(connection, CLOSED));
        } else if (event == ConnectionEvent.UPSTREAM_CONNECTED && linesOnConnect.getAsBoolean()) {
            sink.accept(format(connection, CONNECTED));
        }
    }

    static String format(ConnectionRecord c, String event) {
        StringBuilder json = BUILDER.get();
        json.setLength(0);
        json.append("{\"time\":\"");
        time(json, c.acceptedAtMillis());
        json.append("\",\"event\":\"").append(event).append('"');
        address(json, "client", c.client());
        address(json, "peer", c.peer());
        field(json, "listener", c.listener());
        field(json, "sni", c.sni());
        json.append(",\"alpn\":");
        list(json, c.alpn());
        field(json, "tls_version", c.tlsVersion());
        json.append(",\"ech\":").append(c.ech());
        field(json, "ja4", c.ja4());
        field(json, "route", c.route());
        // A PROXY header's destination too, as HAProxy logs it as %fi:%fp.
        address(json, "original_dst", c.wentTo());
        field(json, "dst_check", c.destinationCheck() == null ? null : c.destinationCheck().label());
        address(json, "upstream", c.upstream());
        json.append(",\"parent_status\":");
        if (c.parentStatus() == 0) {
            json.append("null");
        } else {
            json.append(c.parentStatus());
        }
        field(json, "outcome", c.outcome().label());
        Reason reason = c.reason();
        field(json, "reason", reason == null ? null : reason.label());
        field(json, "policy_mode", c.policyMode());
        Reason wouldReject = c.wouldReject();
        field(json, "would_reject", wouldReject == null ? null : wouldReject.label());
        json.append(",\"bytes_from_client\":").append(c.bytesFromClient());
        json.append(",\"bytes_to_client\":").append(c.bytesToClient());
        json.append(",\"duration_ms\":").append((System.nanoTime() - c.acceptedAtNanos()) / 1_000_000L);
        String line = json.append('}').toString();
        if (json.capacity() > KEPT_BUILDER_CHARS) {
            BUILDER.remove();
        }
        return line;
    }

    private static void field(StringBuilder json, String key, String value) {
        json.append(",\"").append(key).append("\":");
        string(json, value);
    }

    /**
     * An address as {@link HostPort#format} writes it; an IPv4 address digit by digit, with no
     * string made for it (a line has three or four).
     */
    private static void address(StringBuilder json, String key, InetSocketAddress address) {
        InetAddress ip = address == null ? null : address.getAddress();
        if (!(ip instanceof Inet4Address)) {
            field(json, key, HostPort.format(address));
            return;
        }
        json.append(",\"").append(key).append("\":\"");
        byte[] octets = ip.getAddress();
        for (int i = 0; i < octets.length; i++) {
            if (i > 0) {
                json.append('.');
            }
            json.append(octets[i] & 0xff);
        }
        json.append(':').append(address.getPort()).append('"');
    }

    private static void list(StringBuilder json, List<String> values) {
        if (values == null) {
            json.append("null");
            return;
        }
        json.append('[');
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) {
                json.append(',');
            }
            string(json, values.get(i));
        }
        json.append(']');
    }

    /**
     * The connection's time as {@link Instant#toString()} writes it (".SSS" left out when the
     * milliseconds are 0). The part up to the second is formatted once a second and shared by the
     * event loops: formatting a whole {@code Instant} per line cost about a third of the line.
     */
    static void time(StringBuilder json, long epochMillis) {
        long second = Math.floorDiv(epochMillis, 1000L);
        SecondPrefix prefix = lastSecond;
        if (prefix.second != second) {
            String whole = Instant.ofEpochSecond(second).toString(); // "...T22:29:57Z"
            prefix = new SecondPrefix(second, whole.substring(0, whole.length() - 1));
            lastSecond = prefix; // a race only formats the same second twice
        }
        json.append(prefix.text);
        int millis = (int) Math.floorMod(epochMillis, 1000L);
        if (millis != 0) {
            json.append('.').append((char) ('0' + millis / 100)).append((char) ('0' + millis / 10 % 10))
                    .append((char) ('0' + millis % 10));
        }
        json.append('Z');
    }

    private record SecondPrefix(long second, String text) {}

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /**
     * A JSON string; every control or non-ASCII character is escaped, since SNI and ALPN are the
     * client's bytes (up to a whole ClientHello of them: no formatter per character).
     */
    public static void string(StringBuilder json, String value) {
        if (value == null) {
            json.append("null");
            return;
        }
        json.append('"');
        if (isPlain(value)) {
            json.append(value).append('"');
            return;
        }
        for (int i = 0; i < value.length(); i++) {
            char ch = value.charAt(i);
            switch (ch) {
                case '"' -> json.append("\\\"");
                case '\\' -> json.append("\\\\");
                default -> {
                    if (ch < 0x20 || ch > 0x7e) {
                        json.append("\\u").append(HEX[(ch >> 12) & 0xf]).append(HEX[(ch >> 8) & 0xf])
                                .append(HEX[(ch >> 4) & 0xf]).append(HEX[ch & 0xf]);
                    } else {
                        json.append(ch);
                    }
                }
            }
        }
        json.append('"');
    }

    /** Nothing in {@code value} needs escaping: the usual case, appended whole. */
    private static boolean isPlain(String value) {
        for (int i = 0; i < value.length(); i++) {
            char ch = value.charAt(i);
            if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
                return false;
            }
        }
        return true;
    }
}
