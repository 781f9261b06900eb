package io.snigate.config;

import java.time.Duration;

/** Reads durations the way they are written in the configuration: a whole number and a unit. */
public final class Durations {
    private static final String HINT = "write it like 10s, 500ms, 5m or 1h";

    private Durations() {}

    /**
     * Parses {@code 500ms}, {@code 10s}, {@code 5m} or {@code 1h}. Fractions and compound forms
     * ({@code 1.5s}, {@code 1m30s}) are refused so that every value has one obvious spelling.
     *
     * @throws IllegalArgumentException with a message that quotes the text and says how to fix it
     */
    public static Duration parse(String text) {
        int digits = 0;
        while (digits < text.length() && text.charAt(digits) >= '0' && text.charAt(digits) <= '9') {
            digits++;
        }
        if (text.isEmpty()) {
            throw new IllegalArgumentException("duration is empty; " + HINT);
        }
        if (digits == 0) {
            throw new IllegalArgumentException(
                    "duration \"" + text + "\" must start with a whole number; " + HINT);
        }
        String unit = text.substring(digits);
        if (unit.isEmpty()) {
            throw new IllegalArgumentException("duration \"" + text + "\" has no unit; " + HINT);
        }
        if (unit.charAt(0) == '.' || unit.charAt(0) == ',') {
            throw new IllegalArgumentException(
                    "duration \"" + text + "\" must be a whole number; use a smaller unit, as in 1500ms");
        }
        // 18 digits stay below Long.MAX_VALUE; the unit conversion below may still overflow.
        if (digits > 18) {
            throw new IllegalArgumentException("duration \"" + text + "\" is too long");
        }
        long amount = Long.parseLong(text, 0, digits, 10);
        try {
            switch (unit) {
                case "ms":
                    return Duration.ofMillis(amount);
                case "s":
                    return Duration.ofSeconds(amount);
                case "m":
                    return Duration.ofSeconds(Math.multiplyExact(amount, 60L));
                case "h":
                    return Duration.ofSeconds(Math.multiplyExact(amount, 3600L));
                default:
                    throw new IllegalArgumentException("duration \"" + text + "\" has an unknown unit \""
                            + unit + "\"; use ms, s, m or h, as in 10s, 500ms, 5m or 1h");
            }
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException("duration \"" + text + "\" is too long", overflow);
        }
    }
}
