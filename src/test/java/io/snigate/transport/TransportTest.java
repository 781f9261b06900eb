package io.snigate.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.uring.IoUring;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Which transport the proxy picks and why: io_uring by default where it works, epoll when it does
 * not, NIO last, and what {@code -Dsnigate.transport} asks for. The machine's own io_uring and
 * epoll are replaced by the problems each test gives, so every fallback is covered here whatever
 * the kernel of the machine running the tests allows.
 */
class TransportTest {
    private static final Supplier<String> WORKS = () -> null;

    private static Supplier<String> never(String what) {
        return () -> {
            throw new AssertionError(what + " was looked into, but the choice did not depend on it");
        };
    }

    private static void assumeIoUringWorksHere() {
        String problem = Transport.ioUringProblem();
        assumeTrue(problem == null, () -> "io_uring does not work here: " + problem);
    }

    @Test
    void aKernelOlderThanSnigatesRingCodeNeedsLeavesIoUringOut() {
        assertThat(Transport.kernelTooOld("6.1.0-18-amd64")).isEqualTo("io_uring is left out: snigate's ring code"
                + " needs Linux 6.7 or later, and this kernel is 6.1.0-18-amd64");
        assertThat(Transport.kernelTooOld("5.15.0-91-generic")).isNotNull();
        assertThat(Transport.kernelTooOld("6.6.30")).isNotNull();
        assertThat(Transport.kernelTooOld("6.7.0")).isNull();
        assertThat(Transport.kernelTooOld("6.18.44-fc-v1252")).isNull();
        assertThat(Transport.kernelTooOld("7.0.1")).isNull();
        assertThat(Transport.kernelTooOld("")).as("no version to read").isNull();
        Transport transport = Transport.select("", () -> Transport.kernelTooOld("6.1.0-18-amd64"), WORKS);
        assertThat(transport.name()).isEqualTo("epoll");
        assertThat(transport.why()).contains("needs Linux 6.7 or later");
    }

    @Test
    void theDefaultIsIoUringWhereItWorks() {
        assumeIoUringWorksHere();
        Transport transport = Transport.select("", WORKS, never("epoll"));
        assertThat(transport.name()).isEqualTo("io_uring");
        assertThat(transport.why()).isEqualTo("the default where the kernel allows it");
    }

    @Test
    void theDefaultFallsBackToEpollAndSaysWhy() {
        Transport transport = Transport.select("", () -> "io_uring is unavailable: EPERM (kernel.io_uring_disabled=2)", WORKS);
        assertThat(transport.name()).isEqualTo("epoll");
        assertThat(transport.why()).isEqualTo("io_uring is unavailable: EPERM (kernel.io_uring_disabled=2)");
    }

    @Test
    void theDefaultFallsBackToNioWhenNeitherNativeTransportWorks() {
        Transport transport = Transport.select("", () -> "io_uring is unavailable: ENOSYS", () -> "native epoll is unavailable: no library");
        assertThat(transport.name()).isEqualTo("nio");
        assertThat(transport.why()).isEqualTo("io_uring is unavailable: ENOSYS, and native epoll is unavailable: no library");
    }

    @Test
    void epollAndNioAreChosenWhenAskedForWithoutTryingIoUring() {
        assertThat(Transport.select("epoll", never("io_uring"), WORKS).name()).isEqualTo("epoll");
        assertThat(Transport.select("nio", never("io_uring"), never("epoll")).name()).isEqualTo("nio");
    }

    @Test
    void askedForEpollThatDoesNotWorkGivesNio() {
        Transport transport = Transport.select("epoll", never("io_uring"), () -> "native epoll is unavailable: no library");
        assertThat(transport.name()).isEqualTo("nio");
        assertThat(transport.why()).isEqualTo("epoll was asked for but native epoll is unavailable: no library");
    }

    @Test
    void askedForIoUringThatDoesNotWorkGivesEpoll() {
        Transport transport = Transport.select("io_uring", () -> "io_uring failed to start: ENOMEM", WORKS);
        assertThat(transport.name()).isEqualTo("epoll");
        assertThat(transport.why()).isEqualTo("io_uring failed to start: ENOMEM");
    }

    @Test
    void anUnknownNameGetsTheDefault() {
        assertThat(Transport.select("kqueue", () -> "io_uring is unavailable: ENOSYS", WORKS).name()).isEqualTo("epoll");
    }

    @Test
    void nettysMultishotPollAndAcceptAreOffOnceTransportHasLoaded() {
        Transport.select("nio", never("io_uring"), never("epoll")); // loads Transport, which must come before IoUring
        assertThat(System.getProperty("io.netty.iouring.pollAddMultishotEnabled")).isEqualTo("false");
        assertThat(System.getProperty("io.netty.iouring.acceptMultiShotEnabled")).isEqualTo("false");
        assumeIoUringWorksHere();
        assertThat(IoUring.isPollAddMultishotEnabled()).isFalse();
        assertThat(IoUring.isAcceptMultishotEnabled()).isFalse();
    }
}
