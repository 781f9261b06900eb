package io.snigate.config;

import java.time.Duration;
import java.util.Objects;

/**
 * How long each stage may take. The loader checks that the ones that must be positive are.
 *
 * @param preread how long a client may take to send its whole ClientHello
 * @param connect how long dialing an upstream may take, DNS included
 * @param idle how long a tunnel may carry no bytes in either direction; zero turns it off
 * @param drain how long open tunnels may run on after a shutdown starts; zero closes them at once
 * @param halfClosed how long a tunnel may stay open after one side stopped sending; zero turns it
 *     off
 */
public record Timeouts(Duration preread, Duration connect, Duration idle, Duration drain, Duration halfClosed) {
    /**
     * The longest {@code preread}, {@code connect} and {@code proxy_protocol.timeout}: a peer that
     * has not sent or answered within an hour will not.
     */
    public static final Duration MAX_WAIT = Duration.ofHours(1);
    /**
     * The longest {@code idle}, {@code half_closed} and {@code drain}: a week. Much longer values
     * would overflow the timers' arithmetic at run time, so the loader refuses them.
     */
    public static final Duration MAX_TUNNEL_WAIT = Duration.ofDays(7);
    public static final Timeouts DEFAULTS = new Timeouts(
            Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(15), Duration.ofSeconds(30),
            Duration.ofSeconds(60));

    public Timeouts {
        Objects.requireNonNull(preread, "preread");
        Objects.requireNonNull(connect, "connect");
        Objects.requireNonNull(idle, "idle");
        Objects.requireNonNull(drain, "drain");
        Objects.requireNonNull(halfClosed, "half_closed");
    }
}
