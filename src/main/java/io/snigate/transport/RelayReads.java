package io.snigate.transport;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;

/**
 * How much one read takes from a socket, for both sides of every connection.
 *
 * <p>Netty's default is up to 16 reads of at most 64 KiB each time a socket is ready. One read
 * of up to 1 MiB holds no more memory per readiness (a tunnel whose receiver is slow still
 * buffers at most about 1 MiB plus the write buffer), but on a fast path it makes a tenth of the
 * system calls and larger segments: the bulk workload cost 0.66 instead of 1.15 CPU seconds per
 * GiB (README, Performance). The size adapts as usual, starting at 2 KiB, so a ClientHello or a
 * short reply is still read into a small buffer.
 */
public final class RelayReads {
    static final int MAX_READ_BYTES = 1 << 20;

    private static final RecvByteBufAllocator ALLOCATOR =
            new AdaptiveRecvByteBufAllocator(64, 2048, MAX_READ_BYTES).maxMessagesPerRead(1);

    private RelayReads() {}

    /** Shared: the allocator only holds these limits; each channel gets its own handle. */
    public static RecvByteBufAllocator allocator() {
        return ALLOCATOR;
    }
}
