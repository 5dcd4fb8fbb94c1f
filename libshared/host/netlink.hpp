// Link, bridge and address management over rtnetlink (NETLINK_ROUTE), so the
// network driver never shells out to `ip` on a hot path. Each call opens one
// synchronous socket, sends one request and waits for the kernel's answer;
// calls are blocking but short (no process spawn), and safe from any thread.
//
// Errors carry libvirt's texts for the same operations (virnetdev*.c,
// virnetlink.c): VIR_ERR_SYSTEM_ERROR with the kernel's errno text, e.g.
// "error creating bridge interface virbr1: File exists".
#pragma once

#include "util/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::host {

using MacBytes = std::array<uint8_t, 6>;

// An IPv4/IPv6 address as netlink carries it. Same shape and enumerator
// order as conf::IpAddr (host may not include conf: both are level 1), so a
// caller converts with {static_cast<InetAddr::Family>(ip.family), ip.bytes}.
struct InetAddr {
  enum class Family : uint8_t { None, V4, V6 };
  Family family = Family::None;
  std::array<uint8_t, 16> bytes{};  // network byte order; V4 uses [0..3]

  bool isV4() const { return family == Family::V4; }
  bool isV6() const { return family == Family::V6; }
  bool operator==(const InetAddr&) const = default;

  static std::optional<InetAddr> parse(std::string_view text);
  std::string str() const;  // inet_ntop form; "" for None
};

// ---- links -----------------------------------------------------------------

struct BridgeParams {
  std::optional<MacBytes> mac;  // fixed address: the bridge keeps it whatever ports join
  unsigned mtu = 0;             // 0 = kernel default (then ports' minimum)
  // libvirt's <bridge stp= delay=>; nullopt leaves the kernel default
  // (STP off, 15 s). With STP on the kernel raises a delay below 2 s to 2 s.
  std::optional<bool> stp;
  std::optional<unsigned> forwardDelayMs;
};

// virNetDevBridgeCreate + SetMTU + SetSTPDelay + SetSTP: one RTM_NEWLINK
// (kind "bridge", MAC and IFLA_BR_* in it), then the MTU as a separate change
// so the bridge treats it as user-set and does not follow its ports' MTU.
// A failed MTU change removes the new bridge again.
Result<void> createBridge(const std::string& name, const BridgeParams& params = {});
Result<void> setBridgeStp(const std::string& bridge, bool enable);
Result<void> setBridgeForwardDelay(const std::string& bridge, unsigned delayMs);

// A veth pair `a` <-> `b`, both in the current namespace, both down.
Result<void> createVethPair(const std::string& a, const std::string& b);

// RTM_DELLINK; works on bridges that are up and on either end of a veth.
Result<void> deleteLink(const std::string& name);

// ENODEV is "no"; any other failure (a name the kernel rejects) is an error.
Result<bool> linkExists(const std::string& name);
Result<unsigned> ifIndex(const std::string& name);

// "Link" in the names keeps them apart from tap.hpp's ioctl setMtu(name, int).
Result<void> setLinkUp(const std::string& name, bool up);
Result<void> setLinkMtu(const std::string& name, unsigned mtu);
Result<void> setLinkMac(const std::string& name, const MacBytes& mac);

// Enslaves `ifname` to `bridge` (SIOCBRADDIF's netlink form) / releases it
// from whatever master it has.
Result<void> setMaster(const std::string& ifname, const std::string& bridge);
Result<void> clearMaster(const std::string& ifname);

// What one RTM_GETLINK tells about a device.
struct LinkInfo {
  unsigned index = 0;
  std::string name;
  std::string kind;          // IFLA_INFO_KIND: "bridge", "veth", "tun", "" for lo/physical
  unsigned mtu = 0;
  std::optional<MacBytes> mac;  // absent unless the link address is 6 bytes
  bool up = false;              // IFF_UP (administrative state)
  unsigned masterIndex = 0;     // 0 = no master
  // Bridges only (IFLA_BR_*).
  std::optional<bool> stp;
  std::optional<unsigned> forwardDelayMs;
};
Result<LinkInfo> linkInfo(const std::string& name);

// Names of the devices whose master is `bridge` (its ports), in ifindex order:
// what a restarted daemon takes over and what cleanup detaches.
Result<std::vector<std::string>> listLinksWithMaster(const std::string& bridge);

// ---- addresses -------------------------------------------------------------

struct InterfaceAddress {
  InetAddr address;
  unsigned prefix = 0;
  std::optional<InetAddr> broadcast;  // IPv4 only
  uint8_t scope = 0;                  // RT_SCOPE_*: 0 universe, 253 link, 254 host
  uint32_t flags = 0;                 // IFA_F_* (IFA_F_TENTATIVE, IFA_F_PERMANENT, ...)
};

// virNetDevIPAddrAdd: an IPv4 address gets the subnet's broadcast address
// unless `broadcast` says otherwise. Fails with EEXIST when already present.
Result<void> addAddress(const std::string& ifname, const InetAddr& addr, unsigned prefix,
                        const std::optional<InetAddr>& broadcast = std::nullopt);
Result<void> removeAddress(const std::string& ifname, const InetAddr& addr, unsigned prefix);
// Both families, in the kernel's order (IPv4 first).
Result<std::vector<InterfaceAddress>> listAddresses(const std::string& ifname);

// Writes /proc/sys/net/ipv6/conf/<ifname>/<key> (accept_ra, autoconf,
// disable_ipv6, ...), as libvirt's networkSetIPv6Sysctl. With `ignoreMissing`
// a missing file (IPv6 disabled in the kernel) is not an error: returns false.
Result<bool> setIpv6Sysctl(const std::string& ifname, const std::string& key, const std::string& value,
                           bool ignoreMissing = false);

}  // namespace splitvirt::host
