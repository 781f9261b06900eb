package io.snigate.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class OncePerSecondTest {
    private static final long MILLI = TimeUnit.MILLISECONDS.toNanos(1);

    @Test
    void dueTheFirstTimeThenOnceASecond() {
        AtomicLong now = new AtomicLong(5_000 * MILLI);
        OncePerSecond gate = new OncePerSecond(now::get);
        assertThat(gate.due()).isTrue();
        assertThat(gate.due()).as("the same moment").isFalse();
        now.addAndGet(999 * MILLI);
        assertThat(gate.due()).isFalse();
        now.addAndGet(MILLI);
        assertThat(gate.due()).as("a second on").isTrue();
        assertThat(gate.due()).isFalse();
    }
}
