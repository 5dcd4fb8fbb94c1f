// DHCP leases for NETWORK_GET_DHCP_LEASES, read from dnsmasq's own lease
// file (dhcp-leasefile=): libvirt reads the JSON that its leaseshelper
// writes instead, but fills the same fields (networkGetDHCPLeases).
//
// dnsmasq's format, one lease a line:
//   IPv4:  <expiry> <mac> <ip> <hostname|*> <client-id|*>
//   then, when DHCPv6 is on, "duid <server duid>" and
//   IPv6:  <expiry> [T]<iaid> <ip> <hostname|*> <client duid|*>
// <expiry> is seconds since the epoch, 0 for an infinite lease.
#pragma once

#include "conf/network_def.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::network {

// remote_network_dhcp_lease, field for field.
struct DhcpLease {
  std::string iface;       // the network's bridge
  int64_t expiryTime = 0;  // seconds since the epoch; 0 = never expires
  int type = 0;            // VIR_IP_ADDR_TYPE_IPV4 (0) / _IPV6 (1)
  // IPv6 leases do not record the MAC: it is taken from the client's DUID
  // when that is link-layer based (DUID-LLT/DUID-LL on Ethernet), else
  // absent (libvirt's leaseshelper got it from dnsmasq's environment).
  std::optional<std::string> mac;
  std::optional<std::string> iaid;  // IPv6 only
  std::string ipaddr;
  unsigned prefix = 0;                  // of the network's first <ip> of that family
  std::optional<std::string> hostname;  // dnsmasq's "*" = none
  std::optional<std::string> clientId;  // IPv4 client-id, IPv6 client DUID
  bool operator==(const DhcpLease&) const = default;
};

// The live leases in `text`: expired ones (expiry in the past, not 0) are
// left out, and with `mac` only that MAC's (compared case-insensitively).
// Lines that do not parse are skipped: dnsmasq rewrites the file while we
// may read it.
std::vector<DhcpLease> parseDnsmasqLeases(std::string_view text, const conf::NetworkDef& def, int64_t now,
                                          std::optional<std::string_view> mac = std::nullopt);

// The same from the file; a missing file is no leases (the network has no
// dnsmasq, or it has not given out any yet), as in libvirt.
Result<std::vector<DhcpLease>> readDnsmasqLeases(const std::string& path, const conf::NetworkDef& def, int64_t now,
                                                 std::optional<std::string_view> mac = std::nullopt);

}  // namespace splitvirt::network
