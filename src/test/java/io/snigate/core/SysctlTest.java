package io.snigate.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.snigate.testing.ProcessRunner;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link Sysctl} against the kernel's own files, as {@code cat} reads them. */
class SysctlTest {
    /**
     * Failed with Files.readString: "3" for "32768 60999" (and "1" for 1024, the hint of a refused
     * bind below 1024 wrong). The local port range has several digits on any Linux.
     */
    @Test
    void aSettingOfSeveralDigitsIsReadWhole() throws Exception {
        Path file = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        String seenByCat = ProcessRunner.run(10, "cat", file.toString()).stdout().strip();
        assertThat(seenByCat).as("a setting of more than one digit").hasSizeGreaterThan(1);
        assertThat(Sysctl.read(file)).isEqualTo(seenByCat);
    }
}
