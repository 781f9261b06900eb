package io.snigate.route;

import io.snigate.config.NameList;
import java.util.Map;

/**
 * Wildcard suffixes of {@code match} patterns (the part after {@code *.}) in an open-addressing
 * table that can look up a suffix of a name in place. A {@code HashMap} would need a substring per
 * label.
 *
 * <p>The hash runs from the last character backwards ({@link NameList#hash}), so one backward pass
 * over a name yields the hash of every suffix on the way, for this table and the name lists alike.
 */
final class SuffixTable {
    private final String[] keys;
    private final int[] hashes;
    private final PatternRoutes[] values;
    private final int mask;

    SuffixTable(Map<String, PatternRoutes> entries) {
        int capacity = 2;
        while (capacity < entries.size() * 2) {
            capacity <<= 1;
        }
        keys = new String[capacity];
        hashes = new int[capacity];
        values = new PatternRoutes[capacity];
        mask = capacity - 1;
        entries.forEach((suffix, value) -> {
            int hash = NameList.hash(suffix, 0);
            int slot = NameList.spread(hash) & mask;
            while (keys[slot] != null) {
                slot = (slot + 1) & mask;
            }
            keys[slot] = suffix;
            hashes[slot] = hash;
            values[slot] = value;
        });
    }

    /** The routes of the suffix {@code name[from, end)}, whose backward hash is {@code hash}, or null. */
    PatternRoutes get(String name, int from, int hash) {
        int length = name.length() - from;
        for (int slot = NameList.spread(hash) & mask; keys[slot] != null; slot = (slot + 1) & mask) {
            String key = keys[slot];
            if (hashes[slot] == hash && key.length() == length && name.regionMatches(from, key, 0, length)) {
                return values[slot];
            }
        }
        return null;
    }

}
