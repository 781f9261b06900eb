package io.snigate.transport;

import io.netty.channel.ChannelId;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link RingClientChannel}'s id: a number counted up in this process. Netty's default id
 * reads both clocks, a random number and a shared counter and hashes them, for ids unique across
 * processes and machines, which nothing here needs: the id only keys the channel in the set of
 * open connections that a drain closes.
 */
final class SequentialChannelId implements ChannelId {
    private static final long serialVersionUID = 1L;
    private static final AtomicLong NEXT = new AtomicLong();

    private final long value;

    private SequentialChannelId(long value) {
        this.value = value;
    }

    static SequentialChannelId next() {
        return new SequentialChannelId(NEXT.incrementAndGet());
    }

    @Override
    public String asShortText() {
        return Long.toHexString(value);
    }

    @Override
    public String asLongText() {
        return asShortText();
    }

    @Override
    public int compareTo(ChannelId other) {
        if (other instanceof SequentialChannelId sequential) {
            return Long.compare(value, sequential.value);
        }
        return asLongText().compareTo(other.asLongText());
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof SequentialChannelId sequential && sequential.value == value;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(value);
    }

    @Override
    public String toString() {
        return asShortText();
    }
}
