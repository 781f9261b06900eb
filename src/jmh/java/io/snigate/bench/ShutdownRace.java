package io.snigate.bench;

import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringIoHandle;
import io.netty.channel.unix.Socket;
import io.snigate.transport.RingOps;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * Shows why a hand-driven io_uring socket may be closed only once no operation naming it is left.
 * Each round connects a socket, submits a shutdown and a close for it in one batch, and as soon as
 * the close completes opens a new socket, which takes the freed number. The kernel runs a shutdown
 * on an io-wq worker and looks its number up only there, so it can find the closed number
 * ({@code -9}, EBADF) or the new socket ({@code -107}, ENOTCONN: it shut down a socket that is
 * not its own). Prints how often each happened.
 *
 * <pre>java -cp target/benchmarks.jar io.snigate.bench.ShutdownRace 2000</pre>
 */
public final class ShutdownRace implements IoUringIoHandle {
    private static final short CONNECT = 1, SHUTDOWN = 2, CLOSE = 3;
    private final BenchRing.Target target;
    private final int rounds;
    private final CompletableFuture<Map<String, Integer>> outcomes = new CompletableFuture<>();
    private final Map<String, Integer> counts = new TreeMap<>();
    private IoRegistration registration;
    private int round, fd, newFd = -1, shutdownResult;
    private boolean closed, shutDown;

    private ShutdownRace(BenchRing.Target target, int rounds) {
        this.target = target;
        this.rounds = rounds;
    }

    public static void main(String[] args) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        server.accept(); // kept open until the process ends
                    }
                } catch (IOException closed) {
                    // the server is closed with the process
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            MultiThreadIoEventLoopGroup loops = Transport.select().newEventLoopGroup(1);
            IoEventLoop loop = (IoEventLoop) loops.next();
            ShutdownRace race = new ShutdownRace(
                    new BenchRing.Target(new InetSocketAddress("127.0.0.1", server.getLocalPort())),
                    args.length > 0 ? Integer.parseInt(args[0]) : 2000);
            loop.execute(() -> loop.register(race).addListener(registered -> {
                race.registration = (IoRegistration) registered.getNow();
                race.nextRound();
            }));
            race.outcomes.get().forEach((outcome, count) -> System.out.println(count + "\t" + outcome));
            loops.shutdownGracefully();
        }
    }

    private void nextRound() {
        if (round++ == rounds) {
            outcomes.complete(counts);
            return;
        }
        closed = shutDown = false;
        fd = RingOps.newSocket(target.address);
        registration.submit(BenchRing.connect(fd, target, CONNECT));
    }

    @Override
    public void handle(IoRegistration ignored, IoEvent ioEvent) {
        IoUringIoEvent event = (IoUringIoEvent) ioEvent;
        switch (event.data()) {
            case CONNECT -> {
                if (event.res() < 0) {
                    outcomes.completeExceptionally(new IOException("connect failed: " + event.res()));
                    return;
                }
                registration.submit(RingOps.shutdownOutput(fd, SHUTDOWN));
                registration.submit(RingOps.close(fd, CLOSE));
            }
            case CLOSE -> {
                closed = true;
                if (!shutDown) {
                    newFd = RingOps.newSocket(target.address);
                }
                roundDone();
            }
            case SHUTDOWN -> {
                shutDown = true;
                shutdownResult = event.res();
                roundDone();
            }
            default -> { }
        }
    }

    private void roundDone() {
        if (!closed || !shutDown) {
            return;
        }
        String when = newFd < 0 ? "the shutdown completed before the close"
                : newFd == fd ? "a new socket had the number by then" : "a new socket had another number";
        counts.merge("shutdown result " + shutdownResult + ", " + when, 1, Integer::sum);
        if (newFd >= 0) {
            try {
                new Socket(newFd).close();
            } catch (IOException ignored) {
                // a socket that never connected
            }
            newFd = -1;
        }
        nextRound();
    }

    @Override
    public void close() {
    }
}
