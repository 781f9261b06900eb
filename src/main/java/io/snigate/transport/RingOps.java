package io.snigate.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.uring.IoUringIoOps;
import io.netty.channel.unix.Socket;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;

/**
 * The io_uring operations snigate submits for a socket that is not a Netty channel (the relay's
 * {@code UpstreamSocket}), with the constants of io_uring.h and the socket headers they need:
 * Netty keeps its own copies package-private. Each operation carries a 16-bit tag that its
 * completion hands back in {@code IoUringIoEvent.data()}. A buffer or address an operation names
 * must stay until its completion.
 */
public final class RingOps {
    private static final byte OP_POLL_ADD = 6;
    private static final byte OP_ACCEPT = 13;
    private static final byte OP_ASYNC_CANCEL = 14;
    private static final byte OP_CONNECT = 16;
    private static final byte OP_CLOSE = 19;
    private static final byte OP_SEND = 26;
    private static final byte OP_RECV = 27;
    private static final byte OP_SHUTDOWN = 34;
    private static final byte OP_URING_CMD = 46;
    private static final short IORING_RECVSEND_POLL_FIRST = 1;
    private static final int SOCK_NONBLOCK_CLOEXEC = 04000 | 02000000;
    private static final byte IOSQE_IO_LINK = 1 << 2;
    private static final int SOCKET_URING_OP_SETSOCKOPT = 3;
    private static final long IPPROTO_TCP_TCP_NODELAY = 6L | (1L << 32); // level, then optname
    private static final int SHUT_WR = 1;
    private static final int POLLIN = 0x1, POLLERR = 0x8, POLLHUP = 0x10;
    private static final short AF_INET = 2, AF_INET6 = 10;
    /** Room for either address family's {@code sockaddr}, and after it the int an option reads. */
    public static final int SOCKADDR_AND_OPTION_BYTES = 32;
    private static final int OPTION_OFFSET = 28;
    /** {@code -ECANCELED}: the completion of an operation that was cancelled. */
    public static final int CANCELED = -125;
    /**
     * {@code IORING_CQE_F_SOCK_NONEMPTY}, a receive's completion flag: the socket had more to read
     * when the receive returned, bytes or the peer's FIN (the kernel counts a FIN not yet read as
     * one byte, {@code tcp_inq_hint}).
     */
    public static final int SOCK_NONEMPTY = 1 << 2;

    private RingOps() {}

    /** Reaches Netty's socket() without a {@code Socket} object, whose constructor asks the address family. */
    private static final class Sockets extends Socket {
        private Sockets() {
            super(-1);
        }

        static int newStream(boolean ipv6) {
            return newSocketStream0(ipv6);
        }
    }

    /** A non-blocking TCP socket for {@code target}'s address family, by the one system call. */
    public static int newSocket(InetSocketAddress target) {
        return Sockets.newStream(target.getAddress() instanceof Inet6Address);
    }

    /**
     * Writes {@code target} as the kernel reads it, and the value 1 for {@link #noDelayThen}, into
     * {@code into}'s first {@link #SOCKADDR_AND_OPTION_BYTES} bytes; returns the address's length.
     */
    public static int writeSockaddr(ByteBuf into, InetSocketAddress target) {
        into.setZero(0, SOCKADDR_AND_OPTION_BYTES);
        int port = target.getPort();
        into.setByte(2, port >>> 8).setByte(3, port); // network order
        setNativeInt(into, OPTION_OFFSET, 1);
        if (target.getAddress() instanceof Inet4Address v4) {
            setNativeShort(into, 0, AF_INET);
            into.setBytes(4, v4.getAddress());
            return 16;
        }
        Inet6Address v6 = (Inet6Address) target.getAddress();
        setNativeShort(into, 0, AF_INET6);
        into.setBytes(8, v6.getAddress());
        setNativeInt(into, 24, v6.getScopeId());
        return 28;
    }

    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    private static final int ACCEPT_SOCKADDR_BYTES = 128;

    private static void setNativeShort(ByteBuf into, int index, short value) {
        if (LITTLE_ENDIAN) {
            into.setShortLE(index, value);
        } else {
            into.setShort(index, value);
        }
    }

    private static void setNativeInt(ByteBuf into, int index, int value) {
        if (LITTLE_ENDIAN) {
            into.setIntLE(index, value);
        } else {
            into.setInt(index, value);
        }
    }

    /** TCP_NODELAY, reading its value from {@code sockaddr}; linked, so the next operation is cancelled if it fails. */
    public static IoUringIoOps noDelayThen(int fd, ByteBuf sockaddr, short tag) {
        return new IoUringIoOps(OP_URING_CMD, IOSQE_IO_LINK, (short) 0, fd, SOCKET_URING_OP_SETSOCKOPT,
                IPPROTO_TCP_TCP_NODELAY, 0, 0, tag, (short) 0, (short) 0, 4, sockaddr.memoryAddress() + OPTION_OFFSET);
    }

    public static IoUringIoOps connect(int fd, ByteBuf sockaddr, int length, short tag) {
        return new IoUringIoOps(OP_CONNECT, (byte) 0, (short) 0, fd, length, sockaddr.memoryAddress(), 0, 0, tag,
                (short) 0, (short) 0, 0, 0);
    }

    /** Sends what {@code bytes} has readable. */
    public static IoUringIoOps send(int fd, ByteBuf bytes, short tag) {
        return new IoUringIoOps(OP_SEND, (byte) 0, (short) 0, fd, 0L, bytes.memoryAddress() + bytes.readerIndex(),
                bytes.readableBytes(), 0, tag, (short) 0, (short) 0, 0, 0);
    }

    /**
     * A poll for an error or a hang-up: a reset, or both directions closed. io_uring adds
     * {@code POLLRDHUP} to every poll, so the peer's FIN completes it too.
     */
    public static IoUringIoOps pollHangUp(int fd, short tag) {
        return new IoUringIoOps(OP_POLL_ADD, (byte) 0, (short) 0, fd, 0L, 0L, 0, POLLERR | POLLHUP, tag,
                (short) 0, (short) 0, 0, 0);
    }

    /** Completes once the socket is readable (data, a FIN) or has failed: a one-shot poll. */
    public static IoUringIoOps pollIn(int fd, short tag) {
        return new IoUringIoOps(OP_POLL_ADD, (byte) 0, (short) 0, fd, 0L, 0L, 0, POLLIN, tag,
                (short) 0, (short) 0, 0, 0);
    }

    /** Receives into what {@code bytes} has writable. */
    public static IoUringIoOps recv(int fd, ByteBuf bytes, short tag) {
        return new IoUringIoOps(OP_RECV, (byte) 0, (short) 0, fd, 0L, bytes.memoryAddress() + bytes.writerIndex(),
                bytes.writableBytes(), 0, tag, (short) 0, (short) 0, 0, 0);
    }

    /** Receives into what {@code bytes} has writable; the kernel polls the socket first (a fresh socket is empty). */
    public static IoUringIoOps recvPollFirst(int fd, ByteBuf bytes, short tag) {
        return new IoUringIoOps(OP_RECV, (byte) 0, IORING_RECVSEND_POLL_FIRST, fd, 0L,
                bytes.memoryAddress() + bytes.writerIndex(), bytes.writableBytes(), 0, tag, (short) 0, (short) 0, 0, 0);
    }

    /** A direct buffer for {@link #accept}: room for any peer's address (a sockaddr_storage), then its length. */
    public static ByteBuf newAcceptSockaddr() {
        return Unpooled.directBuffer(ACCEPT_SOCKADDR_BYTES + 4);
    }

    /** Accepts one connection, the peer's address into {@code sockaddr} ({@link #newAcceptSockaddr}). */
    public static IoUringIoOps accept(int fd, ByteBuf sockaddr, short tag) {
        setNativeInt(sockaddr, ACCEPT_SOCKADDR_BYTES, ACCEPT_SOCKADDR_BYTES); // the room the kernel may fill
        long address = sockaddr.memoryAddress();
        return new IoUringIoOps(OP_ACCEPT, (byte) 0, (short) 0, fd, address + ACCEPT_SOCKADDR_BYTES, address, 0,
                SOCK_NONBLOCK_CLOEXEC, tag, (short) 0, (short) 0, 0, 0);
    }

    /** The peer's address an {@link #accept} wrote into {@code sockaddr}: a sockaddr_in or sockaddr_in6. */
    public static InetSocketAddress acceptedPeer(ByteBuf sockaddr) {
        int family = LITTLE_ENDIAN ? sockaddr.getShortLE(0) : sockaddr.getShort(0);
        byte[] address = new byte[family == AF_INET6 ? 16 : 4];
        sockaddr.getBytes(family == AF_INET6 ? 8 : 4, address);
        try {
            // An IPv4-mapped IPv6 address comes back as the IPv4 address it maps.
            return new InetSocketAddress(InetAddress.getByAddress(address), sockaddr.getUnsignedShort(2));
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    /** A listening socket's descriptor for {@code address}'s family. */
    public static int newListener(boolean ipv6) {
        return Sockets.newStream(ipv6);
    }

    /**
     * Shuts the socket's output. The kernel runs this on an io-wq worker and looks {@code fd} up
     * only there, so the socket must not be closed before this completes.
     */
    public static IoUringIoOps shutdownOutput(int fd, short tag) {
        return new IoUringIoOps(OP_SHUTDOWN, (byte) 0, (short) 0, fd, 0L, 0L, SHUT_WR, 0, tag,
                (short) 0, (short) 0, 0, 0);
    }

    public static IoUringIoOps close(int fd, short tag) {
        return new IoUringIoOps(OP_CLOSE, (byte) 0, (short) 0, fd, 0L, 0L, 0, 0, tag, (short) 0, (short) 0, 0, 0);
    }

    /** Cancels the operation whose submission returned {@code id}; it then completes with {@link #CANCELED}. */
    public static IoUringIoOps cancel(long id, short tag) {
        return new IoUringIoOps(OP_ASYNC_CANCEL, (byte) 0, (short) 0, -1, 0L, id, 0, 0, tag,
                (short) 0, (short) 0, 0, 0);
    }
}
