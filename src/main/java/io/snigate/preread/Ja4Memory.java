package io.snigate.preread;

import java.util.Arrays;

/**
 * The JA4 fingerprints a thread computed last, by everything they are computed from. The clients
 * of one proxy are mostly a few client builds, each sending the same lists every time (Chrome
 * shuffles its extensions, which the fingerprint sorts), so most hellos find their fingerprint
 * here and skip the sort of the cipher suites, both SHA-256, the hex text and the string.
 *
 * <p>A fingerprint is remembered against what it is computed from, compared value by value: the
 * nine characters before the first hash, the cipher suites in the client's order, the extension
 * types sorted and the signature algorithms, each list with its length. So a hit is exactly the
 * fingerprint a computation would give, never one that merely hashes alike.
 * Direct-mapped, {@link #SLOTS} slots, an input of more than {@link #MAX_INPUT} values not
 * remembered: a thread holds at most {@code SLOTS × MAX_INPUT} values, however many kinds of
 * client it meets, and a client that changes its lists every time costs a miss, no more.
 */
final class Ja4Memory {
    static final int SLOTS = 64;
    static final int MAX_INPUT = 256;

    private final int[][] inputs = new int[SLOTS][];
    private final String[] fingerprints = new String[SLOTS];

    /** The fingerprint remembered for {@code input[0, length)}, or null. */
    String find(int[] input, int length) {
        int slot = slot(input, length);
        int[] remembered = inputs[slot];
        return remembered != null && Arrays.equals(remembered, 0, remembered.length, input, 0, length)
                ? fingerprints[slot]
                : null;
    }

    /** Remembers {@code fingerprint} for {@code input[0, length)}, in place of its slot's last one. */
    void remember(int[] input, int length, String fingerprint) {
        if (length > MAX_INPUT) {
            return;
        }
        int slot = slot(input, length);
        inputs[slot] = Arrays.copyOf(input, length);
        fingerprints[slot] = fingerprint;
    }

    private static int slot(int[] input, int length) {
        int h = 1;
        for (int i = 0; i < length; i++) {
            h = 31 * h + input[i];
        }
        h ^= h >>> 16;
        return h & (SLOTS - 1);
    }
}
