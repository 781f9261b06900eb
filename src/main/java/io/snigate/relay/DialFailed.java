package io.snigate.relay;

import java.net.ConnectException;
import java.net.InetSocketAddress;

/**
 * A connect made through the ring that the kernel refused, with its errno, so that whoever needs to
 * tell one failure from another tests the number rather than the message.
 */
public final class DialFailed extends ConnectException {
    /** Linux's EADDRNOTAVAIL: no local port (or address) is free for the connect. */
    private static final int EADDRNOTAVAIL = 99;

    private final int errno;

    public DialFailed(InetSocketAddress remote, int errno) {
        super("connect to " + remote + " failed: errno " + errno);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    /** Whether no source port was free towards the upstream (EADDRNOTAVAIL). */
    public boolean noSourcePort() {
        return errno == EADDRNOTAVAIL;
    }
}
