package io.snigate.ship;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/**
 * The packaged jar carries the native transports for every platform the documentation names
 * (src/site/markdown/platforms.md): io_uring and epoll for Linux on x86-64 and on aarch64, each
 * a shared library built for that machine, and nothing else under {@code META-INF/native/}.
 */
class JarNativesIT {
    /** ELF e_machine values: EM_X86_64 and EM_AARCH64. */
    private static final int X86_64 = 62;
    private static final int AARCH64 = 183;

    /** Every native library the documentation claims, with the machine it must be built for. */
    static final Map<String, Integer> CLAIMED = Map.of(
            "META-INF/native/libnetty_transport_native_epoll_x86_64.so", X86_64,
            "META-INF/native/libnetty_transport_native_io_uring42_x86_64.so", X86_64,
            "META-INF/native/libnetty_transport_native_epoll_aarch_64.so", AARCH64,
            "META-INF/native/libnetty_transport_native_io_uring42_aarch_64.so", AARCH64);

    private static final Path JAR = Path.of(System.getProperty("snigate.jar", "target/snigate.jar"));

    @Test
    void theJarHoldsEveryClaimedNativeBuiltForItsMachineAndNoOther() throws IOException {
        Map<String, Integer> found = new TreeMap<>();
        try (JarFile jar = new JarFile(JAR.toFile())) {
            for (JarEntry entry : jar.stream().toList()) {
                String name = entry.getName();
                if (name.startsWith("META-INF/native/") && !entry.isDirectory()) {
                    found.put(name, elfMachine(name, jar.getInputStream(entry).readNBytes(64)));
                }
            }
        }
        assertThat(found).as("natives in " + JAR).isEqualTo(new TreeMap<>(CLAIMED));
    }

    /** The e_machine of a 64-bit little-endian ELF shared object; fails on anything else. */
    static int elfMachine(String name, byte[] header) {
        assertThat(header).as(name + " ELF magic").startsWith(0x7f, 'E', 'L', 'F');
        ByteBuffer elf = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(elf.get(4)).as(name + " EI_CLASS (2 = 64-bit)").isEqualTo((byte) 2);
        assertThat(elf.get(5)).as(name + " EI_DATA (1 = little-endian)").isEqualTo((byte) 1);
        assertThat(elf.getShort(16)).as(name + " e_type (3 = shared object)").isEqualTo((short) 3);
        return elf.getShort(18) & 0xffff;
    }
}
