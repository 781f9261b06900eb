package io.snigate.transport;

import io.netty.channel.AbstractChannel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelMetadata;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.NotYetConnectedException;

/**
 * What Netty's {@code SocketChannel} asks of a channel for a socket a listener accepted, apart from
 * driving it: the descriptor, the addresses as the accept gave them (the local one asked of the
 * kernel only when the accept could not tell), and shutdowns by the system call. {@link
 * RingClientChannel} drives it on the ring.
 */
abstract class AcceptedSocketChannel extends AbstractChannel implements SocketChannel, UnixChannel {
    private static final ChannelMetadata METADATA = new ChannelMetadata(false);

    protected final int fd;
    private final InetSocketAddress remote;
    private InetSocketAddress local;
    /** Netty's object for the descriptor, made at the first call that needs it. */
    private Socket socket;
    protected boolean inputShutdown;

    /** {@code local}: null when only the socket can tell (a wildcard or transparent listener). */
    AcceptedSocketChannel(int fd, InetSocketAddress local, InetSocketAddress remote) {
        super(null, SequentialChannelId.next());
        this.fd = fd;
        this.local = local;
        this.remote = remote;
    }

    /** Whether the descriptor is still this channel's to ask about: open, not handed over. */
    protected abstract boolean ownsSocket();

    @Override
    public FileDescriptor fd() {
        if (socket == null) {
            socket = new Socket(fd);
        }
        return socket;
    }

    /** Closes the descriptor by the system call; nothing may name it any more. */
    protected final void closeFd() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing is left to undo for a socket that will not close
            }
        } else {
            RingSocket.closeDescriptor(fd);
        }
    }

    @Override
    protected SocketAddress localAddress0() {
        if (local == null && ownsSocket()) {
            local = ((Socket) fd()).localAddress();
        }
        return local;
    }

    @Override protected SocketAddress remoteAddress0() { return remote; }
    @Override protected void doBind(SocketAddress localAddress) { throw new UnsupportedOperationException(); }
    @Override public ChannelMetadata metadata() { return METADATA; }
    @Override public ServerSocketChannel parent() { return null; }
    @Override public InetSocketAddress localAddress() { return (InetSocketAddress) super.localAddress(); }
    @Override public InetSocketAddress remoteAddress() { return (InetSocketAddress) super.remoteAddress(); }
    @Override public boolean isInputShutdown() { return inputShutdown; }
    /** As the socket recorded it: the relay may shut it down directly (relay/Tunnel). */
    @Override public boolean isOutputShutdown() { return socket != null && socket.isOutputShutdown(); }
    @Override public boolean isShutdown() { return inputShutdown && isOutputShutdown(); }
    @Override public ChannelFuture shutdownInput() { return shutdownInput(newPromise()); }
    @Override public ChannelFuture shutdownInput(ChannelPromise promise) { return promise.setFailure(new UnsupportedOperationException()); }
    @Override public ChannelFuture shutdownOutput() { return shutdownOutput(newPromise()); }
    @Override public ChannelFuture shutdown() { return shutdown(newPromise()); }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        try {
            ((Socket) fd()).shutdown(true, true);
            inputShutdown = true;
            return promise.setSuccess();
        } catch (IOException | NotYetConnectedException e) { // ENOTCONN, a reset peer's, is unchecked in Netty
            return promise.setFailure(e);
        }
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        try {
            ((Socket) fd()).shutdown(false, true);
            return promise.setSuccess();
        } catch (IOException | NotYetConnectedException e) { // ENOTCONN, a reset peer's, is unchecked in Netty
            return promise.setFailure(e);
        }
    }
}
