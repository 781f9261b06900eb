package io.snigate.connect;

import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.resolver.dns.DnsErrorCauseException;
import io.netty.resolver.dns.DnsNameResolverTimeoutException;
import io.snigate.core.OncePerSecond;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says on standard error, at most once a second, when a lookup failed for the resolvers' sake: no
 * answer in time, or an error answer (SERVFAIL, REFUSED). A name that does not exist (NXDOMAIN,
 * or no address) is the name's trouble, often a client's on a {@code $sni} route, and the access
 * log's {@code dns_failure} line with its {@code sni} says enough; a resolver's trouble is every
 * lookup's, and without this line looks the same in the log.
 */
final class DnsTrouble {
    private static final Logger LOG = LoggerFactory.getLogger(DnsTrouble.class);
    private final OncePerSecond due = new OncePerSecond();

    /** A lookup of {@code host} ended for {@code cause}; null: the connect budget ran out first. */
    void lookupFailed(String host, Throwable cause) {
        String trouble = cause == null ? "no answer within the connect timeout" : resolversTrouble(cause);
        if (trouble == null) {
            return;
        }
        if (due.due()) {
            LOG.warn("DNS lookup of {} failed: {}; the resolvers (resolvers: in the config, else /etc/resolv.conf)"
                    + " may be down: such connections end as dns_failure", host, trouble);
        }
    }

    /** An error answer's name, as dig writes it. */
    private static String rcode(int code) {
        return switch (code) {
            case 1 -> "FORMERR";
            case 2 -> "SERVFAIL";
            case 4 -> "NOTIMP";
            case 5 -> "REFUSED";
            default -> "RCODE " + code;
        };
    }

    /** What the resolvers did wrong, or null when the name is the trouble. */
    static String resolversTrouble(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof DnsNameResolverTimeoutException) {
                return "no answer in time";
            }
            if (cause instanceof DnsErrorCauseException error && !DnsResponseCode.NXDOMAIN.equals(error.getCode())) {
                return "the resolver answered " + rcode(error.getCode().intValue());
            }
        }
        return null;
    }
}
