// Forward mode names, derived values of a network definition, and the
// network driver's define-time checks (libvirt 9.0 bridge_driver.c
// networkValidate, minus what needs the driver's state: bridge name
// assignment and the bridge MAC address).
#include "conf/network_def_detail.hpp"

#include <array>
#include <cerrno>

namespace splitvirt::conf {

namespace {

using namespace netdef_detail;

constexpr std::array<std::string_view, 9> kForwardModeNames = {"none",    "nat",  "route",       "open",   "bridge",
                                                               "private", "vepa", "passthrough", "hostdev"};

}  // namespace

std::string_view netForwardModeName(NetForwardMode m) { return kForwardModeNames[static_cast<size_t>(m)]; }

std::optional<NetForwardMode> netForwardModeFromName(std::string_view s) {
  for (size_t i = 0; i < kForwardModeNames.size(); i++)
    if (kForwardModeNames[i] == s) return static_cast<NetForwardMode>(i);
  return std::nullopt;
}

int NetIpDef::libvirtPrefix() const { return ipPrefix(address, netmask, prefix.value_or(0)); }

unsigned NetIpDef::effectivePrefix() const {
  int p = libvirtPrefix();
  return p < 0 ? 0 : static_cast<unsigned>(p);
}

bool NetworkDef::ownsBridge() const {
  switch (forward.mode) {
    case NetForwardMode::None:
    case NetForwardMode::Nat:
    case NetForwardMode::Route:
    case NetForwardMode::Open: return true;
    default: return false;
  }
}

Result<void> validateNetworkDef(const NetworkDef& def) {
  if (def.name.find('\n') != std::string::npos) return Error::xmlDetail(kFromXml, "invalid char in name: \n");

  const std::string mode(netForwardModeName(def.forward.mode));
  const std::string tail = " in network " + def.name + " with forward mode='" + mode + "'";
  // Only the L3 modes libvirt configures itself have a host-side bridge
  // address, DNS or domain.
  if (!def.ownsBridge()) {
    if (def.mac) return unsupportedErr("Unsupported <mac> element" + tail);
    if (!def.ips.empty()) return unsupportedErr("Unsupported <ip> element" + tail);
    if (!def.dns.txts.empty() || !def.dns.hosts.empty() || !def.dns.srvs.empty())
      return unsupportedErr("Unsupported <dns> element" + tail);
    if (def.domainName) return unsupportedErr("Unsupported <domain> element" + tail);
  }

  // The forward pool lists either netdevs or PCI addresses, never both
  // (the parser keeps only one kind).
  if (def.forward.mode == NetForwardMode::Hostdev && !def.forward.interfaces.empty())
    return unsupportedErr("hostdev network '" + def.name + "' lists '" + def.forward.interfaces.front() +
                          "' in the device pool, but hostdev networks require all devices to be listed by PCI "
                          "address, not network device name");
  if (def.forward.mode != NetForwardMode::Hostdev && def.forward.pciAddrCount > 0)
    return unsupportedErr("network '" + def.name + "' has forward mode '" + mode +
                          "'  but lists a device by PCI address in the device pool. This is only supported for "
                          "networks with forward mode 'hostdev'");
  if ((def.forward.pfDev ? 1 : 0) + (def.forward.interfaces.empty() ? 0 : 1) + (def.forward.pciAddrCount ? 1 : 0) > 1)
    return unsupportedErr("<address>, <interface>, and <pf> elements of <forward> in network " + def.name +
                          " are mutually exclusive");

  bool v4dhcp = false, v6dhcp = false;
  for (const auto& ip : def.ips) {
    if (ip.ranges.empty() && ip.hosts.empty()) continue;
    bool& seen = ip.isV6() ? v6dhcp : v4dhcp;
    if (seen)
      return unsupportedErr(ip.isV6() ? "Multiple IPv6 dhcp sections found -- dhcp is supported only for a single IPv6 "
                                        "address on each network"
                                      : "Multiple IPv4 dhcp sections found -- dhcp is supported only for a single IPv4 "
                                        "address on each network");
    seen = true;
  }

  // splitvirt has no macvtap or SR-IOV support: libvirt would accept these
  // modes and fail later at net-start or when a guest plugs in.
  switch (def.forward.mode) {
    case NetForwardMode::Private:
    case NetForwardMode::Vepa:
    case NetForwardMode::Passthrough:
    case NetForwardMode::Hostdev:
      return unsupportedErr("forward mode='" + mode + "' is not supported by this network driver (network '" +
                            def.name + "')");
    default: break;
  }
  return {};
}

Result<void> checkBridgeNameLength(std::string_view bridge) {
  if (bridge.size() <= kIfNameMax) return {};
  return Error::systemError(ErrorDomain::None, ERANGE, "error creating bridge interface " + std::string(bridge));
}

}  // namespace splitvirt::conf
