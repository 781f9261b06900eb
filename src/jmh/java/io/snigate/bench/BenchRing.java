package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.uring.IoUringIoOps;
import io.snigate.transport.RingOps;
import java.net.InetSocketAddress;

/**
 * What the hand-written floors ({@link HandleUpstream}, {@link RingFloor}, {@link ShutdownRace})
 * need of io_uring beyond snigate's own {@link RingOps}: an accept, and an upstream address made
 * once per process.
 */
final class BenchRing {
    private static final byte OP_ACCEPT = 13;
    private static final int SOCK_NONBLOCK_CLOEXEC = 0x800 | 0x80000;

    private BenchRing() {}

    /** An upstream as the kernel reads it, with the option value {@link RingOps#noDelayThen} reads; lives as long as the process. */
    static final class Target {
        final InetSocketAddress address;
        private final ByteBuf sockaddr = Unpooled.directBuffer(RingOps.SOCKADDR_AND_OPTION_BYTES);
        private final int length;

        Target(InetSocketAddress address) {
            this.address = address;
            this.length = RingOps.writeSockaddr(sockaddr, address);
        }
    }

    static IoUringIoOps noDelayThen(int fd, Target target, short tag) {
        return RingOps.noDelayThen(fd, target.sockaddr, tag);
    }

    static IoUringIoOps connect(int fd, Target target, short tag) {
        return RingOps.connect(fd, target.sockaddr, target.length, tag);
    }

    static IoUringIoOps accept(int listeningFd, short tag) {
        return new IoUringIoOps(OP_ACCEPT, (byte) 0, (short) 0, listeningFd, 0L, 0L, 0, SOCK_NONBLOCK_CLOEXEC, tag,
                (short) 0, (short) 0, 0, 0);
    }
}
