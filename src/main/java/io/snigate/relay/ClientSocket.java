package io.snigate.relay;

import io.netty.channel.EventLoop;
import io.netty.channel.unix.Socket;
import io.snigate.transport.RingClientChannel;
import java.util.function.Consumer;

/**
 * The client side of a tunnel on io_uring once its channel has handed the socket over
 * ({@link HandOver}): a {@link RelaySocket} on a descriptor the channel no longer touches, on the
 * channel's own place on the ring ({@link RingClientChannel}) or registered anew (Netty's channel).
 */
final class ClientSocket extends RelaySocket {
    /** Dropped once one has run: the tunnel holds the socket for as long as it lives, not these. */
    private Consumer<ClientSocket> ready;
    private Consumer<Throwable> refused;

    private ClientSocket(Socket socket, Consumer<ClientSocket> ready, Consumer<Throwable> refused) {
        super(socket.intValue(), socket);
        this.ready = ready;
        this.refused = refused;
    }

    /**
     * Takes the socket and its place on the ring from {@code channel} ({@link
     * RingClientChannel#handOver}), on its event loop; then {@code ready} runs with it (before this
     * returns, unless a read of the channel's was in flight). A channel closed first hands nothing
     * over, and neither runs.
     */
    static void takeOver(RingClientChannel channel, Consumer<ClientSocket> ready) {
        channel.handOver(new ClientSocket((Socket) channel.fd(), ready, cause -> {}));
    }

    /**
     * Registers {@code socket} (the channel's own object for it, which the channel no longer uses)
     * with {@code loop}, on its thread; then {@code ready} runs with it (before this returns, when
     * the loop registers at once), or {@code refused} once the socket is closed.
     */
    static void adopt(Socket socket, EventLoop loop, Consumer<ClientSocket> ready, Consumer<Throwable> refused) {
        new ClientSocket(socket, ready, refused).register(loop);
    }

    @Override
    protected void ringReady() {
        Consumer<ClientSocket> then = ready;
        ready = null;
        refused = null;
        then.accept(this);
    }

    @Override
    protected void ringRefused(Throwable cause) {
        Consumer<Throwable> then = refused;
        ready = null;
        refused = null;
        then.accept(cause);
    }

    @Override
    protected void completedOther(short tag, int res) {
        // submits nothing of its own
    }
}
