// virNetworkDefParseXML and its <ip>, <dns> and <forward> helpers
// (libvirt 9.0 network_conf.c). Checks run in libvirt's order, since the
// first failure is what virsh shows. Where libvirt reads a value through
// virXPathString an empty string counts as absent; through virXMLPropString
// it does not — both are kept apart here on purpose.
#include "conf/network_def_detail.hpp"
#include "conf/schema.hpp"

namespace splitvirt::conf {

namespace {

using namespace netdef_detail;

// virXPathString("string(./elem[1]/@attr)"): nullopt when absent or empty.
std::optional<std::string> xpathAttr(XmlNode node, std::string_view attr) {
  auto v = node.attr(attr);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

Tristate toTristate(std::optional<bool> b) {
  if (!b) return Tristate::Absent;
  return *b ? Tristate::Yes : Tristate::No;
}

// virXMLPropTristateBool (yes/no; errors in VIR_FROM_XML).
Result<Tristate> propTristate(XmlNode node, std::string_view attr) {
  std::optional<bool> b;
  SV_TRY_ASSIGN(b, propYesNo(node, attr));
  return toTristate(b);
}

std::string modeName(NetForwardMode m) { return std::string(netForwardModeName(m)); }

// virNetworkDHCPDefParseXML
Result<void> parseDhcp(XmlNode dhcp, NetIpDef& ip, std::string_view net) {
  for (XmlNode c : dhcp.children()) {
    if (c.name() == "range") {
      DhcpRange range;
      SV_TRY_ASSIGN(range, parseDhcpRange(c, ip, net));
      ip.ranges.push_back(std::move(range));
    } else if (c.name() == "host") {
      DhcpHost host;
      SV_TRY_ASSIGN(host, parseDhcpHost(c, ip, net, false));
      ip.hosts.push_back(std::move(host));
    } else if (c.name() == "bootp" && ip.address.isV4()) {
      auto file = c.attr("file");
      if (!file) continue;
      IpAddr server;
      if (auto s = c.attr("server")) SV_TRY_ASSIGN(server, parseSocketAddr(*s));
      ip.bootFile = std::move(file);
      ip.bootServer = server;
    }
  }
  return {};
}

// virNetworkIPDefParseXML
Result<NetIpDef> parseIp(XmlNode node, std::string_view net) {
  NetIpDef ip;
  ip.familyAttr = xpathAttr(node, "family");
  auto address = xpathAttr(node, "address");
  if (!address) return xmlErr("Missing required address attribute in network " + q(net));
  auto addr = parseSocketAddr(*address);
  if (!addr) return xmlErr("Invalid address " + q(*address) + " in network " + q(net));
  ip.address = *addr;
  auto netmask = xpathAttr(node, "netmask");
  if (netmask) {
    auto m = parseSocketAddr(*netmask);
    if (!m) return xmlErr("Invalid netmask " + q(*netmask) + " in network " + q(net));
    ip.netmask = *m;
  }
  std::optional<unsigned> prefix;
  SV_TRY_ASSIGN(prefix, propUInt(node, "prefix", 10));
  // libvirt's prefix 0 means "not given".
  if (prefix && *prefix > 0) ip.prefix = prefix;
  SV_TRY_ASSIGN(ip.localPtr, propTristate(node, "localPtr"));
  const unsigned pfx = ip.prefix.value_or(0);

  if (!ip.familyAttr || *ip.familyAttr == "ipv4") {
    if (!ip.address.isV4())
      return unsupportedErr(std::string(ip.familyAttr ? "ipv4" : "no") + " family specified for non-IPv4 address " +
                            q(*address) + " in network " + q(net));
    if (netmask) {
      if (!ip.netmask->isV4())
        return unsupportedErr("Invalid netmask " + q(*netmask) + " for address " + q(*address) + " in network " +
                              q(net) + " (both must be IPv4)");
      if (pfx > 0)
        return unsupportedErr("Network " + q(net) + " IP address cannot have both a prefix and a netmask");
    } else if (pfx > 32) {
      return unsupportedErr("Invalid IPv4 prefix '" + std::to_string(pfx) + "' in network " + q(net));
    }
  } else if (*ip.familyAttr == "ipv6") {
    if (!ip.address.isV6())
      return unsupportedErr("Family 'ipv6' specified for non-IPv6 address " + q(*address) + " in network " + q(net));
    if (netmask)
      return unsupportedErr("netmask not allowed for IPv6 address " + q(*address) + " in network " + q(net));
    if (pfx > 128) return unsupportedErr("Invalid IPv6 prefix '" + std::to_string(pfx) + "' in network " + q(net));
  } else {
    return xmlErr("Unrecognized family " + q(*ip.familyAttr) + " in network " + q(net));
  }

  if (XmlNode dhcp = node.child("dhcp")) SV_TRY_VOID(parseDhcp(dhcp, ip, net));
  if (XmlNode tftp = node.child("tftp")) {
    if (!ip.address.isV4())
      return unsupportedErr("Unsupported <tftp> element in an IPv6 element in network " + q(net));
    ip.tftpRoot = xpathAttr(tftp, "root");
  }
  return ip;
}

// virNetworkDNSDefParseXML
Result<NetDns> parseDns(XmlNode node, std::string_view net) {
  NetDns dns;
  SV_TRY_ASSIGN(dns.enable, propTristate(node, "enable"));
  SV_TRY_ASSIGN(dns.forwardPlainNames, propTristate(node, "forwardPlainNames"));
  for (XmlNode f : node.children("forwarder")) {
    DnsForwarder fwd;
    auto addr = f.attr("addr");
    if (addr) {
      auto a = parseSocketAddr(*addr);
      if (!a) return xmlErr("Invalid forwarder IP address " + q(*addr) + " in network " + q(net));
      fwd.addr = *a;
    }
    fwd.domain = f.attr("domain");
    if (!addr && !fwd.domain) return xmlErr("Invalid forwarder element, must contain at least one of addr or domain");
    dns.forwarders.push_back(std::move(fwd));
  }
  for (XmlNode h : node.children("host")) {
    DnsHost host;
    SV_TRY_ASSIGN(host, parseDnsHost(h, net, false));
    dns.hosts.push_back(std::move(host));
  }
  for (XmlNode s : node.children("srv")) {
    DnsSrv srv;
    SV_TRY_ASSIGN(srv, parseDnsSrv(s, net, false));
    dns.srvs.push_back(std::move(srv));
  }
  for (XmlNode t : node.children("txt")) {
    DnsTxt txt;
    SV_TRY_ASSIGN(txt, parseDnsTxt(t, net, false));
    dns.txts.push_back(std::move(txt));
  }
  if (dns.enable == Tristate::No &&
      (!dns.forwarders.empty() || !dns.hosts.empty() || !dns.srvs.empty() || !dns.txts.empty()))
    return xmlErr("Extra data in disabled network " + q(net));
  return dns;
}

// virNetworkForwardNatDefParseXML
Result<void> parseNat(XmlNode node, NetForward& fwd, std::string_view net) {
  const std::string n(net);
  if (fwd.mode != NetForwardMode::Nat)
    return xmlErr("The <nat> element can only be used when <forward> 'mode' is 'nat' in network " + n);
  SV_TRY_ASSIGN(fwd.natIpv6, propTristate(node, "ipv6"));
  auto addrs = node.children("address");
  if (addrs.size() > 1) return xmlErr("Only one <address> element is allowed in <nat> in <forward> in network " + n);
  std::optional<std::string> start, end;
  if (addrs.size() == 1) {
    start = addrs[0].attr("start");
    if (!start) return xmlErr("missing 'start' attribute in <address> element in <nat> in <forward> in network " + n);
    end = addrs[0].attr("end");
    if (!end) return xmlErr("missing 'end' attribute in <address> element in <nat> in <forward> in network " + n);
  }
  if (start) {
    auto a = parseSocketAddr(*start, IpAddr::Family::V4);
    if (!a) return xmlErr("Bad ipv4 start address " + q(*start) + " in <nat> in <forward> in network " + q(net));
    fwd.natAddrStart = *a;
  }
  if (end) {
    auto a = parseSocketAddr(*end, IpAddr::Family::V4);
    if (!a) return xmlErr("Bad ipv4 end address " + q(*end) + " in <nat> in <forward> in network " + q(net));
    fwd.natAddrEnd = *a;
  }
  if (start && end) SV_TRY_VOID(checkAddrRange(fwd.natAddrStart, fwd.natAddrEnd));

  auto ports = node.children("port");
  if (ports.size() > 1) return xmlErr("Only one <port> element is allowed in <nat> in <forward> in network " + n);
  if (ports.size() == 1) {
    auto portValue = [&](std::string_view attr) -> std::optional<unsigned> {
      auto v = ports[0].attr(attr);
      if (!v || v->empty()) return std::nullopt;
      return strToUIntp(*v);
    };
    auto s = portValue("start");
    if (!s || *s > 65535)
      return detailErr("Missing or invalid 'start' attribute in <port> in <nat> in <forward> in network " + n);
    fwd.natPortStart = *s;
    auto e = portValue("end");
    if (!e || *e > 65535 || *e < *s)
      return detailErr("Missing or invalid 'end' attribute in <port> in <nat> in <forward> in network " + n);
    fwd.natPortEnd = *e;
  }
  return {};
}

// virNetworkForwardDefParseXML
Result<NetForward> parseForward(XmlNode node, std::string_view net) {
  const std::string n(net);
  NetForward fwd;
  if (auto mode = xpathAttr(node, "mode")) {
    auto m = netForwardModeFromName(*mode);
    if (!m) return unsupportedErr("unknown forwarding type " + q(*mode));
    fwd.mode = *m;
  } else {
    fwd.mode = NetForwardMode::Nat;
  }
  if (auto managed = xpathAttr(node, "managed")) {
    std::string lower;
    for (char c : *managed) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    fwd.managed = lower == "yes";
  }
  if (auto driver = xpathAttr(node.child("driver"), "name")) {
    if (*driver != "kvm" && *driver != "vfio")
      return unsupportedErr("Unknown forward <driver name=" + q(*driver) + "/> in network " + n);
    fwd.driverName = driver;
  }
  auto ifaces = node.children("interface");
  auto addrs = node.children("address");
  auto pfs = node.children("pf");
  auto nats = node.children("nat");
  if (nats.size() > 1) return xmlErr("Only one <nat> element is allowed in <forward> of network " + n);
  if (nats.size() == 1) SV_TRY_VOID(parseNat(nats[0], fwd, net));

  auto dev = xpathAttr(node, "dev");
  // libvirt's message leaves its "%s" unformatted.
  if (dev && (!addrs.empty() || !pfs.empty()))
    return xmlErr("the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in "
                  "network %s");

  if (!ifaces.empty() || dev) {
    if (dev) fwd.interfaces.push_back(*dev);
    for (size_t i = 0; i < ifaces.size(); i++) {
      auto d = ifaces[i].attr("dev");
      if (!d) return xmlErr("Missing required dev attribute in <forward> <interface> element of network " + n);
      if (i == 0 && dev) {
        // <forward dev='x'> and a first <interface dev='x'/> name one device.
        if (*d != *dev)
          return xmlErr("<forward dev=" + q(*dev) + "> must match first <interface dev=" + q(*d) + "/> in network " + n);
        continue;
      }
      for (const auto& prev : fwd.interfaces)
        if (prev == *d) return xmlErr("interface " + q(*d) + " can only be listed once in network " + n);
      fwd.interfaces.push_back(*d);
    }
    fwd.dev = fwd.interfaces.front();
  } else if (!addrs.empty()) {
    for (XmlNode a : addrs) {
      auto type = a.attr("type");
      if (!type) return xmlErr("missing address type in network " + n);
      if (*type != "none" && *type != "pci" && *type != "netdev")
        return unsupportedErr("unknown address type " + q(*type) + " in network " + n);
      if (*type != "pci") return xmlErr("unsupported address type " + q(*type) + " in network " + n);
      fwd.pciAddrCount++;
    }
  } else if (pfs.size() > 1) {
    return xmlErr("Only one <pf> element is allowed in <forward> of network " + n);
  } else if (pfs.size() == 1) {
    auto d = pfs[0].attr("dev");
    if (!d) return xmlErr("Missing required dev attribute in <pf> element of network " + q(net));
    fwd.pfDev = d;
  }
  return fwd;
}

// The forward-mode dependent checks at the end of virNetworkDefParseXML.
Result<void> checkForwardMode(const NetworkDef& def, bool stpGiven) {
  const NetForward& fwd = def.forward;
  const std::string mode = modeName(fwd.mode);
  const std::string net = q(def.name);
  const size_t nifs = fwd.interfaces.size() + fwd.pciAddrCount;
  switch (fwd.mode) {
    case NetForwardMode::None: break;
    case NetForwardMode::Route:
    case NetForwardMode::Nat:
    case NetForwardMode::Open:
      if (def.ips.empty())
        return xmlErr(mode + " forwarding requested, but no IP address provided for network " + net);
      if (nifs > 1)
        return xmlErr("multiple forwarding interfaces specified for network " + net + ", only one is supported");
      if (fwd.mode == NetForwardMode::Open && nifs)
        return xmlErr("forward dev not allowed for network " + net + " with forward mode='" + mode + "'");
      break;
    case NetForwardMode::Private:
    case NetForwardMode::Vepa:
    case NetForwardMode::Passthrough:
    case NetForwardMode::Hostdev:
      if (def.bridge) return xmlErr("bridge name not allowed in " + mode + " mode (network " + net + ")");
      if (def.bridgeZone) return xmlErr("bridge zone not allowed in " + mode + " mode (network " + net + ")");
      if (def.macTableManager)
        return xmlErr("bridge macTableManager setting not allowed in " + mode + " mode (network " + net + ")");
      [[fallthrough]];
    case NetForwardMode::Bridge:
      if (def.delay || stpGiven || def.bridgeZone)
        return xmlErr("bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in " + mode +
                      " (network " + net + ")");
      if (def.bridge && (nifs || fwd.pfDev))
        return xmlErr("A network with forward mode='" + mode +
                      "' can specify a bridge name or a forward dev, but not both (network " + net + ")");
      break;
  }
  if (def.mtu && !def.ownsBridge())
    return xmlErr("mtu size only allowed in open, route, nat, and isolated mode, not in " + mode + " (network " + net +
                  ")");
  return {};
}

// virNetworkDefParseXML
Result<NetworkDef> parseNetworkNode(XmlNode root) {
  NetworkDef def;
  auto name = root.childText("name");
  if (!name) return Error::make(ErrorCode::NoName, ErrorDomain::Network, "missing name information in %s",
                                "missing name information", std::nullopt);
  if (name->find('/') != std::string::npos) return Error::xmlDetail(kFromXml, "invalid char in name: /");
  def.name = *name;
  const std::string& net = def.name;

  if (auto uuid = root.childText("uuid")) {
    auto u = parseUuid(*uuid);
    if (!u) return internalErr("malformed uuid element");
    def.uuid = *u;
  } else {
    def.uuid = generateUuid();
  }

  if (auto ipv6 = xpathAttr(root, "ipv6")) {
    if (*ipv6 != "yes" && *ipv6 != "no") return xmlErr("Invalid ipv6 setting " + q(*ipv6) + " in network " + q(net));
    def.ipv6NoGateway = *ipv6 == "yes" ? Tristate::Yes : Tristate::No;
  }
  SV_TRY_ASSIGN(def.trustGuestRxFilters, propTristate(root, "trustGuestRxFilters"));

  XmlNode domain = root.child("domain");
  def.domainName = domain.attr("name");
  SV_TRY_ASSIGN(def.domainLocalOnly, propTristate(domain, "localOnly"));

  SV_TRY_ASSIGN(def.isolatedPort, propTristate(root.child("port"), "isolated"));

  XmlNode bridge = root.child("bridge");
  def.bridge = xpathAttr(bridge, "name");
  def.bridgeZone = xpathAttr(bridge, "zone");
  auto stp = xpathAttr(bridge, "stp");
  if (stp) def.stp = *stp == "off" ? Tristate::No : Tristate::Yes;
  if (auto delay = xpathAttr(bridge, "delay")) {
    auto d = strToULLp(*delay);
    if (!d) return xmlErr("Invalid delay value in network " + q(net));
    def.delay = static_cast<unsigned long>(*d);
  }
  if (auto mtm = xpathAttr(bridge, "macTableManager")) {
    if (*mtm != "kernel" && *mtm != "libvirt")
      return xmlErr("Invalid macTableManager setting " + q(*mtm) + " in network " + q(net));
    def.macTableManager = mtm;
  }

  if (auto mac = xpathAttr(root.child("mac"), "address")) {
    auto m = parseMac(*mac);
    if (!m) return xmlErr("Invalid bridge mac address " + q(*mac) + " in network " + q(net));
    if ((*m)[0] & 1) return xmlErr("Invalid multicast bridge mac address " + q(*mac) + " in network " + q(net));
    def.mac = *m;
  }

  if (auto mtu = xpathAttr(root.child("mtu"), "size")) {
    auto m = strToUInt(*mtu);
    if (!m) return xmlErr("Invalid mtu size " + q(*mtu) + " in network " + q(net));
    def.mtu = *m;
  }

  if (XmlNode dns = root.child("dns")) SV_TRY_ASSIGN(def.dns, parseDns(dns, net));

  for (XmlNode ipNode : root.children("ip")) {
    NetIpDef ip;
    SV_TRY_ASSIGN(ip, parseIp(ipNode, net));
    def.ips.push_back(std::move(ip));
  }

  if (XmlNode fwd = root.child("forward")) SV_TRY_ASSIGN(def.forward, parseForward(fwd, net));
  SV_TRY_VOID(checkForwardMode(def, stp.has_value()));

  if (XmlNode md = root.child("metadata")) def.metadataXml = md.dumpFormatted(1, true);
  return def;
}

}  // namespace

Result<NetworkDef> parseNetworkDef(std::string_view xml, unsigned flags) {
  auto doc = XmlDoc::parse(xml, "(network_definition)", "network", ErrorDomain::Network);
  if (!doc) return doc.error();
  if (flags & kNetParseValidate) SV_TRY_VOID(validateDocAgainstSchema(*doc, kNetworkSchemaPath));
  return parseNetworkNode(doc->root());
}

}  // namespace splitvirt::conf
