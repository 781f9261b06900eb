package io.snigate.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelException;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Errors;
import java.io.IOException;
import java.nio.file.FileSystemException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A failed call in the words an operator reads: the system's, without Java's or Netty's class,
 * call and errno, and running out of descriptors said as that (verify N3, on-call F6).
 */
class SystemWordsTest {
    @BeforeAll
    static void nativeErrors() {
        Epoll.ensureAvailability(); // Netty's Errors read the system's words through its native library
    }

    @Test
    void outOfDescriptorsIsSaidInWords() {
        // As the JDK's file calls throw it (Files.readString of routes.yaml, verify N3).
        assertThat(SystemWords.plainly(new FileSystemException("/etc/snigate/routes.yaml", null, "Too many open files")))
                .isEqualTo("the process is out of file descriptors (Too many open files)");
        // As Netty's epoll acceptor passes it, and as the ring's listener makes it of its errno.
        assertThat(SystemWords.plainly(Errors.newIOException("accept", -24)))
                .isEqualTo("the process is out of file descriptors (Too many open files)");
        assertThat(SystemWords.plainly(new ChannelException(Errors.newIOException("newSocketStream", -24))))
                .isEqualTo("the process is out of file descriptors (Too many open files)");
        assertThat(SystemWords.plainly(Errors.newIOException("accept", -23)))
                .isEqualTo("the system is out of file descriptors (Too many open files in system)");
        assertThat(SystemWords.outOfDescriptors(new FileSystemException("/etc/snigate/routes.yaml", null,
                "Too many open files"))).isTrue();
        assertThat(SystemWords.outOfDescriptors(new ChannelException(Errors.newIOException("newSocketStream", -23))))
                .isTrue();
    }

    /** Only the want of descriptors is the host's passing trouble a look at the config waits out. */
    @Test
    void otherFailuresAreNotOutOfDescriptors() {
        assertThat(SystemWords.outOfDescriptors(new FileSystemException("/etc/snigate/routes.yaml", null,
                "Too many levels of symbolic links"))).isFalse();
        assertThat(SystemWords.outOfDescriptors(new FileSystemException("/etc/snigate/routes.yaml", null,
                "Not a directory"))).isFalse();
        assertThat(SystemWords.outOfDescriptors(Errors.newIOException("accept", -12))).isFalse();
        assertThat(SystemWords.outOfDescriptors(null)).isFalse();
    }

    @Test
    void anyOtherFailureIsTheSystemsWordsAlone() {
        assertThat(SystemWords.plainly(Errors.newIOException("accept", -12))).isEqualTo("Cannot allocate memory");
        assertThat(SystemWords.plainly(new FileSystemException("/etc/snigate/routes.yaml", null,
                "Too many levels of symbolic links"))).isEqualTo("Too many levels of symbolic links");
        assertThat(SystemWords.of(new ChannelException(Errors.newIOException("newSocketStream", -24))))
                .isEqualTo("Too many open files");
        assertThat(SystemWords.plainly(new IOException("Broken pipe"))).isEqualTo("Broken pipe");
    }
}
