package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {

    @Test
    void aWholeNumberWithAUnitIsADuration() {
        assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(Durations.parse("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(Durations.parse("1h")).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void zeroIsAllowedHereAndJudgedByTheSettingThatUsesIt() {
        assertThat(Durations.parse("0s")).isZero();
    }

    @Test
    void aNumberWithoutAUnitIsRefusedRatherThanGuessed() {
        assertThatThrownBy(() -> Durations.parse("10"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("duration \"10\" has no unit; write it like 10s, 500ms, 5m or 1h");
    }

    @Test
    void anUnknownUnitIsNamed() {
        assertThatThrownBy(() -> Durations.parse("10sec"))
                .hasMessage("duration \"10sec\" has an unknown unit \"sec\"; use ms, s, m or h, as in 10s, 500ms, 5m or 1h");
        assertThatThrownBy(() -> Durations.parse("10S"))
                .hasMessage("duration \"10S\" has an unknown unit \"S\"; use ms, s, m or h, as in 10s, 500ms, 5m or 1h");
    }

    @Test
    void fractionsAreRefusedWithTheWayToWriteThem() {
        assertThatThrownBy(() -> Durations.parse("1.5s"))
                .hasMessage("duration \"1.5s\" must be a whole number; use a smaller unit, as in 1500ms");
    }

    @Test
    void negativeCompoundAndEmptyDurationsAreRefused() {
        assertThatThrownBy(() -> Durations.parse("-5s"))
                .hasMessage("duration \"-5s\" must start with a whole number; write it like 10s, 500ms, 5m or 1h");
        assertThatThrownBy(() -> Durations.parse("1m30s"))
                .hasMessageStartingWith("duration \"1m30s\" has an unknown unit \"m30s\"");
        assertThatThrownBy(() -> Durations.parse(""))
                .hasMessage("duration is empty; write it like 10s, 500ms, 5m or 1h");
    }

    @Test
    void valuesBeyondWhatADurationHoldsAreRefused() {
        assertThatThrownBy(() -> Durations.parse("999999999999999999h"))
                .hasMessage("duration \"999999999999999999h\" is too long");
        assertThatThrownBy(() -> Durations.parse("9999999999999999999s"))
                .hasMessage("duration \"9999999999999999999s\" is too long");
    }
}
