package io.snigate.config;

import io.snigate.core.Addresses;
import java.net.InetAddress;
import java.util.List;

/**
 * Which client addresses may use a listener or a route ({@code clients: { allow: [...], deny: [...] }}).
 * A client in a {@code deny} range is refused even when an {@code allow} range holds it; without
 * {@code allow}, every client not denied is admitted.
 *
 * <p>IPv4 and IPv6 ranges are separate: {@code 0.0.0.0/0} holds no IPv6 client. An IPv4-mapped
 * IPv6 client ({@code ::ffff:10.1.2.3}, as a dual-stack listener sees IPv4 clients) is matched as
 * the IPv4 address it carries.
 *
 * @param allow the ranges admitted; empty means every client
 * @param deny the ranges refused, whatever {@code allow} says
 */
public record ClientRules(List<Cidr> allow, List<Cidr> deny) {
    /** No rules: every client is admitted. */
    public static final ClientRules ANYONE = new ClientRules(List.of(), List.of());

    public ClientRules {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
    }

    /** Whether a client at {@code address} is admitted. */
    public boolean admits(InetAddress address) {
        if (this == ANYONE) {
            return true;
        }
        InetAddress client = Addresses.unmapped(address);
        if (inAny(deny, client)) {
            return false;
        }
        return allow.isEmpty() || inAny(allow, client);
    }

    /** Whether these rules refuse anyone at all. */
    public boolean restricts() {
        return !allow.isEmpty() || !deny.isEmpty();
    }

    private static boolean inAny(List<Cidr> ranges, InetAddress address) {
        for (int i = 0; i < ranges.size(); i++) {
            if (ranges.get(i).contains(address)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "allow " + (allow.isEmpty() ? "any" : allow) + ", deny " + deny;
    }
}
