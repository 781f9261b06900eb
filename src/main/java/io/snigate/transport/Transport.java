package io.snigate.transport;

import io.netty.channel.ChannelFactory;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O transport: io_uring where the kernel allows it, else native epoll, else the JDK's NIO.
 * Every channel of one proxy uses the same transport, so that an upstream connection can live on
 * the event loop of the client connection it serves.
 */
public record Transport(
        String name,
        String why,
        IoHandlerFactory ioHandlerFactory,
        Class<? extends ServerChannel> serverChannelClass,
        Class<? extends SocketChannel> socketChannelClass,
        Class<? extends DatagramChannel> datagramChannelClass,
        Function<SocketProtocolFamily, SocketChannel> socketChannelFactory,
        Function<SocketProtocolFamily, ServerChannel> serverChannelFactory) {
    private static final Logger LOG = LoggerFactory.getLogger(Transport.class);

    /**
     * Netty's switch for multishot {@code POLL_ADD} on io_uring, read once when its {@code IoUring}
     * class loads. Off, because with it a peer's reset that arrives with its last bytes can go
     * unseen: src/site/markdown/design.md, "Why io_uring's multishot modes are off".
     */
    static final String MULTISHOT_POLL_PROPERTY = "io.netty.iouring.pollAddMultishotEnabled";

    /**
     * Netty's switch for multishot {@code ACCEPT} on io_uring, read with the one above. Off, because
     * with it a burst of clients is accepted whole before any is read, and overflows the pre-read
     * budget ({@code max_preread_connections}): same page.
     */
    static final String MULTISHOT_ACCEPT_PROPERTY = "io.netty.iouring.acceptMultiShotEnabled";

    static {
        // Before anything loads IoUring: this class is the only one in snigate that touches it.
        // Either can still be set on the command line; a multishot poll then keeps io_uring out.
        for (String property : new String[] {MULTISHOT_POLL_PROPERTY, MULTISHOT_ACCEPT_PROPERTY}) {
            if (System.getProperty(property) == null) {
                System.setProperty(property, "false");
            }
        }
    }

    /**
     * The transport for this process. The system property {@code snigate.transport}
     * ({@code io_uring}, {@code epoll} or {@code nio}) asks for one; without it, io_uring when it
     * is usable, epoll when it is not, NIO last. {@code why} says which and for what reason, and
     * every fallback is logged with its cause.
     */
    public static Transport select() {
        String asked = System.getProperty("snigate.transport", "");
        return select(asked, () -> Machine.IO_URING_PROBLEM, Transport::epollProblem);
    }

    /**
     * Finds out what this machine allows (loading the native libraries and Netty's classes, and
     * trying a full-size io_uring ring), so that {@link #select} has nothing left to wait for.
     * {@code Main} calls it on a second thread while the config is parsed: about a tenth of a
     * second off the start on two cores.
     */
    public static void prepare() {
        if (Machine.IO_URING_PROBLEM != null) {
            epollProblem(); // the fallback, then
        }
    }

    /**
     * Starts {@link #prepare} on a daemon thread of its own, {@code snigate-start}, after
     * initialising {@link InetAddress} on the calling thread. Netty's io_uring library, while it
     * loads, initialises its {@code LinuxSocket}, whose static fields need {@code InetAddress};
     * the JDK holds its one lock for loading native libraries meanwhile, and {@code InetAddress}'s
     * own initialisation takes that lock to load {@code libnet}. A caller that began to initialise
     * {@code InetAddress} in that window (parsing an address of the config) would wait for the lock
     * and the loading thread for the caller: both for ever (netty/netty#13871, which Netty fixed
     * for epoll only; {@code TransportPrepareDeadlockTest}).
     */
    public static void prepareInBackground() {
        InetAddress.getLoopbackAddress();
        Thread prepare = new Thread(Transport::prepare, "snigate-start");
        prepare.setDaemon(true);
        prepare.start();
    }

    /** Found once per process: the class initialisation makes a concurrent caller wait for it. */
    private static final class Machine {
        static final String IO_URING_PROBLEM = ioUringProblem();
    }

    /**
     * The choice itself, given what is wrong with io_uring and with epoll here ({@code null} when
     * nothing is); each is looked into only when it matters.
     */
    public static Transport select(String asked, Supplier<String> ioUringProblem, Supplier<String> epollProblem) {
        if (asked.equals("nio")) {
            return nio("asked for with -Dsnigate.transport=nio");
        }
        if (asked.equals("epoll")) {
            String epoll = epollProblem.get();
            if (epoll == null) {
                return epoll("asked for with -Dsnigate.transport=epoll");
            }
            LOG.warn("epoll was asked for but {}; falling back to NIO", epoll);
            return nio("epoll was asked for but " + epoll);
        }
        if (!asked.isEmpty() && !asked.equals("io_uring")) {
            LOG.warn("unknown -Dsnigate.transport={} (io_uring, epoll or nio): using the default", asked);
        }
        String ioUring = ioUringProblem.get();
        if (ioUring == null) {
            return ioUring(asked.equals("io_uring")
                    ? "asked for with -Dsnigate.transport=io_uring"
                    : "the default where the kernel allows it");
        }
        if (asked.equals("io_uring")) {
            LOG.warn("io_uring was asked for but {}; falling back", ioUring);
        }
        String epoll = epollProblem.get();
        if (epoll == null) {
            return epoll(ioUring);
        }
        return nio(ioUring + ", and " + epoll);
    }

    /**
     * The oldest Linux whose io_uring does all that snigate submits to a ring itself: socket
     * options as ring commands ({@code SOCKET_URING_OP_SETSOCKOPT}, Linux 6.7), linked before the
     * upstream's connect, and receives the kernel polls for first (5.19). Netty's own check passes
     * on older kernels, where every direct upstream's connect would then fail.
     */
    static final int[] OLDEST_KERNEL = {6, 7};
    private static final Pattern KERNEL_VERSION = Pattern.compile("^(\\d+)\\.(\\d+)");

    /** What keeps io_uring from being used here, or {@code null} when it can be. */
    static String ioUringProblem() {
        String tooOld = kernelTooOld(System.getProperty("os.version", ""));
        if (tooOld != null) {
            return tooOld;
        }
        try {
            if (!IoUring.isAvailable()) {
                return "io_uring is unavailable: " + describe(IoUring.unavailabilityCause());
            }
            if (IoUring.isPollAddMultishotEnabled()) {
                // Set on the command line, or IoUring was loaded before this class could turn it off.
                return "io_uring is left out: Netty's multishot poll is on (-D" + MULTISHOT_POLL_PROPERTY
                        + "=true), with which a peer's reset can go unnoticed";
            }
            // IoUring.isAvailable() tried a one-entry ring; the event loops need full-size ones,
            // which locked-memory limits (kernels before 5.12) or cgroup limits can refuse.
            MultiThreadIoEventLoopGroup probe = new MultiThreadIoEventLoopGroup(1, IoUringIoHandler.newFactory());
            probe.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
            return null;
        } catch (Exception | LinkageError e) {
            return "io_uring failed to start: " + describe(e);
        }
    }

    /**
     * Why a kernel of version {@code osVersion} ({@code os.version}, such as {@code 6.1.0-18-amd64})
     * is too old for snigate's io_uring, or null when it is not, or when the version does not read
     * as one.
     */
    static String kernelTooOld(String osVersion) {
        Matcher version = KERNEL_VERSION.matcher(osVersion);
        if (!version.find()) {
            return null;
        }
        int major = Integer.parseInt(version.group(1));
        int minor = Integer.parseInt(version.group(2));
        boolean older = major < OLDEST_KERNEL[0] || (major == OLDEST_KERNEL[0] && minor < OLDEST_KERNEL[1]);
        return older ? "io_uring is left out: snigate's ring code needs Linux " + OLDEST_KERNEL[0] + "."
                + OLDEST_KERNEL[1] + " or later, and this kernel is " + osVersion : null;
    }

    /** What keeps epoll from being used here, or {@code null} when it can be. */
    static String epollProblem() {
        try {
            return Epoll.isAvailable() ? null : "native epoll is unavailable: " + describe(Epoll.unavailabilityCause());
        } catch (Exception | LinkageError e) {
            return "native epoll failed to load: " + describe(e);
        }
    }

    private static String describe(Throwable cause) {
        if (cause == null) {
            return "unknown cause";
        }
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == cause ? cause.toString() : cause + " (" + root + ")";
    }

    private static Transport ioUring(String why) {
        return new Transport(
                "io_uring",
                why,
                IoUringIoHandler.newFactory(),
                IoUringServerSocketChannel.class,
                IoUringSocketChannel.class,
                IoUringDatagramChannel.class,
                family -> new IoUringSocketChannel(),
                // No IPv4 server socket in Netty's io_uring: its listeners are RingListeners,
                // and the admin endpoint is on NIO (forAdmin).
                family -> new IoUringServerSocketChannel());
    }

    private static Transport epoll(String why) {
        return new Transport(
                "epoll",
                why,
                EpollIoHandler.newFactory(),
                EpollServerSocketChannel.class,
                EpollSocketChannel.class,
                EpollDatagramChannel.class,
                EpollSocketChannel::new,
                EpollServerSocketChannel::new);
    }

    private static Transport nio(String why) {
        return new Transport(
                "nio",
                why,
                NioIoHandler.newFactory(),
                NioServerSocketChannel.class,
                NioSocketChannel.class,
                NioDatagramChannel.class,
                family -> new NioSocketChannel(SelectorProvider.provider(), family),
                family -> new NioServerSocketChannel(SelectorProvider.provider(), family));
    }

    /**
     * The transport of the admin endpoint: this one, but NIO in place of io_uring, whose Netty
     * server socket is always IPv6 (a {@code 0.0.0.0} admin address would take IPv6 clients too).
     * The endpoint has a loop of its own and answers a scrape now and then: NIO costs it nothing.
     */
    public Transport forAdmin() {
        return name.equals("io_uring") ? nio("the admin endpoint of io_uring") : this;
    }

    /**
     * A client socket of the family {@code target} needs: an IPv4 target gets an IPv4 socket
     * rather than a dual-stack IPv6 one, which saves a setsockopt and the address conversions.
     */
    public SocketChannel newSocketChannel(InetSocketAddress target) {
        return socketChannelFactory.apply(
                target.getAddress() instanceof Inet4Address ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6);
    }

    /**
     * A listening socket of {@code address}'s family: an IPv4 address, {@code 0.0.0.0} included,
     * is bound by an IPv4 socket, which no IPv6 client reaches, as nginx and HAProxy bind it.
     * Netty's default socket is IPv6 and binds {@code 0.0.0.0} as {@code [::]}, both families.
     */
    public ChannelFactory<ServerChannel> serverChannelFor(InetSocketAddress address) {
        SocketProtocolFamily family =
                address.getAddress() instanceof Inet4Address ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6;
        return () -> serverChannelFactory.apply(family);
    }

    public MultiThreadIoEventLoopGroup newEventLoopGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
    }
}
