#include "firewall/nft_rules.hpp"

#include <array>
#include <cstdio>

namespace splitvirt::network {

using conf::IpAddr;
using conf::NetForwardMode;
using conf::NetIpDef;
using conf::NetworkDef;
using conf::Tristate;

namespace {

struct ChainSpec {
  std::string_view role, type, hook, priority;
};
constexpr std::array<ChainSpec, 4> kChains{{
    {"input", "filter", "input", "filter"},
    {"output", "filter", "output", "filter"},
    {"forward", "filter", "forward", "filter"},
    {"postrouting", "nat", "postrouting", "srcnat"},
}};

std::string tablePrefix() { return std::string(kNftFamily) + " " + std::string(kNftTable); }

// `add chain` of an existing base chain with the same spec is a no-op,
// which is what makes both scripts safe to run in any state.
void addChain(std::string& s, std::string_view net, const ChainSpec& c) {
  s += "add chain " + tablePrefix() + " " + nftChainName(net, c.role) + " { type " + std::string(c.type) +
       " hook " + std::string(c.hook) + " priority " + std::string(c.priority) + "; policy accept; }\n";
}

// nft quotes interface names with "..."; there is no escape inside.
bool quotable(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return false;
  return true;
}
std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The rules of one network, collected per chain in evaluation order.
struct Rules {
  std::vector<std::string> input, output, forward, postrouting;
  std::vector<std::string>& of(std::string_view role) {
    return role == "input" ? input : role == "output" ? output : role == "forward" ? forward : postrouting;
  }
};

std::string familyMatch(bool v6) { return v6 ? "meta nfproto ipv6" : "meta nfproto ipv4"; }
std::string ipKw(bool v6) { return v6 ? "ip6" : "ip"; }

std::string subnet(const NetIpDef& ip) {
  const unsigned prefix = ip.effectivePrefix();
  return conf::networkAddress(ip.address, prefix).str() + "/" + std::to_string(prefix);
}

// virNetworkDefForwardIf: the one outgoing device NAT/route rules are
// restricted to, if any.
std::optional<std::string> forwardDev(const NetworkDef& def) {
  if (def.forward.dev) return def.forward.dev;
  if (!def.forward.interfaces.empty()) return def.forward.interfaces.front();
  return std::nullopt;
}

struct Ctx {
  std::string br;                  // quoted bridge name
  std::optional<std::string> dev;  // quoted forward device
};

// Guests talk to dnsmasq (DHCP, DNS, TFTP) on the bridge
// (networkAddGeneralIPv4/IPv6FirewallRules). In nftables an accept ends
// only this chain, so these do not override a drop elsewhere; they keep
// libvirt's rule set complete and show in `nft list` what a network needs.
void serviceRules(Rules& r, const Ctx& c, bool v6, bool tftp) {
  const std::string in = "iifname " + c.br + " " + familyMatch(v6) + " ";
  const std::string out = "oifname " + c.br + " " + familyMatch(v6) + " ";
  if (!v6) r.input.push_back(in + "udp dport 67 accept");
  r.input.push_back(in + "udp dport 53 accept");
  r.input.push_back(in + "tcp dport 53 accept");
  if (!v6 && tftp) r.input.push_back(in + "udp dport 69 accept");
  if (v6) r.input.push_back(in + "udp dport 547 accept");
  r.output.push_back(out + (v6 ? "udp dport 546 accept" : "udp dport 68 accept"));
}

// The per-subnet forward accepts (iptablesForwardAllowOut/-In/-RelatedIn).
void allowOut(Rules& r, const Ctx& c, const NetIpDef& ip) {
  std::string rule = "iifname " + c.br + " ";
  if (c.dev) rule += "oifname " + *c.dev + " ";
  r.forward.push_back(rule + ipKw(ip.isV6()) + " saddr " + subnet(ip) + " accept");
}
void allowIn(Rules& r, const Ctx& c, const NetIpDef& ip, bool relatedOnly) {
  std::string rule;
  if (c.dev) rule += "iifname " + *c.dev + " ";
  rule += "oifname " + c.br + " " + ipKw(ip.isV6()) + " daddr " + subnet(ip);
  rule += relatedOnly ? " ct state related,established accept" : " accept";
  r.forward.push_back(rule);
}

// networkAddMasqueradingFirewallRules' postrouting part: return for local
// multicast (and IPv4 broadcast: strict DHCP clients refuse replies whose
// source port changed), then tcp/udp masquerade onto unprivileged ports
// (guests must not get source ports < 1024, which NFS trusts), then every
// other protocol. <nat><address/> turns masquerade into snat to that range.
Result<void> natRules(Rules& r, const NetworkDef& def, const Ctx& c, const NetIpDef& ip) {
  const bool v6 = ip.isV6();
  const std::string net = subnet(ip);
  const std::string ipk = ipKw(v6);
  const std::string oif = c.dev ? "oifname " + *c.dev + " " : "";
  const std::string from = oif + ipk + " saddr " + net + " ";
  r.postrouting.push_back(from + ipk + " daddr " + (v6 ? "ff02::/16" : "224.0.0.0/24") + " return");
  if (!v6) r.postrouting.push_back(from + "ip daddr 255.255.255.255 return");

  unsigned pStart = def.forward.natPortStart, pEnd = def.forward.natPortEnd;
  if (pStart == 0 && pEnd == 0) {
    pStart = 1024;
    pEnd = 65535;
  }
  if (!(pStart < pEnd && pEnd < 65536)) {
    char msg[64];
    std::snprintf(msg, sizeof msg, "Invalid port range '%u-%u'.", pStart, pEnd);
    return Error::internal(ErrorDomain::Network, msg);
  }
  const std::string ports = std::to_string(pStart) + "-" + std::to_string(pEnd);

  // The SNAT range only applies to its own family.
  const IpAddr::Family fam = v6 ? IpAddr::Family::V6 : IpAddr::Family::V4;
  std::string snatTo;
  if (def.forward.natAddrStart.family == fam) {
    snatTo = def.forward.natAddrStart.str();
    if (def.forward.natAddrEnd.family == fam && def.forward.natAddrEnd != def.forward.natAddrStart)
      snatTo += "-" + def.forward.natAddrEnd.str();
    // nft reads "addr:port" of an IPv6 address as more address: bracket it.
    if (v6) snatTo = "[" + snatTo + "]";
  }
  const std::string notLocal = ipk + " daddr != " + net + " ";
  for (const char* proto : {"tcp", "udp"}) {
    std::string rule = "meta l4proto " + std::string(proto) + " " + from + notLocal;
    rule += snatTo.empty() ? "masquerade to :" + ports : "snat " + ipk + " to " + snatTo + ":" + ports;
    r.postrouting.push_back(rule);
  }
  r.postrouting.push_back(from + notLocal + (snatTo.empty() ? "masquerade" : "snat " + ipk + " to " + snatTo));
  return {};
}

}  // namespace

bool hasFirewallRules(const NetworkDef& def) {
  return def.forward.mode == NetForwardMode::None || def.forward.mode == NetForwardMode::Nat ||
         def.forward.mode == NetForwardMode::Route;
}

std::string nftChainName(std::string_view networkName, std::string_view role) {
  std::string out = "net_";
  for (unsigned char ch : networkName) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
        ch == '-') {
      out += static_cast<char>(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, ".%02x", ch);
      out += buf;
    }
  }
  // The role never contains '_', so "<name>_<role>" cannot collide across
  // two names.
  return out + "_" + std::string(role);
}

std::string nftRemoveScript(std::string_view networkName) {
  std::string s = "add table " + tablePrefix() + "\n";
  for (const auto& c : kChains) {
    const std::string chain = tablePrefix() + " " + nftChainName(networkName, c.role);
    addChain(s, networkName, c);
    // Flush first: older kernels refuse (EBUSY) to delete a chain that
    // still holds rules.
    s += "flush chain " + chain + "\n";
    s += "delete chain " + chain + "\n";
  }
  return s;
}

Result<std::string> nftAddScript(const NetworkDef& def) {
  if (!hasFirewallRules(def)) return nftRemoveScript(def.name);
  if (!def.bridge || !quotable(*def.bridge))
    return Error::internal(ErrorDomain::Network,
                           "network '" + def.name + "' has no usable bridge name for its firewall rules");
  Ctx c;
  c.br = quoted(*def.bridge);
  if (def.forward.mode != NetForwardMode::None) {
    if (auto d = forwardDev(def)) {
      if (!quotable(*d))
        return Error::configUnsupported(ErrorDomain::Network, "forward device name '" + *d + "' is not supported");
      c.dev = quoted(*d);
    }
  }

  bool anyV6 = false, tftp = false;
  for (const auto& ip : def.ips) {
    if (ip.isV6()) anyV6 = true;
    else if (ip.tftpRoot && !tftp) tftp = true;
  }
  const bool v6General = anyV6 || def.ipv6NoGateway == Tristate::Yes;

  Rules r;
  // Input/output: IPv4 always (libvirt), IPv6 only with an IPv6 subnet.
  serviceRules(r, c, false, tftp);
  if (anyV6) serviceRules(r, c, true, false);

  // Forward, in the order libvirt's chains see a packet: guests on the
  // same bridge (LIBVIRT_FWX), traffic into the bridge (LIBVIRT_FWI), out
  // of it (LIBVIRT_FWO); in each, the subnet accepts before the reject.
  r.forward.push_back("iifname " + c.br + " oifname " + c.br + " " + familyMatch(false) + " accept");
  if (v6General) r.forward.push_back("iifname " + c.br + " oifname " + c.br + " " + familyMatch(true) + " accept");

  const NetForwardMode mode = def.forward.mode;
  // IPv6 has no NAT unless <nat ipv6='yes'>: a nat network routes it.
  auto masquerades = [&](const NetIpDef& ip) {
    return mode == NetForwardMode::Nat && (!ip.isV6() || def.forward.natIpv6 == Tristate::Yes);
  };
  for (const auto& ip : def.ips) {
    if (mode == NetForwardMode::None) continue;
    allowIn(r, c, ip, masquerades(ip));
  }
  r.forward.push_back("oifname " + c.br + " " + familyMatch(false) + " reject");
  if (v6General) r.forward.push_back("oifname " + c.br + " " + familyMatch(true) + " reject");
  for (const auto& ip : def.ips) {
    if (mode == NetForwardMode::None) continue;
    allowOut(r, c, ip);
  }
  r.forward.push_back("iifname " + c.br + " " + familyMatch(false) + " reject");
  if (v6General) r.forward.push_back("iifname " + c.br + " " + familyMatch(true) + " reject");

  for (const auto& ip : def.ips)
    if (masquerades(ip)) SV_TRY_VOID(natRules(r, def, c, ip));

  std::string s = "add table " + tablePrefix() + "\n";
  for (const auto& spec : kChains) {
    const std::string chain = tablePrefix() + " " + nftChainName(def.name, spec.role);
    addChain(s, def.name, spec);
    s += "flush chain " + chain + "\n";
    const auto& rules = r.of(spec.role);
    // A chain this network does not need goes (it may be left from an
    // older definition of the same network).
    if (rules.empty()) s += "delete chain " + chain + "\n";
    for (const auto& rule : rules) s += "add rule " + chain + " " + rule + "\n";
  }
  return s;
}

}  // namespace splitvirt::network
