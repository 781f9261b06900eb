package io.snigate.config;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The names of one {@link NameList}, packed for a million of them: every name's bytes one after
 * another in one array (the arena), an int per name for where it starts and a byte for its kinds,
 * and an open-addressing index of ints. No object per name, so a name costs its length plus about
 * 13 to 21 bytes, and the garbage collector sees a handful of arrays.
 *
 * <p>Lookups take a name and an offset into it, with the hash of that suffix computed backwards
 * from its last character ({@link #hash(CharSequence, int)}), so that one backward pass over a
 * SNI name yields the hash of each of its suffixes: finding the most specific entry costs one
 * probe per label and allocates nothing.
 *
 * <p>Built by {@link NameListReader} and never changed after, so every event loop can read it.
 */
final class NameIndex {
    private final byte[] arena;
    /** Entry {@code i} is {@code arena[starts[i], starts[i + 1])}. */
    private final int[] starts;
    private final byte[] kinds;
    /** Entry index + 1 per slot; 0 is empty. */
    private final int[] slots;
    private final int mask;
    private final int size;

    /** {@code slots} is an index of exactly {@link #capacityFor}{@code (size)} already built, or null to build it. */
    NameIndex(byte[] arena, int[] starts, byte[] kinds, int size, int[] slots) {
        this.arena = arena;
        this.starts = starts;
        this.kinds = kinds;
        this.size = size;
        this.slots = slots != null ? slots : new int[capacityFor(size)];
        this.mask = this.slots.length - 1;
        for (int entry = 0; slots == null && entry < size; entry++) {
            int slot = spread(hash(arena, starts[entry], starts[entry + 1])) & mask;
            while (this.slots[slot] != 0) {
                slot = (slot + 1) & mask;
            }
            this.slots[slot] = entry + 1;
        }
    }

    /** A power of two at least twice {@code entries}: probes stay short, misses included. */
    static int capacityFor(int entries) {
        int capacity = 2;
        while (capacity < entries * 2L) {
            capacity <<= 1;
        }
        return capacity;
    }

    /** The number of distinct names. */
    int size() {
        return size;
    }

    /**
     * The hash of {@code text[from, end)}, from the last character back: {@code h = 31 * h + c}.
     * Extending a suffix one character to the left extends its hash the same way.
     */
    static int hash(CharSequence text, int from) {
        int hash = 0;
        for (int i = text.length() - 1; i >= from; i--) {
            hash = 31 * hash + text.charAt(i);
        }
        return hash;
    }

    static int hash(byte[] bytes, int from, int end) {
        int hash = 0;
        for (int i = end - 1; i >= from; i--) {
            hash = 31 * hash + bytes[i];
        }
        return hash;
    }

    /**
     * The slot bits of a backward hash: MurmurHash3's finalizer, so that names that differ only in
     * their first characters, whose hashes differ only in their low bits, land apart rather than
     * in one run of slots that every miss nearby would walk. The route table's suffixes use it too.
     */
    static int spread(int hash) {
        int h = hash ^ (hash >>> 16);
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        return h ^ (h >>> 16);
    }

    /** The longest run of occupied slots: what a miss may walk at most. */
    int longestProbeRun() {
        int longest = 0;
        int run = 0;
        for (int i = 0; i < slots.length * 2; i++) { // twice round: a run may wrap
            run = slots[i & mask] != 0 ? run + 1 : 0;
            longest = Math.max(longest, Math.min(run, slots.length));
        }
        return longest;
    }

    /** Whether {@code name[from, end)}, whose backward hash is {@code hash}, is held with {@code kind}. */
    boolean contains(String name, int from, int hash, byte kind) {
        int entry = find(name, from, hash);
        return entry >= 0 && (kinds[entry] & kind) != 0;
    }

    /**
     * The entry of the longest proper suffix of {@code entry}'s name that this list holds as a
     * wildcard, or -1: a wider entry that already matches everything {@code entry} matches.
     */
    int widerWildcardOf(int entry) {
        int start = starts[entry];
        int end = starts[entry + 1];
        int widest = -1;
        int hash = 0;
        for (int i = end - 1; i > start; i--) {
            byte c = arena[i];
            if (c == '.') {
                int suffix = findInArena(i + 1, end, hash);
                if (suffix >= 0 && (kinds[suffix] & NameList.WILDCARD) != 0) {
                    widest = suffix;
                }
            }
            hash = 31 * hash + c;
        }
        return widest;
    }

    private int findInArena(int from, int end, int hash) {
        for (int slot = spread(hash) & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
            int entry = slots[slot] - 1;
            if (Arrays.equals(arena, starts[entry], starts[entry + 1], arena, from, end)) {
                return entry;
            }
        }
        return -1;
    }

    /** The entry of {@code name[from, end)}, whose backward hash is {@code hash}, or -1. */
    int find(String name, int from, int hash) {
        int length = name.length() - from;
        for (int slot = spread(hash) & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
            int entry = slots[slot] - 1;
            int start = starts[entry];
            if (starts[entry + 1] - start == length && sameChars(start, name, from, length)) {
                return entry;
            }
        }
        return -1;
    }

    private boolean sameChars(int start, String name, int from, int length) {
        for (int i = 0; i < length; i++) {
            if (arena[start + i] != name.charAt(from + i)) {
                return false;
            }
        }
        return true;
    }

    /** The name of an entry, for messages. */
    String name(int entry) {
        return new String(arena, starts[entry], starts[entry + 1] - starts[entry], StandardCharsets.ISO_8859_1);
    }

    byte kinds(int entry) {
        return kinds[entry];
    }

    /** The bytes held: the arena and the per-name arrays. */
    long heapBytes() {
        return arena.length + 4L * starts.length + kinds.length + 4L * slots.length;
    }
}
