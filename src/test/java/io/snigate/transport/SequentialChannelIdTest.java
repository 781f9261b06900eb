package io.snigate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelId;
import io.netty.channel.DefaultChannelId;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The ids of the channels a drain closes: each its own, ordered by when it was made. */
class SequentialChannelIdTest {
    @Test
    void everyIdIsItsOwnAndEqualOnlyToItself() {
        Set<ChannelId> ids = new HashSet<>();
        SequentialChannelId first = SequentialChannelId.next();
        for (int i = 0; i < 10_000; i++) {
            assertThat(ids.add(SequentialChannelId.next())).isTrue();
        }
        assertThat(ids).hasSize(10_000).doesNotContain(first);
        assertThat(first).isEqualTo(first).isNotEqualTo(SequentialChannelId.next());
    }

    @Test
    void laterIdsCompareGreaterAndTextIsTheNumberInHex() {
        SequentialChannelId earlier = SequentialChannelId.next();
        SequentialChannelId later = SequentialChannelId.next();
        assertThat(earlier.compareTo(later)).isNegative();
        assertThat(later.compareTo(earlier)).isPositive();
        assertThat(Long.parseLong(later.asShortText(), 16) - Long.parseLong(earlier.asShortText(), 16)).isEqualTo(1);
        assertThat(later.asLongText()).isEqualTo(later.asShortText());
        ChannelId netty = DefaultChannelId.newInstance();
        assertThat(Integer.signum(earlier.compareTo(netty))).isEqualTo(-Integer.signum(netty.compareTo(earlier)));
    }
}
