package io.snigate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Errors;
import io.snigate.testing.LogCapture;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An accept that fails for want of a descriptor is said in words on every transport: Netty's epoll
 * acceptor passed "accept(..) failed with error(-24): Too many open files", the ring's listener
 * "errno 24".
 */
class AcceptFailuresTest {
    @RegisterExtension
    final LogCapture logged = new LogCapture(AcceptFailures.class);

    @BeforeAll
    static void nativeErrors() {
        Epoll.ensureAvailability(); // Netty's Errors read the system's words through its native library
    }

    @Test
    void outOfDescriptorsIsSaidInWords() {
        // What Netty's epoll acceptor passes down a server channel's pipeline (its accept's errno -24).
        EmbeddedChannel server = new EmbeddedChannel(new AcceptFailures());
        server.pipeline().fireExceptionCaught(Errors.newIOException("accept", -24));
        // The ring's listener, with its completion's result.
        AcceptFailures.failed(new InetSocketAddress("127.0.0.1", 8443), Errors.newIOException("accept", -24));

        assertThat(logged.events()).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
                "accepting on embedded failed: the process is out of file descriptors (Too many open files);"
                        + " trying again in 1 s",
                "accepting on 127.0.0.1:8443 failed: the process is out of file descriptors (Too many open files);"
                        + " trying again in 1 s");
        server.finishAndReleaseAll();
    }
}
