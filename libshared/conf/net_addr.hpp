// IPv4/IPv6 addresses and subnet arithmetic for network definitions
// (libvirt's virSocketAddr subset that network_conf.c and the network
// driver use): parse/format, prefix <-> netmask, "same subnet", ranges.
#pragma once

#include "util/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace splitvirt::conf {

struct IpAddr {
  enum class Family : uint8_t { None, V4, V6 };
  Family family = Family::None;
  // Network byte order; V4 uses bytes[0..3].
  std::array<uint8_t, 16> bytes{};

  bool isV4() const { return family == Family::V4; }
  bool isV6() const { return family == Family::V6; }
  bool valid() const { return family != Family::None; }
  bool operator==(const IpAddr&) const = default;

  // inet_pton of either family; nullopt on anything else.
  static std::optional<IpAddr> parse(std::string_view text);
  // inet_ntop form ("10.0.0.1", "fd00::1"); empty for None.
  std::string str() const;
};

// Bits of the prefix of a contiguous netmask ("255.255.255.0" -> 24); nullopt
// when the mask is not contiguous.
std::optional<unsigned> netmaskToPrefix(const IpAddr& mask);
IpAddr prefixToNetmask(unsigned prefix, IpAddr::Family family);
// The address with host bits cleared.
IpAddr networkAddress(const IpAddr& addr, unsigned prefix);
// True when both are the same family and share the first `prefix` bits.
bool sameSubnet(const IpAddr& a, const IpAddr& b, unsigned prefix);
// Number of addresses from start to end inclusive (libvirt's
// virSocketAddrGetRange); nullopt when end < start or families differ.
std::optional<uint64_t> rangeSize(const IpAddr& start, const IpAddr& end);
// -1/0/1 ordering within one family.
int compareAddr(const IpAddr& a, const IpAddr& b);
// IPv4 broadcast address of the subnet.
IpAddr broadcastAddress(const IpAddr& addr, unsigned prefix);

// ---- libvirt's virSocketAddr* with their error reporting ----

// virSocketAddrParse: getaddrinfo(AI_NUMERICHOST), so the inet_aton forms
// ("10.1", "0x0a000001") are accepted as libvirt accepts them. `family`
// None = any. Error: VIR_ERR_SYSTEM_ERROR, VIR_FROM_NONE, "Cannot parse
// socket address '<text>': <gai_strerror>".
Result<IpAddr> parseSocketAddr(std::string_view text, IpAddr::Family family = IpAddr::Family::None);

// virSocketAddrGetIPPrefix: `prefix` when > 0, else the bits of `netmask`
// (-1 when not contiguous), else the classful default of an IPv4 address
// (-1 for class D/E, 0 for 0.0.0.0), 64 for IPv6 (0 for ::), 0 otherwise.
int ipPrefix(const IpAddr& address, const std::optional<IpAddr>& netmask, unsigned prefix);

// virSocketAddrGetRange: the size of start..end, with libvirt's
// VIR_ERR_INTERNAL_ERROR (VIR_FROM_NONE) texts for mixed families, a range
// outside `network`/`prefix` (when network is given), an IPv4 range that
// starts on the network address or ends on the broadcast address, ranges
// over 65535 addresses and reversed ranges.
Result<unsigned> checkAddrRange(const IpAddr& start, const IpAddr& end, const IpAddr* network = nullptr,
                                int prefix = 0);

}  // namespace splitvirt::conf
