package io.snigate.connect;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Names found to have no records in one address family, each until a time, for a bounded number
 * of names; read and written by every event loop. The names come from clients ({@code $sni}), so
 * a full table must not cost a walk per lookup: the names whose time is over are cleared out at
 * most once per {@code pruneEveryNanos}, and between those a name that finds the table full is
 * not remembered (its family is asked again, as without this table).
 */
final class NamesWithoutRecords {
    private final Map<String, Long> until = new ConcurrentHashMap<>();
    private final int capacity;
    private final long forNanos;
    private final long pruneEveryNanos;
    private final AtomicLong nextPrune;
    private final AtomicLong prunes = new AtomicLong();

    NamesWithoutRecords(int capacity, long forNanos, long pruneEveryNanos, long nowNanos) {
        this.capacity = capacity;
        this.forNanos = forNanos;
        this.pruneEveryNanos = pruneEveryNanos;
        this.nextPrune = new AtomicLong(nowNanos);
    }

    /** Whether {@code name} is known to have no records at {@code nowNanos}. */
    boolean known(String name, long nowNanos) {
        Long expires = until.get(name);
        if (expires == null) {
            return false;
        }
        if (nowNanos - expires < 0) {
            return true;
        }
        until.remove(name, expires);
        return false;
    }

    /** Remembers {@code name} from {@code nowNanos}, if there is room or room can be made now. */
    void remember(String name, long nowNanos) {
        if (until.size() >= capacity) {
            long due = nextPrune.get();
            // One caller among the loops walks the table, and no other for pruneEveryNanos.
            if (nowNanos - due >= 0 && nextPrune.compareAndSet(due, nowNanos + pruneEveryNanos)) {
                prunes.incrementAndGet();
                until.values().removeIf(expires -> nowNanos - expires >= 0);
            }
        }
        if (until.size() < capacity) {
            until.put(name, nowNanos + forNanos);
        }
    }

    /** How many times the table has been walked to make room. */
    long prunes() {
        return prunes.get();
    }

    /** The names remembered, whether or not their time is over. */
    Set<String> names() {
        return until.keySet();
    }
}
