// net-update on a definition: libvirt 9.0's virNetworkDefUpdateSection and
// its per-section helpers (network_conf.c), then the format/parse cycle
// virNetworkObjUpdate runs on the result. Matching rules and the order of
// checks follow libvirt, since they decide which error virsh shows.
#include "conf/network_def_detail.hpp"

#include <algorithm>

namespace splitvirt::conf {

namespace {

using namespace netdef_detail;

Error opInvalid(std::string msg) { return Error::operationInvalid(ErrorDomain::Network, std::move(msg)); }
Error opUnsupported(std::string msg) {
  return Error::make(ErrorCode::OperationUnsupported, ErrorDomain::Network, "Operation not supported: %s",
                     "Operation not supported", std::move(msg));
}
Error noSupport(const NetworkDef& def, std::string_view section) {
  return opUnsupported("can't update " + q(section) + " section of network " + q(def.name));
}
Error unknownCommand(unsigned command) {
  return opUnsupported("unrecognized network update command code " + std::to_string(command));
}

bool isAdd(unsigned command) { return command == kNetUpdateAddFirst || command == kNetUpdateAddLast; }

template <class T>
void insertEntry(std::vector<T>& v, unsigned command, T entry) {
  v.insert(command == kNetUpdateAddFirst ? v.begin() : v.end(), std::move(entry));
}

// virSocketAddrEqual: unset addresses never compare equal.
bool addrEqual(const IpAddr& a, const IpAddr& b) { return a.valid() && a == b; }

std::string orNull(const std::optional<std::string>& s) { return s ? *s : "(null)"; }
std::string ipOrUnknown(const IpAddr& a) { return a.valid() ? a.str() : "unknown"; }

bool isXDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// virMacAddrCompare: textual, ignoring case and leading zeros of each byte.
bool macEqual(std::string_view p, std::string_view q) {
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  for (;;) {
    while (at(p, i) == '0' && isXDigit(at(p, i + 1))) i++;
    while (at(q, j) == '0' && isXDigit(at(q, j + 1))) j++;
    char c = lower(at(p, i)), d = lower(at(q, j));
    if (c == '\0' || d == '\0' || c != d) return c == d;
    i++;
    j++;
  }
}

bool sameMac(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  return a && b && macEqual(*a, *b);
}

Result<void> checkElementName(const NetworkDef& def, XmlNode node, std::string_view section) {
  return checkUpdateElement(node, section, def.name);
}

// virNetworkIPDefByIndex: parentIndex -1 picks the <ip> that has DHCP, else
// the first IPv4, else the first IPv6 one.
Result<NetIpDef*> ipByIndex(NetworkDef& def, int parentIndex) {
  if (parentIndex >= 0) {
    if (static_cast<size_t>(parentIndex) < def.ips.size()) return &def.ips[static_cast<size_t>(parentIndex)];
    return opInvalid("couldn't update dhcp host entry - no <ip> element found at index " +
                     std::to_string(parentIndex) + " in network " + q(def.name));
  }
  for (auto& ip : def.ips)
    if (!ip.ranges.empty() || !ip.hosts.empty()) return &ip;
  for (auto& ip : def.ips)
    if (ip.address.isV4()) return &ip;
  for (auto& ip : def.ips)
    if (ip.address.isV6()) return &ip;
  return opInvalid("couldn't update dhcp host entry - no <ip> element found in network " + q(def.name));
}

// virNetworkDefUpdateCheckMultiDHCP
Result<void> checkMultiDhcp(const NetworkDef& def, const NetIpDef* target) {
  for (const auto& ip : def.ips) {
    if (&ip == target || ip.address.family != target->address.family) continue;
    if (!ip.ranges.empty() || !ip.hosts.empty())
      return opInvalid(std::string("dhcp is supported only for a single ") + (target->isV6() ? "IPv6" : "IPv4") +
                       " address on each network");
  }
  return {};
}

Result<void> updateDhcpHost(NetworkDef& def, unsigned command, int parentIndex, XmlNode node) {
  auto ipR = ipByIndex(def, parentIndex);
  SV_TRY_VOID(checkElementName(def, node, "host"));
  if (!ipR) return ipR.error();
  NetIpDef* ip = *ipR;
  const bool partialOkay = command == kNetUpdateDelete;
  DhcpHost host;
  SV_TRY_ASSIGN(host, parseDhcpHost(node, *ip, def.name, partialOkay));
  if (!partialOkay && ip->address.family != host.ip.family)
    return opInvalid("the address family of a host entry IP must match the address family of the dhcp element's "
                     "parent");
  auto& hosts = ip->hosts;
  if (command == kNetUpdateModify) {
    auto it = std::find_if(hosts.begin(), hosts.end(), [&](const DhcpHost& h) {
      return sameMac(host.mac, h.mac) || addrEqual(host.ip, h.ip) || (host.name && host.name == h.name);
    });
    if (it == hosts.end())
      return opInvalid("couldn't locate an existing dhcp host entry with \"mac='" + host.mac.value_or("unknown") +
                       "'\" \"name='" + orNull(host.name) + "'\" \"ip='" + ipOrUnknown(host.ip) + "'\" in network " +
                       q(def.name));
    *it = std::move(host);
  } else if (isAdd(command)) {
    SV_TRY_VOID(checkMultiDhcp(def, ip));
    for (const auto& h : hosts)
      if (sameMac(host.mac, h.mac) || (host.name && host.name == h.name) || addrEqual(host.ip, h.ip))
        return opInvalid("there is an existing dhcp host entry in network " + q(def.name) +
                         " that matches \"<host mac='" + host.mac.value_or("unknown") + "' name='" +
                         orNull(host.name) + "' ip='" + ipOrUnknown(host.ip) + "'/>\"");
    insertEntry(hosts, command, std::move(host));
  } else if (command == kNetUpdateDelete) {
    // Every attribute given must match.
    auto it = std::find_if(hosts.begin(), hosts.end(), [&](const DhcpHost& h) {
      return (!host.mac || !h.mac || macEqual(*host.mac, *h.mac)) && (!host.name || host.name == h.name) &&
             (!host.ip.valid() || addrEqual(host.ip, h.ip));
    });
    if (it == hosts.end())
      return opInvalid("couldn't locate a matching dhcp host entry in network " + q(def.name));
    hosts.erase(it);
  } else {
    return unknownCommand(command);
  }
  return {};
}

Result<void> updateDhcpRange(NetworkDef& def, unsigned command, int parentIndex, XmlNode node) {
  auto ipR = ipByIndex(def, parentIndex);
  SV_TRY_VOID(checkElementName(def, node, "range"));
  if (!ipR) return ipR.error();
  NetIpDef* ip = *ipR;
  if (command == kNetUpdateModify) return opUnsupported("dhcp ranges cannot be modified, only added or deleted");
  DhcpRange range;
  SV_TRY_ASSIGN(range, parseDhcpRange(node, *ip, def.name));
  if (ip->address.family != range.start.family)
    return opInvalid("the address family of a dhcp range must match the address family of the dhcp element's "
                     "parent");
  auto& ranges = ip->ranges;
  auto it = std::find_if(ranges.begin(), ranges.end(), [&](const DhcpRange& r) {
    return addrEqual(range.start, r.start) && addrEqual(range.end, r.end);
  });
  if (isAdd(command)) {
    SV_TRY_VOID(checkMultiDhcp(def, ip));
    if (it != ranges.end())
      return opInvalid("there is an existing dhcp range entry in network " + q(def.name) +
                       " that matches \"<range start='" + range.start.str() + "' end='" + range.end.str() + "'/>\"");
    insertEntry(ranges, command, std::move(range));
  } else if (command == kNetUpdateDelete) {
    if (it == ranges.end()) return opInvalid("couldn't locate a matching dhcp range entry in network " + q(def.name));
    ranges.erase(it);
  } else {
    return unknownCommand(command);
  }
  return {};
}

Result<void> updateForwardInterface(NetworkDef& def, unsigned command, XmlNode node) {
  SV_TRY_VOID(checkElementName(def, node, "interface"));
  if (command == kNetUpdateModify)
    return opUnsupported("forward interface entries cannot be modified, only added or deleted");
  auto dev = node.attr("dev");
  if (!dev) return xmlErr("missing dev attribute in <interface> element");
  auto& ifaces = def.forward.interfaces;
  auto it = std::find(ifaces.begin(), ifaces.end(), *dev);
  if (isAdd(command)) {
    if (it != ifaces.end())
      return opInvalid("there is an existing interface entry in network " + q(def.name) +
                       " that matches \"<interface dev='" + *dev + "'>\"");
    insertEntry(ifaces, command, *dev);
  } else if (command == kNetUpdateDelete) {
    if (it == ifaces.end())
      return opInvalid("couldn't find an interface entry in network " + q(def.name) + " matching <interface dev='" +
                       *dev + "'>");
    ifaces.erase(it);
  } else {
    return unknownCommand(command);
  }
  // libvirt prints <forward dev> from the first pool entry.
  def.forward.dev = ifaces.empty() ? std::nullopt : std::optional<std::string>(ifaces.front());
  return {};
}

Result<void> updateDnsHost(NetworkDef& def, unsigned command, XmlNode node) {
  if (command == kNetUpdateModify) return opUnsupported("DNS HOST records cannot be modified, only added or deleted");
  SV_TRY_VOID(checkElementName(def, node, "host"));
  const bool add = isAdd(command);
  DnsHost host;
  SV_TRY_ASSIGN(host, parseDnsHost(node, def.name, !add));
  auto& hosts = def.dns.hosts;
  size_t found = 0, foundIdx = 0;
  for (size_t i = 0; i < hosts.size(); i++) {
    bool match = addrEqual(host.ip, hosts[i].ip);
    // Adding checks addresses only: one name may have several addresses.
    if (!add)
      for (const auto& n : host.hostnames)
        match = match || std::find(hosts[i].hostnames.begin(), hosts[i].hostnames.end(), n) != hosts[i].hostnames.end();
    if (match) {
      found++;
      foundIdx = i;
    }
  }
  const std::string net(def.name);
  if (add) {
    if (found) return opInvalid("there is already at least one DNS HOST record with a matching field in network " + net);
    insertEntry(hosts, command, std::move(host));
  } else if (command == kNetUpdateDelete) {
    if (!found) return opInvalid("couldn't locate a matching DNS HOST record in network " + net);
    if (found > 1) return opInvalid("multiple matching DNS HOST records were found in network " + net);
    hosts.erase(hosts.begin() + static_cast<long>(foundIdx));
  } else {
    return unknownCommand(command);
  }
  return {};
}

Result<void> updateDnsSrv(NetworkDef& def, unsigned command, XmlNode node) {
  if (command == kNetUpdateModify) return opUnsupported("DNS SRV records cannot be modified, only added or deleted");
  SV_TRY_VOID(checkElementName(def, node, "srv"));
  const bool add = isAdd(command);
  DnsSrv srv;
  SV_TRY_ASSIGN(srv, parseDnsSrv(node, def.name, !add));
  auto& srvs = def.dns.srvs;
  // An empty service/protocol is an absent one (partial parse).
  auto matches = [&](const DnsSrv& s) {
    return (!srv.domain || srv.domain == s.domain) && (srv.service.empty() || srv.service == s.service) &&
           (srv.protocol.empty() || srv.protocol == s.protocol) && (!srv.target || srv.target == s.target);
  };
  size_t found = 0, foundIdx = 0;
  for (size_t i = 0; i < srvs.size(); i++)
    if (matches(srvs[i])) {
      found++;
      foundIdx = i;
    }
  const std::string net(def.name);
  if (add) {
    if (found)
      return opInvalid("there is already at least one DNS SRV record matching all specified fields in network " + net);
    insertEntry(srvs, command, std::move(srv));
  } else if (command == kNetUpdateDelete) {
    if (!found) return opInvalid("couldn't locate a matching DNS SRV record in network " + net);
    if (found > 1)
      return opInvalid("multiple DNS SRV records matching all specified fields were found in network " + net);
    srvs.erase(srvs.begin() + static_cast<long>(foundIdx));
  } else {
    return unknownCommand(command);
  }
  return {};
}

Result<void> updateDnsTxt(NetworkDef& def, unsigned command, XmlNode node) {
  if (command == kNetUpdateModify) return opUnsupported("DNS TXT records cannot be modified, only added or deleted");
  SV_TRY_VOID(checkElementName(def, node, "txt"));
  DnsTxt txt;
  SV_TRY_ASSIGN(txt, parseDnsTxt(node, def.name, !isAdd(command)));
  auto& txts = def.dns.txts;
  auto it = std::find_if(txts.begin(), txts.end(), [&](const DnsTxt& t) { return t.name == txt.name; });
  const std::string net(def.name);
  if (isAdd(command)) {
    if (it != txts.end())
      return opInvalid("there is already a DNS TXT record with name " + q(txt.name) + " in network " + net);
    insertEntry(txts, command, std::move(txt));
  } else if (command == kNetUpdateDelete) {
    if (it == txts.end()) return opInvalid("couldn't locate a matching DNS TXT record in network " + net);
    txts.erase(it);
  } else {
    return unknownCommand(command);
  }
  return {};
}

Result<void> updateSection(NetworkDef& def, unsigned command, unsigned section, int parentIndex, XmlNode node) {
  switch (section) {
    case kNetSectionBridge: return noSupport(def, "bridge");
    case kNetSectionDomain: return noSupport(def, "domain");
    case kNetSectionIp: return noSupport(def, "ip");
    case kNetSectionIpDhcpHost: return updateDhcpHost(def, command, parentIndex, node);
    case kNetSectionIpDhcpRange: return updateDhcpRange(def, command, parentIndex, node);
    case kNetSectionForward: return noSupport(def, "forward");
    case kNetSectionForwardInterface: return updateForwardInterface(def, command, node);
    case kNetSectionForwardPf: return noSupport(def, "forward pf");
    // libvirt can update portgroups; splitvirt does not model them.
    case kNetSectionPortgroup: return noSupport(def, "portgroup");
    case kNetSectionDnsHost: return updateDnsHost(def, command, node);
    case kNetSectionDnsTxt: return updateDnsTxt(def, command, node);
    case kNetSectionDnsSrv: return updateDnsSrv(def, command, node);
    default: return opUnsupported("can't update unrecognized section of network");
  }
}

}  // namespace

Result<NetworkDef> updateNetworkDef(const NetworkDef& def, unsigned command, unsigned section, int parentIndex,
                                    std::string_view xml) {
  auto doc = XmlDoc::parse(xml, "network_update_xml", "", ErrorDomain::Network);
  if (!doc) return doc.error();
  NetworkDef updated = def;
  SV_TRY_VOID(updateSection(updated, command, section, parentIndex, doc->root()));
  // libvirt's "final format/parse cycle to make sure we didn't add anything
  // illegal to the def".
  SV_TRY_VOID(parseNetworkDef(formatNetworkDef(updated, kNetFormatInactive)));
  return updated;
}

}  // namespace splitvirt::conf
