package io.snigate.connect;

import io.netty.util.NetUtil;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.function.BooleanSupplier;

/**
 * Whether the host has an IPv6 address other than loopback and link-local, as glibc's
 * {@code AI_ADDRCONFIG} asks before a lookup for AAAA: looked at again every
 * {@value #REFRESH_SECONDS} s, so that an address that comes up after the start (at boot, once
 * router advertisements or DHCPv6 have answered) is used without a restart. Each lookup reads the
 * last answer; the interfaces are read on {@link DnsRefresher}'s thread, never an event loop.
 */
final class HostIpv6 implements BooleanSupplier {
    static final long REFRESH_SECONDS = 10;

    private static final class Shared {
        static final HostIpv6 INSTANCE = start();

        private static HostIpv6 start() {
            HostIpv6 host = new HostIpv6(HostIpv6::look);
            DnsRefresher.every(REFRESH_SECONDS, host::refresh);
            return host;
        }
    }

    private final BooleanSupplier look;
    private volatile boolean has;

    HostIpv6(BooleanSupplier look) {
        this.look = look;
        this.has = look.getAsBoolean();
    }

    static HostIpv6 shared() {
        return Shared.INSTANCE;
    }

    /** Looks at the interfaces again; one that cannot be read keeps the last answer. */
    void refresh() {
        try {
            has = look.getAsBoolean();
        } catch (RuntimeException unreadable) {
            // kept: the last answer
        }
    }

    @Override
    public boolean getAsBoolean() {
        return has;
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
            throw new IllegalStateException(unreadable);
        }
        return false;
    }
}
