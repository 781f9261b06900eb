package io.snigate.core;

import java.util.Locale;

/**
 * The verdict on a {@code $original_dst} upstream, as the access log's {@code dst_check} field
 * writes it: whether the address the client dialed belongs to the name it sent.
 */
public enum DestinationCheck {
    /** The address is among those the proxy's resolver returns for the SNI: dialed. */
    MATCH,
    /** It is not: refused with {@link Reason#SNI_DESTINATION_MISMATCH}. */
    MISMATCH,
    /** The route has {@code verify_destination: false}: dialed as the client chose it, unverified. */
    SKIPPED;

    private final String label = name().toLowerCase(Locale.ROOT);

    public String label() {
        return label;
    }
}
