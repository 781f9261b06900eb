package io.snigate.connect;

import io.netty.util.NetUtil;
import java.io.UncheckedIOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.function.BooleanSupplier;

/**
 * Whether the host has an IPv6 address other than loopback and link-local, as glibc's
 * {@code AI_ADDRCONFIG} asks before a lookup for AAAA: looked at again every
 * {@value #REFRESH_SECONDS} s on {@link Reread}'s thread, so that an address that comes up after the
 * start (at boot, once router advertisements or DHCPv6 have answered) is used without a restart.
 * Interfaces that cannot be read at the start count as no IPv6.
 */
final class HostIpv6 implements BooleanSupplier {
    static final long REFRESH_SECONDS = 10;
    private static final String WHAT = "this host's network interfaces (for whether it has IPv6)";
    private static final String MEANWHILE = "counting as no IPv6";

    private static final class Shared {
        static final HostIpv6 INSTANCE = new HostIpv6(Reread.every(REFRESH_SECONDS, WHAT, MEANWHILE, HostIpv6::look, () -> false));
    }

    private final Reread<Boolean> has;

    /** Interfaces looked at by {@code look} now and by each {@link #refresh}. */
    HostIpv6(BooleanSupplier look) {
        this(new Reread<>(WHAT, MEANWHILE, look::getAsBoolean, () -> false));
    }

    private HostIpv6(Reread<Boolean> has) {
        this.has = has;
    }

    static HostIpv6 shared() {
        return Shared.INSTANCE;
    }

    /** Looks at the interfaces again; never on an event loop. */
    void refresh() {
        has.refresh();
    }

    @Override
    public boolean getAsBoolean() {
        return has.get();
    }

    private static boolean look() {
        if (NetUtil.isIpV4StackPreferred()) {
            return false; // the JVM makes no IPv6 socket
        }
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                    if (address instanceof Inet6Address && !address.isAnyLocalAddress() && !address.isLoopbackAddress()
                            && !address.isLinkLocalAddress()) {
                        return true;
                    }
                }
            }
        } catch (SocketException unreadable) {
            throw new UncheckedIOException(unreadable);
        }
        return false;
    }
}
