package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DescriptorLimitTest {
    @Test
    void aLimitUnderTwoDescriptorsAConnectionIsSaidWithWhatToDo() {
        assertThat(DescriptorLimit.warning(1024, 10_000)).isEqualTo("the open-file limit (1024) is under what"
                + " limits.max_connections (10000) needs, two a connection and 100 more (20100): descriptors run out"
                + " first, and then accepts fail and upstream connections end as connection_limit; raise LimitNOFILE"
                + " or ulimit -n, or lower max_connections to 462");
    }

    /** A limit under the reserve fits no connection: lowering max_connections cannot help (failed: "lower max_connections to 1"). */
    @Test
    void aLimitUnderTheReserveIsToldOnlyToRise() {
        assertThat(DescriptorLimit.warning(64, 10_000)).endsWith("connection_limit; raise LimitNOFILE or ulimit -n");
        assertThat(DescriptorLimit.warning(101, 10_000)).endsWith("connection_limit; raise LimitNOFILE or ulimit -n");
        assertThat(DescriptorLimit.warning(102, 10_000)).endsWith("raise LimitNOFILE or ulimit -n, or lower max_connections to 1");
    }

    @Test
    void enoughOrUnknownIsNotSaid() {
        assertThat(DescriptorLimit.warning(20_100, 10_000)).isNull();
        assertThat(DescriptorLimit.warning(1_048_576, 10_000)).isNull();
        assertThat(DescriptorLimit.warning(-1, 10_000)).as("unknown").isNull();
    }
}
