// virNetworkDefFormatBuf (libvirt 9.0 network_conf.c): element order,
// attribute order and libvirt's quirks, e.g. an <ip> without children is
// still printed as an open/close pair, and <bridge> always carries stp and
// delay in the modes where libvirt owns the bridge.
#include "conf/network_def_detail.hpp"

namespace splitvirt::conf {

namespace {

std::string_view tristateName(Tristate t) { return t == Tristate::Yes ? "yes" : "no"; }

void indent(std::string& s, unsigned depth) { s.append(2 * depth, ' '); }

// An element libvirt prints as "<start>\n<children></name>" even when there
// are no children; `children` is already indented for depth + 1.
void container(XmlWriter& w, const std::string& startTag, std::string_view name, const std::string& children,
               unsigned depth) {
  std::string xml = startTag + "\n" + children;
  indent(xml, depth);
  xml += "</";
  xml += name;
  xml += '>';
  w.raw(xml);
}

std::string attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "='" + xmlEscape(value) + "'";
}

void formatLease(XmlWriter& w, const std::optional<DhcpLeaseTime>& lease) {
  if (!lease) return;
  w.open("lease").attr("expiry", static_cast<unsigned long long>(lease->expiry));
  if (lease->expiry) w.attr("unit", lease->unit);
  w.close();
}

void formatIp(XmlWriter& w, const NetIpDef& ip) {
  std::string start = "<ip";
  if (ip.familyAttr) start += attr("family", *ip.familyAttr);
  if (ip.address.valid()) start += attr("address", ip.address.str());
  if (ip.netmask && ip.netmask->valid()) start += attr("netmask", ip.netmask->str());
  if (ip.prefix && *ip.prefix > 0) start += attr("prefix", std::to_string(*ip.prefix));
  if (ip.localPtr != Tristate::Absent) start += attr("localPtr", tristateName(ip.localPtr));
  start += '>';

  XmlWriter c(2);
  if (ip.tftpRoot) c.open("tftp").attr("root", *ip.tftpRoot).close();
  if (!ip.ranges.empty() || !ip.hosts.empty()) {
    c.open("dhcp");
    for (const auto& r : ip.ranges) {
      c.open("range").attr("start", r.start.str()).attr("end", r.end.str());
      formatLease(c, r.lease);
      c.close();
    }
    for (const auto& h : ip.hosts) {
      c.open("host").attrIf("mac", h.mac).attrIf("id", h.id).attrIf("name", h.name);
      if (h.ip.valid()) c.attr("ip", h.ip.str());
      formatLease(c, h.lease);
      c.close();
    }
    if (ip.bootFile) {
      c.open("bootp").attr("file", *ip.bootFile);
      if (ip.bootServer.valid()) c.attr("server", ip.bootServer.str());
      c.close();
    }
    c.close();
  }
  container(w, start, "ip", c.str(), 1);
}

void formatDns(XmlWriter& w, const NetDns& dns) {
  if (dns.empty()) return;
  w.open("dns");
  if (dns.enable != Tristate::Absent) w.attr("enable", tristateName(dns.enable));
  if (dns.forwardPlainNames != Tristate::Absent) w.attr("forwardPlainNames", tristateName(dns.forwardPlainNames));
  for (const auto& f : dns.forwarders) {
    w.open("forwarder").attrIf("domain", f.domain);
    if (f.addr.valid()) w.attr("addr", f.addr.str());
    w.close();
  }
  for (const auto& t : dns.txts) w.open("txt").attr("name", t.name).attr("value", t.value).close();
  for (const auto& s : dns.srvs) {
    w.open("srv").attr("service", s.service).attr("protocol", s.protocol).attrIf("domain", s.domain);
    w.attrIf("target", s.target);
    if (s.port && *s.port) w.attr("port", *s.port);
    if (s.priority && *s.priority) w.attr("priority", *s.priority);
    if (s.weight && *s.weight) w.attr("weight", *s.weight);
    w.close();
  }
  for (const auto& h : dns.hosts) {
    XmlWriter names(3);
    for (const auto& n : h.hostnames) names.textElement("hostname", n);
    container(w, "<host" + attr("ip", h.ip.str()) + ">", "host", names.str(), 2);
  }
  w.close();
}

void formatNat(XmlWriter& w, const NetForward& fwd) {
  const bool addrs = fwd.natAddrStart.valid() || fwd.natAddrEnd.valid();
  const bool ports = fwd.natPortStart || fwd.natPortEnd;
  if (!addrs && !ports && fwd.natIpv6 == Tristate::Absent) return;
  w.open("nat");
  if (fwd.natIpv6 != Tristate::Absent) w.attr("ipv6", tristateName(fwd.natIpv6));
  // libvirt prints <address> only with a start address.
  if (fwd.natAddrStart.valid()) {
    w.open("address").attr("start", fwd.natAddrStart.str());
    if (fwd.natAddrEnd.valid()) w.attr("end", fwd.natAddrEnd.str());
    w.close();
  }
  if (ports) {
    w.open("port").attr("start", fwd.natPortStart);
    if (fwd.natPortEnd) w.attr("end", fwd.natPortEnd);
    w.close();
  }
  w.close();
}

void formatForward(XmlWriter& w, const NetForward& fwd, unsigned flags) {
  if (fwd.mode == NetForwardMode::None) return;
  std::vector<std::string> ifaces = fwd.interfaces;
  if (ifaces.empty() && fwd.dev) ifaces.push_back(*fwd.dev);
  w.open("forward");
  if (!fwd.pfDev && !ifaces.empty()) w.attr("dev", ifaces.front());
  w.attr("mode", netForwardModeName(fwd.mode));
  if (fwd.mode == NetForwardMode::Hostdev) w.attr("managed", fwd.managed ? "yes" : "no");
  if (fwd.driverName) w.open("driver").attr("name", *fwd.driverName).close();
  if (fwd.mode == NetForwardMode::Nat) formatNat(w, fwd);
  if (fwd.pfDev) w.open("pf").attr("dev", *fwd.pfDev).close();
  if (!fwd.pfDev || !(flags & kNetFormatInactive))
    for (const auto& i : ifaces) w.open("interface").attr("dev", i).close();
  w.close();
}

}  // namespace

std::string formatNetworkDef(const NetworkDef& def, unsigned flags) {
  XmlWriter w;
  w.open("network");
  if (!(flags & kNetFormatInactive) && def.connections > 0) w.attr("connections", def.connections);
  if (def.ipv6NoGateway == Tristate::Yes) w.attr("ipv6", "yes");
  if (def.trustGuestRxFilters != Tristate::Absent)
    w.attr("trustGuestRxFilters", tristateName(def.trustGuestRxFilters));
  w.textElement("name", def.name);
  w.textElement("uuid", formatUuid(def.uuid));
  if (def.metadataXml) w.raw(*def.metadataXml);
  formatForward(w, def.forward, flags);

  const bool ownsBridge = def.ownsBridge();
  if (ownsBridge || def.bridge || def.macTableManager) {
    w.open("bridge").attrIf("name", def.bridge).attrIf("zone", def.bridgeZone);
    if (ownsBridge) {
      w.attr("stp", def.stp == Tristate::No ? "off" : "on");
      w.attr("delay", static_cast<long>(def.delay));
    }
    w.attrIf("macTableManager", def.macTableManager);
    w.close();
  }
  if (def.mtu) w.open("mtu").attr("size", def.mtu).close();
  if (def.mac) w.open("mac").attr("address", formatMac(*def.mac)).close();
  if (def.domainName) {
    w.open("domain").attr("name", *def.domainName);
    if (def.domainLocalOnly != Tristate::Absent) w.attr("localOnly", tristateName(def.domainLocalOnly));
    w.close();
  }
  formatDns(w, def.dns);
  if (def.isolatedPort != Tristate::Absent) w.open("port").attr("isolated", tristateName(def.isolatedPort)).close();
  for (const auto& ip : def.ips) formatIp(w, ip);
  w.close();
  return w.take();
}

}  // namespace splitvirt::conf
