// The leaf elements of a network definition that net-update also accepts
// on their own: DHCP <range>/<host> (with <lease>), DNS <host>/<srv>/<txt>.
// Checks and their order follow libvirt 9.0's network_conf.c.
#include "conf/network_def_detail.hpp"

#include <cstring>

namespace splitvirt::conf {
namespace netdef_detail {

namespace {

const std::vector<std::string_view> kLeaseUnits = {"seconds", "minutes", "hours"};

// The first character of `s` outside `allowed`, or npos.
size_t firstOutside(std::string_view s, std::string_view allowed) { return s.find_first_not_of(allowed); }

// virNetworkDHCPLeaseTimeDefParseXML: no expiry attribute, no lease.
Result<std::optional<DhcpLeaseTime>> parseLease(XmlNode node) {
  std::optional<uint64_t> expiry;
  SV_TRY_ASSIGN(expiry, propULongLong(node, "expiry", 0));
  if (!expiry) return std::optional<DhcpLeaseTime>();
  std::optional<unsigned> unit;
  SV_TRY_ASSIGN(unit, propEnum(node, "unit", kLeaseUnits));
  DhcpLeaseTime lease;
  lease.expiry = *expiry;
  // An infinite lease has no unit (libvirt keeps the one given but never
  // prints or uses it).
  lease.unit = std::string(kLeaseUnits[lease.expiry ? unit.value_or(1) : 1]);
  // dnsmasq's minimum lease time is two minutes.
  if (lease.expiry > 0 && ((lease.unit == "seconds" && lease.expiry < 120) || (lease.unit == "minutes" && lease.expiry < 2)))
    return unsupportedErr("The minimum lease time should be greater than 2 minutes");
  return std::optional<DhcpLeaseTime>(lease);
}

// Every <lease> child is parsed; the last one wins, as in libvirt.
Result<void> parseLeases(XmlNode node, std::optional<DhcpLeaseTime>& out) {
  for (XmlNode c : node.children("lease")) {
    std::optional<DhcpLeaseTime> lease;
    SV_TRY_ASSIGN(lease, parseLease(c));
    if (lease) out = lease;
  }
  return {};
}

bool isAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// virXPathUInt on an attribute: -1 absent or empty, -2 not an unsigned
// number, else 0 with the value.
int xpathUInt(XmlNode node, std::string_view attr, unsigned& value) {
  auto v = node.attr(attr);
  if (!v || v->empty()) return -1;
  auto n = strToUIntp(*v);
  if (!n) return -2;
  value = *n;
  return 0;
}

constexpr std::string_view kProtocolChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+/";
constexpr std::string_view kServiceChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/*";
constexpr size_t kDnsRecordLengthSrv = 512 - 30;  // RFC 2782 limit minus overhead

}  // namespace

Result<DhcpRange> parseDhcpRange(XmlNode node, const NetIpDef& ip, std::string_view net) {
  DhcpRange range;
  auto start = node.attr("start");
  if (!start) return xmlErr("Missing 'start' attribute in dhcp range for network " + q(net));
  SV_TRY_ASSIGN(range.start, parseSocketAddr(*start));
  auto end = node.attr("end");
  if (!end) return xmlErr("Missing 'end' attribute in dhcp range for network " + q(net));
  SV_TRY_ASSIGN(range.end, parseSocketAddr(*end));
  SV_TRY_VOID(checkAddrRange(range.start, range.end, &ip.address, ip.libvirtPrefix()));
  SV_TRY_VOID(parseLeases(node, range.lease));
  return range;
}

Result<DhcpHost> parseDhcpHost(XmlNode node, const NetIpDef& ip, std::string_view net, bool partialOkay) {
  DhcpHost host;
  auto mac = node.attr("mac");
  if (mac) {
    if (ip.isV6())
      return xmlErr("Invalid to specify MAC address " + q(*mac) + " in network " + q(net) +
                    " IPv6 static host definition");
    auto m = parseMac(*mac);
    if (!m) return xmlErr("Cannot parse MAC address " + q(*mac) + " in network " + q(net));
    if ((*m)[0] & 1)
      return xmlErr("expected unicast mac address, found multicast " + q(*mac) + " in network " + q(net));
  }
  auto id = node.attr("id");
  if (id) {
    size_t bad = firstOutside(*id, "0123456789abcdefABCDEF:");
    if (bad != std::string::npos)
      return xmlErr("Invalid character '" + std::string(1, (*id)[bad]) + "' in id " + q(*id) + " of network " + q(net));
  }
  auto name = node.attr("name");
  if (name && (name->empty() || !isAsciiAlnum((*name)[0])))
    return xmlErr("Cannot use host name " + q(*name) + " in network " + q(net));
  auto ipText = node.attr("ip");
  if (ipText) {
    auto a = parseSocketAddr(*ipText);
    if (!a) return xmlErr("Invalid IP address in static host definition for network " + q(net));
    host.ip = *a;
  }
  if (partialOkay) {
    if (!mac && !name && !ipText)
      return xmlErr("At least one of name, mac, or ip attribute must be specified for static host definition in network " +
                    q(net) + " ");
  } else {
    if (ip.isV6()) {
      if (!id && !name)
        return xmlErr("Static host definition in IPv6 network " + q(net) + " must have id or name attribute");
    } else if (!mac && !name) {
      return xmlErr("Static host definition in IPv4 network " + q(net) + " must have mac or name attribute");
    }
    if (!ipText) return xmlErr("Missing IP address in static host definition for network " + q(net));
  }
  SV_TRY_VOID(parseLeases(node, host.lease));
  host.mac = std::move(mac);
  host.id = std::move(id);
  host.name = std::move(name);
  return host;
}

Result<DnsHost> parseDnsHost(XmlNode node, std::string_view net, bool partialOkay) {
  DnsHost host;
  auto ip = node.attr("ip");
  if (!ip && !partialOkay) return detailErr("Missing IP address in network " + q(net) + " DNS HOST record");
  if (ip) {
    auto a = parseSocketAddr(*ip);
    if (!a) return detailErr("Invalid IP address in network " + q(net) + " DNS HOST record");
    host.ip = *a;
  }
  // An empty <hostname/> has no children and is skipped.
  for (XmlNode h : node.children("hostname")) {
    std::string name = h.text();
    if (!name.empty()) host.hostnames.push_back(std::move(name));
  }
  if (host.hostnames.empty() && !partialOkay)
    return detailErr("Missing hostname in network " + q(net) + " DNS HOST record");
  if (!host.ip.valid() && host.hostnames.empty())
    return detailErr("Missing ip and hostname in network " + q(net) + " DNS HOST record");
  return host;
}

Result<DnsSrv> parseDnsSrv(XmlNode node, std::string_view net, bool partialOkay) {
  DnsSrv srv;
  auto service = node.attr("service");
  if (!service && !partialOkay)
    return detailErr("missing required service attribute in DNS SRV record of network " + q(net));
  // libvirt prints a missing service through %s: glib gives "(null)".
  const std::string svc = service ? *service : "(null)";
  if (service) {
    if (service->size() > kDnsRecordLengthSrv)
      return detailErr("service attribute " + q(*service) + " in network " + q(net) + " is too long, limit is " +
                       std::to_string(kDnsRecordLengthSrv) + " bytes");
    if (firstOutside(*service, kServiceChars) != std::string::npos)
      return detailErr("invalid character in service attribute " + q(*service) + " in DNS SRV record of network " +
                       q(net));
    srv.service = *service;
  }
  auto protocol = node.attr("protocol");
  if (!protocol && !partialOkay)
    return detailErr("missing required protocol attribute in DNS SRV record " + q(svc) + " of network " + q(net));
  if (protocol) {
    if (firstOutside(*protocol, kProtocolChars) != std::string::npos)
      return detailErr("invalid character in protocol attribute " + q(*protocol) + " in DNS SRV record of network " +
                       q(net));
    srv.protocol = *protocol;
  }
  srv.domain = node.attr("domain");
  srv.target = node.attr("target");

  const std::string what = " for service " + q(svc) + " in network " + q(net);
  unsigned v = 0;
  int rc = xpathUInt(node, "port", v);
  if (rc >= 0 && !srv.target) return detailErr("DNS SRV port attribute not permitted without target" + what);
  if (rc == -2 || (rc >= 0 && (v < 1 || v > 65535))) return detailErr("invalid DNS SRV port attribute" + what);
  if (rc >= 0) srv.port = v;
  rc = xpathUInt(node, "priority", v);
  if (rc >= 0 && !srv.target) return detailErr("DNS SRV priority attribute not permitted without target" + what);
  if (rc == -2 || (rc >= 0 && v > 65535)) return detailErr("Invalid DNS SRV priority attribute" + what);
  // 0 is libvirt's "unset" for priority and weight: never printed.
  if (rc >= 0 && v) srv.priority = v;
  rc = xpathUInt(node, "weight", v);
  if (rc >= 0 && !srv.target) return detailErr("DNS SRV weight attribute not permitted without target" + what);
  if (rc == -2 || (rc >= 0 && v > 65535)) return detailErr("invalid DNS SRV weight attribute" + what);
  if (rc >= 0 && v) srv.weight = v;
  return srv;
}

Result<DnsTxt> parseDnsTxt(XmlNode node, std::string_view net, bool partialOkay) {
  DnsTxt txt;
  auto name = node.attr("name");
  if (!name) return detailErr("missing required name attribute in DNS TXT record of network " + std::string(net));
  if (name->find_first_of(" ,") != std::string::npos)
    return detailErr("prohibited character in DNS TXT record name " + q(*name) + " of network " + std::string(net));
  auto value = node.attr("value");
  if (!value && !partialOkay)
    return detailErr("missing required value attribute in DNS TXT record named " + q(*name) + " of network " +
                     std::string(net));
  txt.name = *name;
  txt.value = value.value_or("");
  return txt;
}

Result<void> checkUpdateElement(XmlNode node, std::string_view element, std::string_view net) {
  if (node.name() == element) return {};
  return xmlErr("unexpected element <" + std::string(node.name()) + ">, expecting <" + std::string(element) +
                ">, while updating network " + q(net));
}

}  // namespace netdef_detail

// ---- net-update's bare elements (virNetworkDefUpdateSection) ----

namespace {

using namespace netdef_detail;

// virXMLParseStringCtxt(xml, "network_update_xml") plus the element check.
Result<XmlDoc> parseUpdateDoc(std::string_view xml, std::string_view element, std::string_view net) {
  auto doc = XmlDoc::parse(xml, "network_update_xml", "", ErrorDomain::Network);
  if (!doc) return doc.error();
  SV_TRY_VOID(checkUpdateElement(doc->root(), element, net));
  return std::move(*doc);
}

}  // namespace

Result<DhcpHost> parseDhcpHostXml(std::string_view xml, const NetIpDef& ip, std::string_view networkName,
                                  bool partialOkay) {
  auto doc = parseUpdateDoc(xml, "host", networkName);
  if (!doc) return doc.error();
  return parseDhcpHost(doc->root(), ip, networkName, partialOkay);
}

Result<DhcpHost> parseDhcpHostXml(std::string_view xml, bool ipv6) {
  NetIpDef ip;
  ip.address.family = ipv6 ? IpAddr::Family::V6 : IpAddr::Family::V4;
  return parseDhcpHostXml(xml, ip, "", false);
}

Result<DnsHost> parseDnsHostXml(std::string_view xml, std::string_view networkName, bool partialOkay) {
  auto doc = parseUpdateDoc(xml, "host", networkName);
  if (!doc) return doc.error();
  return parseDnsHost(doc->root(), networkName, partialOkay);
}

Result<DnsHost> parseDnsHostXml(std::string_view xml) { return parseDnsHostXml(xml, "", false); }

Result<DhcpRange> parseDhcpRangeXml(std::string_view xml, const NetIpDef& ip, std::string_view networkName) {
  auto doc = parseUpdateDoc(xml, "range", networkName);
  if (!doc) return doc.error();
  return parseDhcpRange(doc->root(), ip, networkName);
}

Result<DnsTxt> parseDnsTxtXml(std::string_view xml, std::string_view networkName, bool partialOkay) {
  auto doc = parseUpdateDoc(xml, "txt", networkName);
  if (!doc) return doc.error();
  return parseDnsTxt(doc->root(), networkName, partialOkay);
}

Result<DnsSrv> parseDnsSrvXml(std::string_view xml, std::string_view networkName, bool partialOkay) {
  auto doc = parseUpdateDoc(xml, "srv", networkName);
  if (!doc) return doc.error();
  return parseDnsSrv(doc->root(), networkName, partialOkay);
}

}  // namespace splitvirt::conf
