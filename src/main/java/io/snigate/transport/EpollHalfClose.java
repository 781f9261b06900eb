package io.snigate.transport;

import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.epoll.Native;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps an epoll channel that its peer half-closed in the epoll set, so that it can still be told
 * when it may be written again. Netty 4.2 (4.2.18 to 4.2.21 at least) removes a descriptor from
 * the set once it waits for nothing, which after the peer's FIN is at once (it stops asking for
 * reads and for the peer's hang-up), and keeps calling the registration added: the next wait for
 * writability is an {@code epoll_ctl(MOD)} that fails with ENOENT, and Netty closes the channel
 * with what it had still to send, a FIN after a cut stream. Asking for {@code EPOLLET} alone keeps
 * the descriptor in the set at the cost of one {@code epoll_ctl}: no event is asked for, and the
 * error and hang-up the kernel always reports come once, edge-triggered, instead of at every wait.
 * Called on the channel's loop while the FIN's event is handled, before Netty lets go of it.
 */
public final class EpollHalfClose {
    private static final Logger LOG = LoggerFactory.getLogger(EpollHalfClose.class);

    /**
     * {@code AbstractEpollChannel.setFlag(int)}, or null where it cannot be had: looked up when the
     * first epoll channel is seen, so that a process on another transport never loads epoll.
     */
    private static final class SetFlag {
        static final MethodHandle HANDLE = setFlag();
    }

    private EpollHalfClose() {}

    private static MethodHandle setFlag() {
        try {
            Method method = EpollSocketChannel.class.getSuperclass().getSuperclass()
                    .getDeclaredMethod("setFlag", int.class);
            method.setAccessible(true);
            return MethodHandles.lookup().unreflect(method).asType(MethodType.methodType(void.class, Channel.class, int.class));
        } catch (ReflectiveOperationException | RuntimeException unavailable) {
            LOG.warn("epoll: a half-closed connection's later writes may be cut short ({})", unavailable.toString());
            return null;
        }
    }

    /** The peer of {@code channel} sent FIN: keep it in the epoll set (only an epoll channel). */
    public static void peerFinished(Channel channel) {
        if (!(channel instanceof EpollSocketChannel) || !channel.isOpen() || SetFlag.HANDLE == null) {
            return;
        }
        try {
            SetFlag.HANDLE.invokeExact(channel, Native.EPOLLET);
        } catch (Throwable failed) {
            // The descriptor is gone already (the channel is closing): nothing more to keep.
            LOG.debug("epoll: could not keep {} registered", channel, failed);
        }
    }
}
