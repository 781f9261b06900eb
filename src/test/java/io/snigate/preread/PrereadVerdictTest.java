package io.snigate.preread;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snigate.core.Reason;
import io.snigate.preread.PrereadVerdict.Status;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PrereadVerdictTest {

    private static final ClientHello HELLO = new ClientHello("a.example", List.of("h2"), 0x0304, false, 0x0301);

    @Test
    void bareRejectionsAreSharedPerReason() {
        assertThat(PrereadVerdict.reject(Reason.NOT_TLS)).isSameAs(PrereadVerdict.reject(Reason.NOT_TLS));
        assertThat(PrereadVerdict.reject(Reason.NOT_TLS).reason()).isEqualTo(Reason.NOT_TLS);
        assertThat(PrereadVerdict.reject(Reason.NOT_TLS).isRejected()).isTrue();
    }

    @Test
    void needMoreCarriesNothing() {
        assertThat(PrereadVerdict.NEED_MORE.status()).isEqualTo(Status.NEED_MORE);
        assertThat(PrereadVerdict.NEED_MORE.needsMore()).isTrue();
        assertThat(PrereadVerdict.NEED_MORE.reason()).isNull();
        assertThat(PrereadVerdict.NEED_MORE.hello()).isNull();
    }

    @Test
    void invalidSniKeepsTheRawNameForTheLog() {
        PrereadVerdict verdict = PrereadVerdict.invalidSni("bad\\x00name", HELLO);

        assertThat(verdict.reason()).isEqualTo(Reason.INVALID_SNI);
        assertThat(verdict.rawSni()).isEqualTo("bad\\x00name");
    }

    @Test
    void completeNeedsAHelloWithAName() {
        assertThat(PrereadVerdict.complete(HELLO).isComplete()).isTrue();
        assertThatThrownBy(() -> PrereadVerdict.complete(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PrereadVerdict.complete(new ClientHello(null, null, 0x0303, false, 0x0301)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void reasonIsGivenExactlyForRejections() {
        assertThatThrownBy(() -> new PrereadVerdict(Status.REJECT, null, null, null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PrereadVerdict(Status.COMPLETE, Reason.NO_SNI, HELLO, null))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void helloCopiesAlpnIntoAnImmutableList() {
        List<String> protocols = new ArrayList<>(List.of("h2"));
        ClientHello hello = new ClientHello("a.example", protocols, 0x0304, false, 0x0301);
        protocols.add("http/1.1");

        assertThat(hello.alpn()).containsExactly("h2");
        assertThatThrownBy(() -> hello.alpn().add("x")).isInstanceOf(UnsupportedOperationException.class);
    }
}
