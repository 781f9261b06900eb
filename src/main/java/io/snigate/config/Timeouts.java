package io.snigate.config;

import java.time.Duration;
import java.util.Objects;

/**
 * @param preread how long a client may take to send its whole ClientHello
 * @param connect how long dialing an upstream may take, DNS included
 * @param idle how long a tunnel may carry no bytes in either direction; zero turns it off
 * @param drain how long open tunnels may run on after a shutdown starts; zero closes them at once
 * @param halfClosed how long a tunnel may stay open after one side stopped sending; zero turns it
 *     off
 */
public record Timeouts(Duration preread, Duration connect, Duration idle, Duration drain, Duration halfClosed) {
    public static final Timeouts DEFAULTS = new Timeouts(
            Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(15), Duration.ofSeconds(30),
            Duration.ofSeconds(60));

    /** The given timeouts and the default half-closed one. */
    public Timeouts(Duration preread, Duration connect, Duration idle, Duration drain) {
        this(preread, connect, idle, drain, Duration.ofSeconds(60));
    }

    public Timeouts {
        requirePositive(preread, "preread");
        requirePositive(connect, "connect");
        requireNotNegative(idle, "idle");
        requireNotNegative(drain, "drain");
        requireNotNegative(halfClosed, "half_closed");
    }

    private static void requirePositive(Duration value, String name) {
        Objects.requireNonNull(value, name);
        if (value.isZero() || value.isNegative()) {
            throw new IllegalArgumentException(name + " must be more than 0");
        }
    }

    private static void requireNotNegative(Duration value, String name) {
        Objects.requireNonNull(value, name);
        if (value.isNegative()) {
            throw new IllegalArgumentException(name + " must not be negative");
        }
    }
}
