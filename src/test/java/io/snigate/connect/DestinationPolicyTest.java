package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.snigate.config.Cidr;
import io.snigate.config.Nat64Prefix;
import io.snigate.core.Reason;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class DestinationPolicyTest {
    /** What a client-chosen ($sni) destination gets from the policy: allowed when no refusal. */
    private static boolean allows(DestinationPolicy policy, InetSocketAddress target, List<Cidr> allowed) {
        return policy.refusal(target, true, allowed) == null;
    }

    private static InetSocketAddress at(String ip, int port) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(ip), port);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "127.0.0.1", "127.8.9.10", "0.0.0.0", "0.1.2.3", "10.1.2.3", "172.16.0.1", "172.31.255.255",
        "192.168.1.1", "100.64.0.1", "100.127.255.255", "169.254.169.254", "224.0.0.1", "239.1.1.1",
        "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "::2", "::ff", "64:ff9b::7f00:1", "64:ff9b::a00:1",
        "192.0.0.170", "198.18.0.1", "198.19.255.254", "64:ff9b:1::a00:1", "100::1",
        // 6to4 and IPv4-translated spellings of private addresses, Teredo, IPv6 benchmarking
        // (each failed before: public)
        "2002:a00:1::1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "::ffff:0:a00:1", "::ffff:0:7f00:1",
        "2001:0:4136:e378:8000:63bf:80ff:fefe", "2001:2::1"
    })
    void refusesNonPublicAddressesInEverySpelling(String ip) throws Exception {
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(), List.of());
        assertThat(allows(policy, at(ip, 443), List.of())).as(ip).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"192.0.2.10", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2001:db8::1",
        "64:ff9b::808:808", "192.0.1.1", "198.17.255.255", "198.20.0.1", "64:ff9b:2::1", "100:0:0:1::1",
        "2002:808:808::1", "2001:3::1", "2001:4860::8888"})
    void allowsPublicAddresses(String ip) throws Exception {
        assertThat(allows(DestinationPolicy.forListeners(List.of(), List.of()), at(ip, 443), List.of())).as(ip).isTrue();
    }

    /**
     * An IPv4-mapped address built from bytes stays an Inet6Address (parsing one gives IPv4): it
     * is still 127.0.0.1, refused, and a loop on a listener's port (failed before: public).
     */
    @Test
    void aMappedAddressBuiltFromBytesIsTheIpv4AddressItCarries() throws Exception {
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 127, 0, 0, 1};
        InetAddress loopback = Inet6Address.getByAddress(null, mapped, 0);
        assertThat(loopback).isInstanceOf(Inet6Address.class);
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(new InetSocketAddress("0.0.0.0", 8443)), List.of());
        assertThat(policy.refusal(new InetSocketAddress(loopback, 443), true, List.of()))
                .isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusal(new InetSocketAddress(loopback, 8443), true, List.of())).isEqualTo(Reason.LOOP_DETECTED);
    }

    @Test
    void aRouteMayOptInToPrivateRanges() throws Exception {
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(), List.of());
        List<Cidr> allowed = List.of(Cidr.parse("10.0.0.0/8"), Cidr.parse("fd00::/8"));
        assertThat(allows(policy, at("10.9.8.7", 443), allowed)).isTrue();
        assertThat(allows(policy, at("fd00::5", 443), allowed)).isTrue();
        assertThat(allows(policy, at("192.168.0.1", 443), allowed)).isFalse();
        assertThat(allows(policy, at("::ffff:10.0.0.1", 443), allowed)).isTrue();
    }

    /**
     * A network's own NAT64 prefix: DNS64 spells a name's private A record (10.0.0.5) as an
     * address inside it, which looks public unless the prefix is known; at each RFC 6052 length
     * the IPv4 address sits in its own place.
     */
    @ParameterizedTest
    @ValueSource(strings = {"2001:db8:64::/96 2001:db8:64::a00:5 2001:db8:64::808:808",
        "2001:db8::/32 2001:db8:a00:5:: 2001:db8:808:808::", "2001:db8:100::/40 2001:db8:10a:0:5:: 2001:db8:108:808:8::",
        "2001:db8:122::/48 2001:db8:122:a00:0:500:: 2001:db8:122:808:8:800::",
        "2001:db8:122:300::/56 2001:db8:122:30a:0:5:: 2001:db8:122:308:8:808::",
        "2001:db8:122:344::/64 2001:db8:122:344:a:0:500:0 2001:db8:122:344:8:808:800:0"})
    void anAddressInsideTheNetworksNat64PrefixIsJudgedAsTheIpv4AddressItCarries(String row) throws Exception {
        String[] cells = row.split(" ");
        List<Nat64Prefix> prefixes = List.of(Nat64Prefix.parse(cells[0]));
        DestinationPolicy unaware = DestinationPolicy.forListeners(List.of(), List.of());
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(), prefixes);
        assertThat(allows(unaware, at(cells[1], 443), List.of())).as("unknown prefix: looks public").isTrue();
        assertThat(policy.refusal(at(cells[1], 443), true, List.of())).as(cells[1] + " is 10.0.0.5")
                .isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(allows(policy, at(cells[1], 443), List.of(Cidr.parse("10.0.0.0/8")))).as("allowed as IPv4").isTrue();
        assertThat(allows(policy, at(cells[2], 443), List.of())).as(cells[2] + " is 8.8.8.8").isTrue();
    }

    @Test
    void aNat64SpellingOfAListenerIsALoop() throws Exception {
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(at("127.0.0.1", 8443)),
                List.of(Nat64Prefix.parse("2001:db8:64::/96")));
        assertThat(policy.refusal(at("2001:db8:64::7f00:1", 8443), false, List.of())).isEqualTo(Reason.LOOP_DETECTED);
    }

    /** RFC 6052's "u" octet (bits 64 to 71) is no part of the IPv4 address, whatever it holds. */
    @Test
    void theReservedOctetOfANat64AddressIsSkipped() throws Exception {
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(),
                List.of(Nat64Prefix.parse("2001:db8:122:344::/64")));
        assertThat(policy.refusal(at("2001:db8:122:344:80a:0:500:0", 443), true, List.of()))
                .as("10.0.0.5 with u = 0x08 (read with it, 8.10.0.0: public)").isEqualTo(Reason.FORBIDDEN_DESTINATION);
    }

    /**
     * An IPv6 range in allow_destinations that holds a NAT64 prefix allows no IPv4 address behind
     * it: the connection goes to the IPv4 address, which alone is judged.
     */
    @Test
    void anIpv6RangeThatHoldsANat64PrefixAllowsNoPrivateIpv4AddressBehindIt() throws Exception {
        DestinationPolicy policy = new DestinationPolicy(List.of(), Set.of(), List.of(Nat64Prefix.parse("fd00:64::/96")));
        assertThat(policy.refusal(at("fd00:64::a9fe:a9fe", 443), true, List.of(Cidr.parse("fd00::/8"))))
                .as("169.254.169.254").isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(DestinationPolicy.forListeners(List.of(), List.of())
                .refusal(at("64:ff9b::a00:5", 443), true, List.of(Cidr.parse("::/0")))).isEqualTo(Reason.FORBIDDEN_DESTINATION);
    }

    /**
     * A listed prefix adds the IPv4 address an address carries to what is judged: the address as
     * written still counts, so the host's own IPv6 address inside a prefix listed too wide is still
     * its own (a loop on a listener's port, forbidden elsewhere).
     */
    @Test
    void anOwnAddressInsideAListedPrefixIsStillThisHosts() throws Exception {
        DestinationPolicy policy = new DestinationPolicy(List.of(at("[::]", 443)), Set.of(address("2001:db8:c633:6407::7")),
                List.of(Nat64Prefix.parse("2001:db8::/32")));
        assertThat(policy.refusal(at("2001:db8:c633:6407::7", 443), false, List.of())).isEqualTo(Reason.LOOP_DETECTED);
        assertThat(policy.refusal(at("2001:db8:c633:6407::7", 22), true, List.of()))
                .isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusal(at("2001:db8:c633:6407::8", 22), true, List.of())).as("a neighbour: 198.51.100.7")
                .isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"2001:db8:64::", "10.0.0.0/8", "2001:db8::/33", "2001:db8:64::1/96", "fe80::/64",
        "ff02::/64", "::/32", "::/64", "::ffff:0:0/96"})
    void aNat64PrefixIsAnIpv6PrefixOfAnRfc6052Length(String text) {
        assertThatThrownBy(() -> Nat64Prefix.parse(text)).isInstanceOf(IllegalArgumentException.class);
    }

    /** An upstream found connected to the host itself, at an address the list made at start lacks. */
    @Test
    void thisHostFoundOnceConnectedIsForbiddenALoopOnAListenersPortOrWithinAnAllowedRange() throws Exception {
        DestinationPolicy policy = new DestinationPolicy(List.of(at("0.0.0.0", 8443), at("[::]", 9443)), Set.of(), List.of());
        assertThat(policy.refusal(at("203.0.113.7", 443), true, List.of())).as("not on the list").isNull();
        assertThat(policy.refusalOfThisHost(at("203.0.113.7", 443), List.of())).isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusalOfThisHost(at("203.0.113.7", 8443), List.of())).isEqualTo(Reason.LOOP_DETECTED);
        assertThat(policy.refusalOfThisHost(at("2001:db8::7", 9443), List.of())).isEqualTo(Reason.LOOP_DETECTED);
        List<Cidr> allowed = List.of(Cidr.parse("203.0.113.0/24"));
        assertThat(policy.refusalOfThisHost(at("203.0.113.7", 443), allowed)).isNull();
        assertThat(policy.refusalOfThisHost(at("203.0.113.7", 8443), allowed)).isEqualTo(Reason.LOOP_DETECTED);
    }

    /**
     * Interfaces that cannot be listed leave the host's own public addresses to the after-connect
     * check: said once, when the policy is built (failed: nothing said), while loopback, private
     * ranges and the listeners stay refused.
     */
    @Test
    void interfacesThatCannotBeListedAreSaidAndTheRestOfThePolicyHolds() throws Exception {
        Logger policyLog = (Logger) LoggerFactory.getLogger(DestinationPolicy.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        policyLog.addAppender(logged);
        DestinationPolicy policy;
        try {
            policy = DestinationPolicy.forListeners(List.of(at("0.0.0.0", 8443)), List.of(), () -> {
                throw new SocketException("netlink refused");
            });
            policy.refusal(at("127.0.0.1", 443), true, List.of());
            policy.refusal(at("203.0.113.7", 443), true, List.of());
        } finally {
            policyLog.detachAppender(logged);
        }
        assertThat(logged.list).singleElement().satisfies(event -> {
            assertThat(event.getLevel().toString()).isEqualTo("WARN");
            assertThat(event.getFormattedMessage()).contains("cannot list this host's network interfaces (netlink refused)")
                    .contains("refused only once its connect shows it is this host");
        });
        assertThat(policy.refusal(at("127.0.0.1", 443), true, List.of())).isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusal(at("10.1.2.3", 443), true, List.of())).isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusal(at("127.0.0.1", 8443), false, List.of())).isEqualTo(Reason.LOOP_DETECTED);
        assertThat(policy.refusalOfThisHost(at("203.0.113.7", 443), List.of())).isEqualTo(Reason.FORBIDDEN_DESTINATION);
    }

    @Test
    void neverDialsItsOwnListenersEvenWhenTheRangeIsAllowed() throws Exception {
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(at("0.0.0.0", 8443), at("127.0.0.1", 9443)), List.of());
        List<Cidr> loopback = List.of(Cidr.parse("127.0.0.0/8"));
        assertThat(allows(policy, at("127.0.0.1", 8443), loopback)).isFalse();
        assertThat(allows(policy, at("127.0.0.1", 9443), loopback)).isFalse();
        assertThat(allows(policy, at("::ffff:127.0.0.1", 9443), loopback)).isFalse();
        assertThat(allows(policy, at("127.0.0.1", 9444), loopback)).isTrue();
        assertThat(policy.isOwnListener(at("127.0.0.2", 8443))).isTrue();
        assertThat(policy.refusal(at("127.0.0.1", 8443), true, loopback)).isEqualTo(Reason.LOOP_DETECTED);
        assertThat(policy.refusal(at("127.0.0.1", 8443), false, List.of())).isEqualTo(Reason.LOOP_DETECTED);
        assertThat(policy.refusal(at("10.1.2.3", 443), false, List.of())).as("written in the config: trusted").isNull();
    }

    /**
     * The IPv6 loopback is the loopback, not the IPv4-compatible spelling of 0.0.0.1 (failed
     * before: {@code [::1]} on a listener's port was dialed, one connection became thousands of
     * the proxy to itself, and {@code ::1/128} in allow_destinations allowed nothing).
     */
    @Test
    void theIpv6LoopbackOnAListenersPortIsALoop() throws Exception {
        DestinationPolicy policy = DestinationPolicy.forListeners(List.of(at("[::]", 8443), at("[::1]", 9443)), List.of());
        assertThat(policy.isOwnListener(at("[::1]", 8443))).as("the wildcard's").isTrue();
        assertThat(policy.isOwnListener(at("[::1]", 9443))).as("the listener's own address").isTrue();
        assertThat(policy.refusal(at("[::1]", 8443), false, List.of())).isEqualTo(Reason.LOOP_DETECTED);
        assertThat(policy.refusal(at("[::1]", 9444), true, List.of())).isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusal(at("[::1]", 9444), true, List.of(Cidr.parse("::1/128")))).isNull();
        assertThat(policy.refusal(at("[::127.0.0.1]", 8443), false, List.of())).as("IPv4-compatible, as before")
                .isEqualTo(Reason.LOOP_DETECTED);
    }

    @Test
    void theHostsOwnPublicAddressesAreForbiddenUnlessARouteAllowsThem() throws Exception {
        DestinationPolicy policy = new DestinationPolicy(List.of(at("0.0.0.0", 443)),
                Set.of(address("198.51.100.7"), address("2001:db8:5::7")), List.of());
        assertThat(policy.refusal(at("198.51.100.7", 22), true, List.of())).isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusal(at("2001:db8:5::7", 6443), true, List.of())).isEqualTo(Reason.FORBIDDEN_DESTINATION);
        assertThat(policy.refusal(at("198.51.100.8", 22), true, List.of())).as("a neighbour").isNull();
        assertThat(policy.refusal(at("198.51.100.7", 22), true, List.of(Cidr.parse("198.51.100.7"))))
                .as("listed in allow_destinations").isNull();
        assertThat(policy.refusal(at("198.51.100.7", 22), false, List.of())).as("written in the config: trusted").isNull();
        assertThat(policy.refusal(at("198.51.100.7", 443), true, List.of(Cidr.parse("198.51.100.7"))))
                .isEqualTo(Reason.LOOP_DETECTED);
    }

    @Test
    void parsesRanges() {
        assertThat(Cidr.parse("10.0.0.0/8").contains(address("10.255.0.1"))).isTrue();
        assertThat(Cidr.parse("10.0.0.1").contains(address("10.0.0.2"))).isFalse();
        assertThat(Cidr.parse("0.0.0.0/0").contains(address("203.0.113.9"))).isTrue();
        assertThat(Cidr.parse("0.0.0.0/0").contains(address("2001:db8::1"))).isFalse();
        Cidr mapped = Cidr.parse("::ffff:10.1.66.0/120");
        assertThat(mapped.contains(address("10.1.66.7"))).as("the IPv4 range it spells").isTrue();
        assertThat(mapped.contains(address("10.1.67.7"))).isFalse();
        assertThat(mapped).isEqualTo(Cidr.parse("10.1.66.0/24"));
        assertThat(Cidr.parse("::ffff:10.1.66.7").contains(address("10.1.66.7"))).isTrue();
        assertThatThrownBy(() -> Cidr.parse("fe80::1%eth0")).hasMessage(
                "\"fe80::1%eth0\" has a zone (%...), which a range cannot hold; write the range alone, like fe80::/10");
        assertThatThrownBy(() -> Cidr.parse("::ffff:0:0/80")).hasMessage(
                "an IPv4-mapped range needs a prefix length of at least 96; write the IPv4 range itself, like 10.0.0.0/8");
    }

    private static InetAddress address(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }
}
