package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.channel.uring.IoUringIoOps;
import io.netty.channel.unix.Socket;
import io.netty.util.internal.PlatformDependent;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The io_uring operations the hand-written floors submit to Netty's ring for sockets that are not
 * Netty channels ({@link HandleUpstream}, {@link RingFloor}), with the constants of io_uring.h
 * and the socket headers they need (Netty keeps its own copies package-private). Each operation
 * carries a 16-bit tag that its completion hands back in {@code IoUringIoEvent.data()}.
 */
final class RingOps {
    private static final byte OP_ACCEPT = 13;
    private static final byte OP_ASYNC_CANCEL = 14;
    private static final byte OP_CONNECT = 16;
    private static final byte OP_CLOSE = 19;
    private static final byte OP_SEND = 26;
    private static final byte OP_RECV = 27;
    private static final byte OP_SHUTDOWN = 34;
    private static final byte OP_URING_CMD = 46;
    private static final byte IOSQE_IO_LINK = 1 << 2;
    private static final int SOCKET_URING_OP_SETSOCKOPT = 3;
    private static final long IPPROTO_TCP_TCP_NODELAY = 6L | (1L << 32); // level, then optname
    private static final int SOCK_NONBLOCK_CLOEXEC = 0x800 | 0x80000;
    private static final int SHUT_WR = 1;
    private static final int AF_INET = 2;
    private static final int SOCKADDR_IN_BYTES = 16;

    /** Read by the kernel when the socket option is submitted; lives as long as the class. */
    private static final ByteBuffer ONE = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putInt(0, 1);
    private static final long ONE_ADDRESS = PlatformDependent.directBufferAddress(ONE);

    private RingOps() {}

    /** An IPv4 upstream as the kernel reads it, made once per process. */
    static final class Target {
        private final ByteBuffer sockaddr = ByteBuffer.allocateDirect(SOCKADDR_IN_BYTES).order(ByteOrder.nativeOrder());
        private final long address = PlatformDependent.directBufferAddress(sockaddr);

        Target(InetSocketAddress upstream) {
            if (!(upstream.getAddress() instanceof Inet4Address v4)) {
                throw new IllegalArgumentException("the hand-written floors take IPv4 upstreams only: " + upstream);
            }
            sockaddr.putShort(0, (short) AF_INET);
            sockaddr.put(2, (byte) (upstream.getPort() >>> 8)).put(3, (byte) upstream.getPort());
            sockaddr.put(4, v4.getAddress());
        }
    }

    /** Reaches Netty's socket() without a {@code Socket} object, whose constructor asks the address family. */
    private static final class Sockets extends Socket {
        private Sockets() {
            super(-1);
        }

        static int newIpv4Stream() {
            return newSocketStream0(false);
        }
    }

    /** A non-blocking IPv4 TCP socket, by the one system call. */
    static int newSocket() {
        return Sockets.newIpv4Stream();
    }

    /** TCP_NODELAY, linked to the next operation: that one is cancelled if this fails. */
    static IoUringIoOps noDelayThen(int fd, short tag) {
        return new IoUringIoOps(OP_URING_CMD, IOSQE_IO_LINK, (short) 0, fd, SOCKET_URING_OP_SETSOCKOPT,
                IPPROTO_TCP_TCP_NODELAY, 0, 0, tag, (short) 0, (short) 0, 4, ONE_ADDRESS);
    }

    static IoUringIoOps connect(int fd, Target target, short tag) {
        return new IoUringIoOps(OP_CONNECT, (byte) 0, (short) 0, fd, SOCKADDR_IN_BYTES, target.address, 0, 0, tag,
                (short) 0, (short) 0, 0, 0);
    }

    static IoUringIoOps accept(int listeningFd, short tag) {
        return new IoUringIoOps(OP_ACCEPT, (byte) 0, (short) 0, listeningFd, 0L, 0L, 0, SOCK_NONBLOCK_CLOEXEC, tag,
                (short) 0, (short) 0, 0, 0);
    }

    /** Sends what {@code bytes} has readable; the buffer must stay until the completion. */
    static IoUringIoOps send(int fd, ByteBuf bytes, short tag) {
        return new IoUringIoOps(OP_SEND, (byte) 0, (short) 0, fd, 0L, bytes.memoryAddress() + bytes.readerIndex(),
                bytes.readableBytes(), 0, tag, (short) 0, (short) 0, 0, 0);
    }

    /** Receives into what {@code bytes} has writable; the buffer must stay until the completion. */
    static IoUringIoOps recv(int fd, ByteBuf bytes, short tag) {
        return new IoUringIoOps(OP_RECV, (byte) 0, (short) 0, fd, 0L, bytes.memoryAddress() + bytes.writerIndex(),
                bytes.writableBytes(), 0, tag, (short) 0, (short) 0, 0, 0);
    }

    static IoUringIoOps shutdownOutput(int fd, short tag) {
        return new IoUringIoOps(OP_SHUTDOWN, (byte) 0, (short) 0, fd, 0L, 0L, SHUT_WR, 0, tag,
                (short) 0, (short) 0, 0, 0);
    }

    static IoUringIoOps close(int fd, short tag) {
        return new IoUringIoOps(OP_CLOSE, (byte) 0, (short) 0, fd, 0L, 0L, 0, 0, tag, (short) 0, (short) 0, 0, 0);
    }

    /** Cancels the operation whose submission returned {@code id}; it then completes with -ECANCELED. */
    static IoUringIoOps cancel(long id, short tag) {
        return new IoUringIoOps(OP_ASYNC_CANCEL, (byte) 0, (short) 0, -1, 0L, id, 0, 0, tag,
                (short) 0, (short) 0, 0, 0);
    }
}
