#include "dnsmasq/dnsmasq_config.hpp"

#include <cstdio>

namespace splitvirt::network {

using conf::IpAddr;
using conf::NetForwardMode;
using conf::NetIpDef;
using conf::NetworkDef;
using conf::Tristate;

DnsmasqFiles dnsmasqFiles(std::string_view stateDir, std::string_view pidDir, std::string_view networkName) {
  std::string base = std::string(stateDir);
  if (!base.empty() && base.back() != '/') base += '/';
  base += networkName;
  std::string pid = std::string(pidDir);
  if (!pid.empty() && pid.back() != '/') pid += '/';
  return {base + ".conf", base + ".hostsfile", base + ".addnhosts", base + ".leases",
          pid + std::string(networkName) + ".pid"};
}

std::string dnsmasqLeaseTime(const conf::DhcpLeaseTime& lease) {
  if (lease.expiry == 0) return "infinite";
  // dnsmasq takes the unit's first letter: s, m or h.
  return std::to_string(lease.expiry) + (lease.unit.empty() ? 'm' : lease.unit[0]);
}

namespace {

// dnsmasq's conf reader strips double quotes (honouring \" and \\ inside
// them), turns whitespace into separators and starts a comment at a '#'
// after whitespace: a path with any of these (a network named 'a "b" #c')
// goes in quotes. Plain paths stay bare, as libvirt writes them.
std::string confPath(const std::string& path) {
  if (path.find_first_of("\"\\# \t") == std::string::npos) return path;
  std::string out = "\"";
  for (char ch : path) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

// The name only appears in a comment line: keep it on that line.
std::string oneLine(std::string s) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

bool hasDhcp(const NetIpDef& ip) { return !ip.ranges.empty() || !ip.hosts.empty(); }

// The first <ip> of each family that carries DHCP (libvirt serves DHCP on
// one subnet per family).
struct DhcpDefs {
  const NetIpDef* v4 = nullptr;
  const NetIpDef* v6 = nullptr;
};
DhcpDefs firstDhcpDefs(const NetworkDef& def) {
  DhcpDefs d;
  for (const auto& ip : def.ips) {
    if (!hasDhcp(ip)) continue;
    auto& slot = ip.isV6() ? d.v6 : d.v4;
    if (!slot) slot = &ip;
  }
  return d;
}

// One dhcp-hostsfile line per host with an address (hostsfileAdd).
void appendDhcpHosts(std::string& out, const NetIpDef& ip) {
  for (const auto& h : ip.hosts) {
    if (!h.ip.valid()) continue;
    std::string line;
    const std::string addr = h.ip.str();
    if (ip.isV6()) {
      if (h.name && h.id)
        line = "id:" + *h.id + "," + *h.name;
      else if (h.name)
        line = *h.name;
      else if (h.id)
        line = "id:" + *h.id;
      line += ",[" + addr + "]";
    } else if (h.name && h.mac) {
      line = *h.mac + "," + addr + "," + *h.name;
    } else if (h.name) {
      line = *h.name + "," + addr;
    } else {
      line = h.mac.value_or("") + "," + addr;
    }
    if (h.lease) line += "," + dnsmasqLeaseTime(*h.lease);
    out += line + "\n";
  }
}

// addn-hosts: one line per address, its names tab-separated, in the order
// of first appearance (addnhostsAdd merges hosts sharing an address).
std::string buildAddnHosts(const NetworkDef& def) {
  std::vector<std::pair<std::string, std::vector<std::string>>> byIp;
  for (const auto& h : def.dns.hosts) {
    if (!h.ip.valid()) continue;
    const std::string addr = h.ip.str();
    auto it = byIp.begin();
    while (it != byIp.end() && it->first != addr) ++it;
    if (it == byIp.end()) it = byIp.insert(byIp.end(), {addr, {}});
    for (const auto& n : h.hostnames) it->second.push_back(n);
  }
  std::string out;
  for (const auto& [addr, names] : byIp) {
    out += addr + "\t";
    for (const auto& n : names) out += n + "\t";
    out += "\n";
  }
  return out;
}

// virSocketAddrPTRDomain: the reverse zone of the network part, whole
// octets (IPv4) or nibbles (IPv6) only.
std::optional<std::string> ptrDomain(const IpAddr& addr, unsigned prefix) {
  std::string out;
  char buf[8];
  if (addr.isV4()) {
    if (prefix == 0 || prefix >= 32 || prefix % 8 != 0) return std::nullopt;
    for (unsigned i = prefix / 8; i > 0; i--) {
      std::snprintf(buf, sizeof buf, "%u.", addr.bytes[i - 1]);
      out += buf;
    }
    return out + "in-addr.arpa";
  }
  if (prefix == 0 || prefix >= 128 || prefix % 4 != 0) return std::nullopt;
  for (unsigned i = prefix / 4; i > 0; i--) {
    const uint8_t byte = addr.bytes[(i - 1) / 2];
    const unsigned nibble = (i - 1) % 2 == 0 ? byte >> 4 : byte & 0xf;
    std::snprintf(buf, sizeof buf, "%x.", nibble);
    out += buf;
  }
  return out + "ip6.arpa";
}

// networkDnsmasqConfDHCP for one family.
Result<void> appendDhcpSection(std::string& c, const NetIpDef& ip, uint64_t& leaseMax) {
  const unsigned prefix = ip.effectivePrefix();
  for (const auto& r : ip.ranges) {
    c += "dhcp-range=" + r.start.str() + "," + r.end.str() + ",";
    // dnsmasq wants a netmask for IPv4, a prefix length for IPv6.
    c += ip.isV6() ? std::to_string(prefix) : conf::prefixToNetmask(prefix, IpAddr::Family::V4).str();
    if (r.lease) c += "," + dnsmasqLeaseTime(*r.lease);
    c += "\n";
    auto n = conf::rangeSize(r.start, r.end);
    if (!n)
      return Error::internal(ErrorDomain::Network, "range " + r.start.str() + " - " + r.end.str() +
                                                        " is not entirely within network " + ip.address.str() +
                                                        "/" + std::to_string(prefix));
    leaseMax += *n;
  }
  // Static-only DHCP still needs a dhcp-range to switch the service on.
  if (ip.ranges.empty() && !ip.hosts.empty()) {
    c += "dhcp-range=" + ip.address.str() + ",static";
    if (ip.isV6()) c += "," + std::to_string(prefix);
    c += "\n";
  }
  if (!ip.isV6()) {
    c += "dhcp-no-override\n"
         "dhcp-authoritative\n";
    if (ip.bootFile) {
      c += "dhcp-boot=" + *ip.bootFile;
      if (ip.bootServer.valid()) c += ",," + ip.bootServer.str();
      c += "\n";
    }
  }
  return {};
}

void appendSrvRecord(std::string& c, const conf::DnsSrv& s) {
  // RFC 2782: service and protocol carry a leading underscore.
  c += "srv-host=_" + s.service + "._" + s.protocol;
  if (s.domain) c += "." + *s.domain;
  // A target of "." means "decidedly not available": nothing else counts.
  if (s.target && *s.target != ".") {
    c += "," + *s.target;
    const unsigned port = s.port.value_or(0), prio = s.priority.value_or(0), weight = s.weight.value_or(0);
    // Fields are positional: an unset one before a set one gets its default
    // (port 1, priority 0).
    if (port || prio || weight) c += "," + std::to_string(port ? port : 1);
    if (prio || weight) c += "," + std::to_string(prio);
    if (weight) c += "," + std::to_string(weight);
  }
  c += "\n";
}

}  // namespace

bool needsDnsmasq(const NetworkDef& def) {
  switch (def.forward.mode) {
    case NetForwardMode::None:
    case NetForwardMode::Nat:
    case NetForwardMode::Route:
    case NetForwardMode::Open:
      break;
    default:
      return false;
  }
  if (def.ips.empty()) return false;
  for (const auto& ip : def.ips)
    if (hasDhcp(ip) || ip.tftpRoot) return true;
  return def.dns.enable != Tristate::No;
}

DnsmasqConfig buildDnsmasqHostsFiles(const NetworkDef& def) {
  DnsmasqConfig out;
  const DhcpDefs dhcp = firstDhcpDefs(def);
  if (dhcp.v4) appendDhcpHosts(out.hostsFile, *dhcp.v4);
  if (dhcp.v6) appendDhcpHosts(out.hostsFile, *dhcp.v6);
  out.addnHosts = buildAddnHosts(def);
  return out;
}

Result<DnsmasqConfig> buildDnsmasqConfig(const NetworkDef& def, const DnsmasqFiles& files,
                                         const DnsmasqOptions& opts) {
  const auto& dns = def.dns;
  const bool wantDns = dns.enable != Tristate::No;
  const std::string bridge = def.bridge.value_or("");
  std::string c;
  c += "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
       "##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n"
       "##    virsh net-edit " + oneLine(def.name) + "\n"
       "## or other application using the libvirt API.\n"
       "##\n"
       "## dnsmasq conf file created by splitvirt\n"
       // Handle several resolv.conf servers in order, as glibc does.
       "strict-order\n";
  // Port 0 tells dnsmasq not to serve DNS at all.
  if (!wantDns) c += "port=0\n";

  // no-resolv once we know no query needs the host's resolvers: a
  // forwarder without a domain takes every unclaimed name (libvirt); an
  // isolated network must not leak queries to the outside (libvirt, below);
  // otherwise our own choice (DnsmasqOptions::hostResolvers).
  bool noResolv = def.forward.mode != NetForwardMode::None && wantDns && !opts.hostResolvers;
  if (wantDns) {
    for (const auto& f : dns.forwarders) {
      c += "server=";
      if (f.domain) c += "/" + *f.domain + "/";
      if (f.addr.valid()) {
        c += f.addr.str() + "\n";
        if (!f.domain) noResolv = true;
      } else {
        c += "#\n";  // "do not forward this domain"
      }
    }
  }
  if (noResolv) c += "no-resolv\n";

  if (def.domainName) {
    if (def.domainLocalOnly == Tristate::Yes) c += "local=/" + *def.domainName + "/\n";
    c += "domain=" + *def.domainName + "\nexpand-hosts\n";
  }

  if (wantDns) {
    for (const auto& ip : def.ips) {
      if (ip.localPtr != Tristate::Yes) continue;
      auto ptr = ptrDomain(ip.address, ip.effectivePrefix());
      if (!ptr) {
        char msg[160];
        std::snprintf(msg, sizeof msg,
                      "PTR domain for %s network with prefix %u cannot be automatically created",
                      ip.isV6() ? "IPv6" : "IPv4", ip.effectivePrefix());
        return Error::configUnsupported(ErrorDomain::Network, msg);
      }
      c += "local=/" + *ptr + "/\n";
    }
    if (dns.forwardPlainNames == Tristate::No) {
      // Plain (dot-less) names are never forwarded, domain or not.
      c += "domain-needed\n"
           "local=//\n";
    }
  }

  if (!files.pidFile.empty()) c += "pid-file=" + confPath(files.pidFile) + "\n";
  // dnsmasq always listens on loopback unless told otherwise.
  c += "except-interface=lo\n";
  // bind-dynamic with only interface= answers DNS from our bridge only
  // (CVE-2012-3411), and copes with the bridge's addresses changing.
  c += "bind-dynamic\n"
       "interface=" + bridge + "\n";

  if (def.forward.mode == NetForwardMode::None) {
    // Isolated: no default route (option 3 empty), no forwarding of DNS
    // to the outside, and router advertisements with lifetime 0 (an RA
    // always implies a default route through its sender).
    c += "dhcp-option=3\n";
    if (!noResolv) c += "no-resolv\n";
    c += "ra-param=*,0,0\n";
  }

  if (wantDns) {
    for (const auto& t : dns.txts) c += "txt-record=" + t.name + "," + t.value + "\n";
    for (const auto& s : dns.srvs) appendSrvRecord(c, s);
  }

  const NetIpDef* v4 = nullptr;
  const NetIpDef* v6 = nullptr;
  bool tftp = false;
  for (const auto& ip : def.ips) {
    if (!ip.isV6()) {
      if (hasDhcp(ip)) {
        if (v4)
          return Error::configUnsupported(ErrorDomain::Network,
                                          "For IPv4, multiple DHCP definitions cannot be specified.");
        v4 = &ip;
      }
      if (ip.tftpRoot) {
        if (!tftp) c += "enable-tftp\n";
        tftp = true;
        c += "tftp-root=" + confPath(*ip.tftpRoot) + "\n";
      }
    } else if (hasDhcp(ip)) {
      if (v6)
        return Error::configUnsupported(ErrorDomain::Network,
                                        "For IPv6, multiple DHCP definitions cannot be specified.");
      v6 = &ip;
    }
    // An IPv6 subnet without DHCP next to one with DHCP gets no RA of its
    // own (enable-ra below covers the bridge): libvirt only warns.
  }

  uint64_t leaseMax = 0;
  if (v4) SV_TRY_VOID(appendDhcpSection(c, *v4, leaseMax));
  if (v6) SV_TRY_VOID(appendDhcpSection(c, *v6, leaseMax));
  if (v4) {
    // dnsmasq pings a dynamic IPv4 address before offering it, 3 s per
    // lease (environment.md 4); the bridge and the range are ours, so
    // nothing else can hold the address.
    c += "no-ping\n";
  }
  if (leaseMax > 0) c += "dhcp-lease-max=" + std::to_string(leaseMax) + "\n";
  if (v4 || v6) {
    // No leaseshelper here: dnsmasq keeps its own lease file, which
    // NETWORK_GET_DHCP_LEASES reads (dnsmasq_leases.hpp). Even with no
    // static host, the hosts file exists so net-update can add some.
    c += "dhcp-leasefile=" + confPath(files.leaseFile) + "\n";
    c += "dhcp-hostsfile=" + confPath(files.hostsFile) + "\n";
  }
  if (wantDns) c += "addn-hosts=" + confPath(files.addnHosts) + "\n";
  if (def.mtu > 0) c += "dhcp-option=option:mtu," + std::to_string(def.mtu) + "\n";

  if (v6) {
    c += "enable-ra\n";
  } else {
    for (const auto& ip : def.ips)
      if (ip.isV6() && !hasDhcp(ip)) c += "dhcp-range=" + ip.address.str() + ",ra-only\n";
  }

  DnsmasqConfig out = buildDnsmasqHostsFiles(def);
  out.conf = std::move(c);
  return out;
}

}  // namespace splitvirt::network
