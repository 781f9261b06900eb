package io.snigate.handover;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The start-up check of {@code net.ipv4.tcp_migrate_req}, on files shaped like procfs's. */
class RequestMigrationTest {
    @TempDir
    Path dir;

    @Test
    void oneIsFine() throws IOException {
        assertThat(RequestMigration.problem(Files.writeString(dir.resolve("on"), "1\n"))).isEmpty();
    }

    @Test
    void zeroIsReportedWithItsValue() throws IOException {
        assertThat(RequestMigration.problem(Files.writeString(dir.resolve("off"), "0\n")))
                .hasValue("net.ipv4.tcp_migrate_req is 0");
    }

    @Test
    void aKernelWithoutTheSettingIsReportedAsSuch() {
        assertThat(RequestMigration.problem(dir.resolve("absent")).orElseThrow())
                .contains("absent cannot be read (NoSuchFileException; Linux before 5.14 has no such setting)");
    }

    @Test
    void theRealSettingIsReadFromProcfs() throws IOException {
        String value = Files.readString(RequestMigration.SETTING).trim();
        assertThat(RequestMigration.problem(RequestMigration.SETTING).isEmpty()).isEqualTo(value.equals("1"));
    }
}
