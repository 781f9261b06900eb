package io.snigate.preread;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snigate.core.Reason;
import io.snigate.preread.PrereadVerdict.Status;
import org.junit.jupiter.api.Test;

class PrereadVerdictTest {

    @Test
    void rejectionsAreSharedPerReason() {
        for (Reason reason : Reason.values()) {
            assertThat(PrereadVerdict.reject(reason)).isSameAs(PrereadVerdict.reject(reason));
            assertThat(PrereadVerdict.reject(reason).reason()).isEqualTo(reason);
            assertThat(PrereadVerdict.reject(reason).isRejected()).isTrue();
        }
    }

    @Test
    void needMoreCarriesNothing() {
        assertThat(PrereadVerdict.NEED_MORE.status()).isEqualTo(Status.NEED_MORE);
        assertThat(PrereadVerdict.NEED_MORE.needsMore()).isTrue();
        assertThat(PrereadVerdict.NEED_MORE.reason()).isNull();
    }

    @Test
    void completeCarriesNoReason() {
        assertThat(PrereadVerdict.COMPLETE.isComplete()).isTrue();
        assertThat(PrereadVerdict.COMPLETE.reason()).isNull();
    }

    @Test
    void reasonIsGivenExactlyForRejections() {
        assertThatThrownBy(() -> new PrereadVerdict(Status.REJECT, null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PrereadVerdict(Status.COMPLETE, Reason.NO_SNI))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
