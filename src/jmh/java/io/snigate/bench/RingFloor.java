package io.snigate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.snigate.config.ProxyConfig;
import io.snigate.core.Reason;
import io.snigate.transport.RingOps;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * A relay with no Netty channel at all, on Netty's io_uring event loop: the listening socket and
 * both sockets of each connection are handles that submit their own accept, receive, connect, send
 * and close, one buffer in flight per direction; the FIN goes by the system call, with the last
 * bytes when it came behind them, as in snigate's relay ({@code RelaySocket}). What is left is the
 * JVM, Netty's ring and the kernel: the floor under {@link NettyFloor} and {@link HandleUpstream}
 * (performance page, "Below the floor"). Same command line and config as {@code NettyFloor};
 * io_uring, IPv4. With {@code -Dsnigate.floor.stages=on} it also runs snigate's own stages
 * ({@link FloorStages}): the rig's {@code stagefloor}.
 */
public final class RingFloor {
    private RingFloor() {}

    public static void main(String[] args) throws Exception {
        ProxyConfig config = NettyFloor.config("RingFloor", args);
        InetSocketAddress listen = config.listeners().get(0).address().toResolvedLiteral();
        InetSocketAddress upstream = config.routes().get(0).upstream().hostPort().toResolvedLiteral();
        Transport transport = Transport.select();
        if (!transport.name().equals("io_uring")) {
            System.err.println("RingFloor needs io_uring, not " + transport.name());
            System.exit(2);
        }
        MultiThreadIoEventLoopGroup loops = transport.newEventLoopGroup(1);
        Socket listening = new Socket(RingOps.newSocket(listen));
        listening.setReuseAddress(true);
        listening.setTcpNoDelay(true); // accepted sockets inherit it
        listening.bind(listen);
        listening.listen(4096);
        IoEventLoop loop = (IoEventLoop) loops.next();
        FloorStages stages = "on".equals(System.getProperty("snigate.floor.stages")) ? new FloorStages(config) : null;
        Acceptor acceptor = new Acceptor(loop, listening, new BenchRing.Target(upstream), stages);
        acceptor.start(loop.register(acceptor).sync().getNow());
        NettyFloor.answerReady(config, loops);
        System.err.println("RingFloor on io_uring, no channels" + (stages == null ? "" : ", snigate's stages")
                + ": " + listen + " -> " + upstream);
        loops.terminationFuture().sync();
    }

    /**
     * Accepts one connection at a time and hands each to its own {@link Connection}; with the
     * stages, the accept also writes the client's address, as snigate's does.
     */
    private static final class Acceptor implements IoUringIoHandle {
        private static final short ACCEPT = 1;
        private final IoEventLoop loop;
        private final Socket listening;
        private final BenchRing.Target target;
        private final FloorStages stages;
        private final ByteBuf sockaddr = RingOps.newAcceptSockaddr();
        private IoRegistration registration;

        Acceptor(IoEventLoop loop, Socket listening, BenchRing.Target target, FloorStages stages) {
            this.loop = loop;
            this.listening = listening;
            this.target = target;
            this.stages = stages;
        }

        void start(IoRegistration registration) {
            this.registration = registration;
            accept(); // submitted on the loop
        }

        private void accept() {
            if (stages == null) {
                registration.submit(BenchRing.accept(listening.intValue(), ACCEPT));
                return;
            }
            registration.submit(RingOps.accept(listening.intValue(), sockaddr, ACCEPT));
        }

        @Override
        public void handle(IoRegistration ignored, IoEvent event) {
            int fd = ((IoUringIoEvent) event).res();
            if (fd >= 0) {
                new Connection(fd, target).start(loop, stages == null ? null : RingOps.acceptedPeer(sockaddr), stages);
            }
            accept();
        }

        @Override
        public void close() throws IOException {
            listening.close();
        }
    }

    /**
     * Both sockets of one connection. Each direction holds one buffer: received from one side,
     * sent whole to the other, then received into again, which is its backpressure. A FIN received
     * is passed on by shutting the other side's output; once both directions have ended, or on any
     * error, what is in flight is cancelled and both sockets closed.
     */
    private static final class Connection implements IoUringIoHandle {
        // Tags: the low bit is the direction (0 from the client, 1 from the upstream).
        private static final short RECV = 2, SEND = 4, CONNECT = 8, NODELAY = 10, CLOSE = 12, CANCEL = 14;
        private static final int FIRST_READ_BYTES = 2048, MAX_READ_BYTES = 1 << 20;

        private final int[] fds = {-1, -1}; // client, upstream
        private final ByteBuf[] buffers = new ByteBuf[2];
        private final long[] recvIds = new long[2], sendIds = new long[2];
        private final int[] readBytes = {FIRST_READ_BYTES, FIRST_READ_BYTES};
        private final boolean[] ended = new boolean[2];
        /** The direction's FIN came behind the bytes being sent: passed on once they are. */
        private final boolean[] finAfterSend = new boolean[2];
        /** Netty's object for each descriptor, made at its first shutdown (it asks the address family). */
        private final Socket[] sockets = new Socket[2];
        private final BenchRing.Target target;
        private IoRegistration registration;
        private IoEventLoop loop;
        /** snigate's stages for this connection, or null without them. */
        private FloorStages.Connection stages;
        private long connectId;
        private boolean connected, closing, closesSubmitted;
        /** Operations naming either socket not yet completed: the closes wait for none ({@link HandleUpstream#closeWhenIdle}). */
        private int onSockets;
        private int closesPending;

        Connection(int clientFd, BenchRing.Target target) {
            fds[0] = clientFd;
            this.target = target;
        }

        void start(IoEventLoop loop, InetSocketAddress peer, FloorStages allStages) {
            this.loop = loop;
            if (allStages != null) {
                stages = allStages.new Connection(peer, loop, this::timedOut);
            }
            loop.register(this).addListener(registered -> {
                if (!registered.isSuccess()) {
                    new Socket(fds[0]).close();
                    if (stages != null) {
                        stages.closed();
                    }
                    return;
                }
                registration = (IoRegistration) registered.getNow();
                receive(0);
            });
        }

        private void receive(int from) {
            ByteBuf buffer = ByteBufAllocator.DEFAULT.directBuffer(readBytes[from]);
            buffers[from] = buffer;
            onSockets++;
            recvIds[from] = registration.submit(RingOps.recv(fds[from], buffer, (short) (RECV | from)));
        }

        private void send(int from) {
            onSockets++;
            sendIds[from] = registration.submit(RingOps.send(fds[1 - from], buffers[from], (short) (SEND | from)));
        }

        @Override
        public void handle(IoRegistration ignored, IoEvent ioEvent) {
            IoUringIoEvent event = (IoUringIoEvent) ioEvent;
            int res = event.res();
            int tag = event.data();
            int side = tag & 1;
            int op = tag & ~1;
            if (op != CLOSE && op != CANCEL) {
                onSockets--;
            }
            switch (op) {
                case RECV -> received(side, res, event.flags());
                case SEND -> sent(side, res);
                case CONNECT -> connected(res);
                case CLOSE -> {
                    if (--closesPending == 0) {
                        registration.cancel(); // unregistered() follows once nothing is in flight
                    }
                }
                default -> { } // NODELAY (its failure cancels the linked connect), CANCEL
            }
            if (closing) {
                closeWhenIdle();
            }
        }

        private void received(int from, int res, int flags) {
            recvIds[from] = 0;
            ByteBuf buffer = buffers[from];
            if (closing || res <= 0) {
                buffers[from] = null;
                buffer.release();
                if (res == 0 && !closing) {
                    ended(from);
                } else {
                    failIfNegative(res);
                }
                return;
            }
            buffer.writerIndex(res);
            if (res == buffer.capacity() && readBytes[from] < MAX_READ_BYTES) {
                readBytes[from] <<= 1;
            }
            if (connected && (flags & RingOps.SOCK_NONEMPTY) != 0 && buffer.isWritable()) {
                try {
                    int more = new FileDescriptor(fds[from]).readAddress(buffer.memoryAddress(), buffer.writerIndex(),
                            buffer.capacity());
                    if (more < 0) {
                        sendThenEnd(from);
                        return;
                    }
                    buffer.writerIndex(buffer.writerIndex() + more);
                } catch (IOException reset) {
                    closeBoth();
                    return;
                }
            }
            if (connected) {
                send(from);
            } else if (fds[1] < 0) {
                if (stages != null && !stages.hello(buffer, loop, this::timedOut)) {
                    closeBoth();
                    return;
                }
                dial(); // the first bytes wait in buffers[0] until the upstream answers
            }
        }

        private void dial() {
            fds[1] = RingOps.newSocket(target.address);
            onSockets += 2;
            registration.submit(BenchRing.noDelayThen(fds[1], target, NODELAY));
            connectId = registration.submit(BenchRing.connect(fds[1], target, CONNECT));
        }

        private void connected(int res) {
            connectId = 0;
            if (closing) {
                return;
            }
            if (res < 0) {
                if (stages != null) {
                    stages.failed(Reason.UPSTREAM_UNREACHABLE);
                }
                closeBoth();
                return;
            }
            connected = true;
            if (stages != null) {
                stages.connected(target.address);
            }
            send(0);
            receive(1);
        }

        /** The bytes by a system call and, once all are written, the FIN after them, in this turn. */
        private void sendThenEnd(int from) {
            ByteBuf buffer = buffers[from];
            try {
                int written = new FileDescriptor(fds[1 - from]).writeAddress(buffer.memoryAddress(),
                        buffer.readerIndex(), buffer.writerIndex());
                buffer.skipBytes(written);
                if (stages != null) {
                    stages.relayed(from == 0, written);
                }
            } catch (IOException refused) {
                closeBoth();
                return;
            }
            if (buffer.isReadable()) {
                finAfterSend[from] = true;
                send(from);
                return;
            }
            buffers[from] = null;
            buffer.release();
            ended(from);
        }

        private void sent(int from, int res) {
            sendIds[from] = 0;
            if (closing) {
                return;
            }
            if (res < 0) {
                closeBoth();
                return;
            }
            ByteBuf buffer = buffers[from];
            buffer.skipBytes(res);
            if (stages != null) {
                stages.relayed(from == 0, res);
            }
            if (buffer.isReadable()) {
                send(from);
                return;
            }
            buffers[from] = null;
            buffer.release();
            if (finAfterSend[from]) {
                ended(from);
            } else {
                receive(from);
            }
        }

        /** {@code from} sent FIN: passed on, and both closed once the other direction has ended too. */
        private void ended(int from) {
            ended[from] = true;
            if (!connected || ended[1 - from]) {
                closeBoth();
            } else {
                try {
                    if (sockets[1 - from] == null) {
                        sockets[1 - from] = new Socket(fds[1 - from]);
                    }
                    sockets[1 - from].shutdown(false, true);
                } catch (IOException notConnected) {
                    closeBoth();
                }
            }
        }

        /** snigate's pre-read timeout or connect budget ran out. */
        private void timedOut() {
            stages.failed(fds[1] < 0 ? Reason.PREREAD_TIMEOUT : Reason.UPSTREAM_TIMEOUT);
            closeBoth();
        }

        private void failIfNegative(int res) {
            if (res < 0) {
                closeBoth();
            }
        }

        private void closeBoth() {
            if (closing) {
                return;
            }
            closing = true;
            for (long id : new long[] {recvIds[0], recvIds[1], sendIds[0], sendIds[1], connectId}) {
                if (id != 0) {
                    registration.submit(RingOps.cancel(id, CANCEL));
                }
            }
            closeWhenIdle();
        }

        private void closeWhenIdle() {
            if (onSockets > 0 || closesSubmitted) {
                return;
            }
            closesSubmitted = true;
            for (int fd : fds) {
                if (fd >= 0) {
                    closesPending++;
                    registration.submit(RingOps.close(fd, CLOSE));
                }
            }
        }

        /** The ring holds no more of this connection's operations: its buffers can go. */
        @Override
        public void unregistered() {
            for (int i = 0; i < 2; i++) {
                if (buffers[i] != null) {
                    buffers[i].release();
                    buffers[i] = null;
                }
            }
            if (stages != null) {
                stages.closed();
            }
        }

        /** The event loop is shutting down with this connection open. */
        @Override
        public void close() throws IOException {
            if (!closing) {
                closing = true;
                for (int fd : fds) {
                    if (fd >= 0) {
                        new Socket(fd).close();
                    }
                }
            }
        }
    }
}
