package io.snigate.config;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

/**
 * Reads {@code listen:} and {@code admin:}: the addresses this host binds, and for each listener
 * how it finds where clients were going, the PROXY header it requires, and which clients it admits.
 */
final class ListenersReader {
    static final List<String> LISTENER_KEYS = List.of("address", "original_dst", "proxy_protocol", "clients");
    static final List<String> PROXY_PROTOCOL_KEYS = List.of("trusted", "timeout");

    private final YamlNodes nodes;
    private final PolicyReader policyReader;

    ListenersReader(YamlNodes nodes, PolicyReader policyReader) {
        this.nodes = nodes;
        this.policyReader = policyReader;
    }

    List<Listener> readListen(Node node) throws ConfigException {
        List<Node> items = nodes.listOrSingle(node, "listen", "\"host:port\" addresses or listeners");
        if (items.isEmpty()) {
            throw nodes.error(node, "listen has no address; add at least one, e.g. \"0.0.0.0:443\"");
        }
        List<Listener> listeners = new ArrayList<>();
        Map<InetSocketAddress, Integer> seen = new HashMap<>();
        for (Node item : items) {
            Listener listener = item instanceof MappingNode mapping ? readListener(mapping) : readPlainListener(item);
            Integer first = seen.putIfAbsent(listener.address().toResolvedLiteral(), listener.line());
            if (first != null) {
                throw nodes.error(item, "listen address \"" + listener.name() + "\" is listed twice (first at line "
                        + first + "); remove one");
            }
            listeners.add(listener);
        }
        return listeners;
    }

    /**
     * Listeners where one binds a wildcard and the other an address in it, on one port, and that
     * treat a connection differently: the kernel gives a connection to that address to the more
     * specific one, under its rules, not the wildcard's. That is how nginx's per-address listens
     * work too, so it is said, not refused: one line each, "specific (line) ... wildcard (line)".
     */
    public static List<String> narrowerListenersWithOtherRules(List<Listener> listeners) {
        List<String> said = new ArrayList<>();
        for (Listener wildcard : listeners) {
            for (Listener specific : listeners) {
                InetSocketAddress wide = wildcard.address().toResolvedLiteral();
                InetSocketAddress narrow = specific.address().toResolvedLiteral();
                if (wide.getPort() != 0 && wide.getPort() == narrow.getPort() && !narrow.getAddress().isAnyLocalAddress()
                        && holds(wide, narrow) && !sameRules(wildcard, specific)) {
                    said.add("listen " + specific.name() + " (line " + specific.line() + ") takes the connections to its"
                            + " address that " + wildcard.name() + " (line " + wildcard.line() + ") would otherwise take,"
                            + " under its own clients, original_dst and proxy_protocol, which differ from the wider one's");
                }
            }
        }
        return said;
    }

    /** Whether two listeners treat a connection alike, whichever of them the kernel gives it to. */
    private static boolean sameRules(Listener a, Listener b) {
        return a.originalDst() == b.originalDst() && Objects.equals(a.proxyProtocol(), b.proxyProtocol())
                && a.clients().equals(b.clients());
    }

    private Listener readPlainListener(Node item) throws ConfigException {
        return Listener.plain(localAddress(item, "listen address"), YamlNodes.line(item));
    }

    /** The object form: {@code { address: "0.0.0.0:15001", original_dst: redirect }}. */
    private Listener readListener(MappingNode mapping) throws ConfigException {
        Map<String, NodeTuple> keys = nodes.keys(mapping, "in a listener", LISTENER_KEYS);
        Node addressNode = YamlNodes.value(keys, "address");
        if (addressNode == null) {
            throw nodes.error(mapping, "this listener has no address; add address: \"0.0.0.0:443\"");
        }
        HostPort address = localAddress(addressNode, "listen address");
        Node modeNode = YamlNodes.value(keys, "original_dst");
        Listener.OriginalDst mode = modeNode == null ? Listener.OriginalDst.NONE : readOriginalDst(modeNode);
        Node proxyNode = YamlNodes.value(keys, "proxy_protocol");
        Listener.ProxyProtocol proxyProtocol = null;
        if (proxyNode != null) {
            if (mode != Listener.OriginalDst.NONE) {
                throw nodes.error(proxyNode, "a listener takes either original_dst or proxy_protocol, not both;"
                        + " give each its own address");
            }
            proxyProtocol = readProxyProtocol(proxyNode);
        }
        Node clientsNode = YamlNodes.value(keys, "clients");
        ClientRules clients = clientsNode == null ? ClientRules.ANYONE : policyReader.clients(clientsNode);
        return new Listener(address, mode, proxyProtocol, clients, YamlNodes.line(addressNode));
    }

    private Listener.ProxyProtocol readProxyProtocol(Node node) throws ConfigException {
        Map<String, NodeTuple> keys = nodes.keys(nodes.mapping(node, "proxy_protocol",
                "trusted: [\"10.0.0.0/8\"], timeout: 5s"), "in proxy_protocol", PROXY_PROTOCOL_KEYS);
        Node trustedNode = YamlNodes.value(keys, "trusted");
        if (trustedNode == null) {
            throw nodes.error(node, "proxy_protocol needs trusted: the addresses of the balancers that send the"
                    + " header, e.g. trusted: [\"10.0.0.0/8\"]; anyone else could claim any client address");
        }
        List<Cidr> trusted = new ArrayList<>();
        for (Node item : nodes.listOrSingle(trustedNode, "trusted", "address ranges like \"10.0.0.0/8\"")) {
            trusted.add(nodes.parsed(item, "trusted", Cidr::parse));
        }
        if (trusted.isEmpty()) {
            throw nodes.error(trustedNode, "trusted is empty, so no balancer could connect; list their addresses");
        }
        Node timeoutNode = YamlNodes.value(keys, "timeout");
        return new Listener.ProxyProtocol(trusted, timeoutNode == null
                ? Listener.DEFAULT_PROXY_PROTOCOL_TIMEOUT
                : nodes.duration(timeoutNode, "proxy_protocol.timeout", true, Timeouts.MAX_WAIT));
    }

    private Listener.OriginalDst readOriginalDst(Node node) throws ConfigException {
        String text = nodes.text(node, "original_dst");
        for (Listener.OriginalDst mode : Listener.OriginalDst.values()) {
            if (mode.label().equals(text)) {
                return mode;
            }
        }
        throw nodes.error(node, "original_dst \"" + text + "\" must be none, redirect (iptables/nftables"
                + " REDIRECT or DNAT) or tproxy (TPROXY)");
    }

    HostPort readAdmin(Node node, List<Listener> listeners) throws ConfigException {
        HostPort admin = localAddress(node, "admin address");
        for (Listener listener : listeners) {
            if (admin.port() != 0 && overlap(listener.address().toResolvedLiteral(), admin.toResolvedLiteral())) {
                throw nodes.error(node, "admin address \"" + admin + "\" is also a listen address (line "
                        + listener.line() + "); give the admin endpoint its own port");
            }
        }
        return admin;
    }

    /**
     * Whether two bound addresses take the same connections: equal, or one a wildcard whose
     * family holds the other ({@code [::]} holds IPv4 too, on a dual-stack host). With
     * {@code SO_REUSEPORT} both would bind, and the more specific would take what the other meant.
     */
    private static boolean overlap(InetSocketAddress a, InetSocketAddress b) {
        return a.getPort() == b.getPort() && (a.equals(b) || holds(a, b) || holds(b, a));
    }

    private static boolean holds(InetSocketAddress wildcard, InetSocketAddress other) {
        return wildcard.getAddress().isAnyLocalAddress()
                && (wildcard.getAddress() instanceof Inet6Address || other.getAddress() instanceof Inet4Address);
    }

    /** An address this host binds: it must be an IP literal, as names would need DNS to bind. */
    private HostPort localAddress(Node node, String what) throws ConfigException {
        HostPort address = nodes.parsed(node, what, HostPort::parseBindable);
        if (!address.isIpLiteral()) {
            throw nodes.error(node, what + " \"" + nodes.text(node, what) + "\": the host must be an IP address"
                    + " such as 0.0.0.0, 127.0.0.1 or [::]; names are not looked up for listening");
        }
        return address;
    }
}
