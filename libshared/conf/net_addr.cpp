#include "conf/net_addr.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace splitvirt::conf {

namespace {

size_t addrLen(const IpAddr& a) { return a.isV4() ? 4 : a.isV6() ? 16 : 0; }
unsigned familyBits(IpAddr::Family f) { return f == IpAddr::Family::V4 ? 32 : f == IpAddr::Family::V6 ? 128 : 0; }

// The first `prefix` bits of a and b agree.
bool prefixEqual(const IpAddr& a, const IpAddr& b, unsigned prefix) {
  for (size_t i = 0; i < addrLen(a) && prefix > 0; i++) {
    unsigned bits = prefix >= 8 ? 8 : prefix;
    auto mask = static_cast<uint8_t>(0xFF << (8 - bits));
    if ((a.bytes[i] & mask) != (b.bytes[i] & mask)) return false;
    prefix -= bits;
  }
  return true;
}

uint32_t v4Value(const IpAddr& a) {
  return (uint32_t{a.bytes[0]} << 24) | (uint32_t{a.bytes[1]} << 16) | (uint32_t{a.bytes[2]} << 8) | a.bytes[3];
}

Error rangeErr(std::string msg) { return Error::internal(ErrorDomain::None, std::move(msg)); }

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  std::string s(text);
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::V4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::V6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (isV4()) return inet_ntop(AF_INET, bytes.data(), buf, sizeof buf) ? buf : "";
  if (isV6()) return inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf) ? buf : "";
  return {};
}

std::optional<unsigned> netmaskToPrefix(const IpAddr& mask) {
  size_t len = addrLen(mask);
  if (len == 0) return std::nullopt;
  unsigned bits = 0;
  size_t i = 0;
  for (; i < len && mask.bytes[i] == 0xFF; i++) bits += 8;
  if (i < len) {
    uint8_t b = mask.bytes[i];
    unsigned ones = 0;
    while (b & 0x80) {
      ones++;
      b = static_cast<uint8_t>(b << 1);
    }
    if (b != 0) return std::nullopt;
    bits += ones;
    for (i++; i < len; i++)
      if (mask.bytes[i] != 0) return std::nullopt;
  }
  return bits;
}

IpAddr prefixToNetmask(unsigned prefix, IpAddr::Family family) {
  IpAddr m;
  m.family = family;
  unsigned left = std::min(prefix, familyBits(family));
  for (size_t i = 0; i < addrLen(m) && left > 0; i++) {
    unsigned bits = left >= 8 ? 8 : left;
    m.bytes[i] = static_cast<uint8_t>(0xFF << (8 - bits));
    left -= bits;
  }
  return m;
}

IpAddr networkAddress(const IpAddr& addr, unsigned prefix) {
  IpAddr mask = prefixToNetmask(prefix, addr.family);
  IpAddr out = addr;
  for (size_t i = 0; i < addrLen(addr); i++) out.bytes[i] &= mask.bytes[i];
  return out;
}

bool sameSubnet(const IpAddr& a, const IpAddr& b, unsigned prefix) {
  return a.valid() && a.family == b.family && prefixEqual(a, b, prefix);
}

int compareAddr(const IpAddr& a, const IpAddr& b) {
  int c = std::memcmp(a.bytes.data(), b.bytes.data(), addrLen(a));
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

std::optional<uint64_t> rangeSize(const IpAddr& start, const IpAddr& end) {
  if (!start.valid() || start.family != end.family || compareAddr(start, end) > 0) return std::nullopt;
  unsigned __int128 s = 0, e = 0;
  for (size_t i = 0; i < addrLen(start); i++) {
    s = (s << 8) | start.bytes[i];
    e = (e << 8) | end.bytes[i];
  }
  unsigned __int128 n = e - s;
  // An IPv6 range can be wider than 2^64; such a size saturates.
  if (n >= UINT64_MAX) return UINT64_MAX;
  return static_cast<uint64_t>(n) + 1;
}

IpAddr broadcastAddress(const IpAddr& addr, unsigned prefix) {
  IpAddr mask = prefixToNetmask(prefix, addr.family);
  IpAddr out = addr;
  for (size_t i = 0; i < addrLen(addr); i++) out.bytes[i] |= static_cast<uint8_t>(~mask.bytes[i]);
  return out;
}

Result<IpAddr> parseSocketAddr(std::string_view text, IpAddr::Family family) {
  std::string s(text);
  addrinfo hints{};
  hints.ai_family = family == IpAddr::Family::V4 ? AF_INET : family == IpAddr::Family::V6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* res = nullptr;
  if (int err = getaddrinfo(s.c_str(), nullptr, &hints, &res); err != 0) {
    Error e = Error::make(ErrorCode::SystemError, ErrorDomain::None, "%s", "system call error",
                          "Cannot parse socket address '" + s + "': " + gai_strerror(err));
    return e;
  }
  if (!res)
    return Error::make(ErrorCode::SystemError, ErrorDomain::None, "%s", "system call error",
                       "No socket addresses found for '" + s + "'");
  IpAddr a;
  if (res->ai_family == AF_INET) {
    a.family = IpAddr::Family::V4;
    std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, 4);
  } else if (res->ai_family == AF_INET6) {
    a.family = IpAddr::Family::V6;
    std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr, 16);
  }
  freeaddrinfo(res);
  return a;
}

int ipPrefix(const IpAddr& address, const std::optional<IpAddr>& netmask, unsigned prefix) {
  if (prefix > 0) return static_cast<int>(prefix);
  if (netmask && netmask->valid()) {
    auto bits = netmaskToPrefix(*netmask);
    return bits ? static_cast<int>(*bits) : -1;
  }
  if (address.isV4()) {
    uint32_t v = v4Value(address);
    if (v == 0) return 0;
    uint8_t octet = address.bytes[0];
    if ((octet & 0x80) == 0) return 8;
    if ((octet & 0xC0) == 0x80) return 16;
    if ((octet & 0xE0) == 0xC0) return 24;
    return -1;
  }
  if (address.isV6()) return address == IpAddr{IpAddr::Family::V6, {}} ? 0 : 64;
  return 0;
}

Result<unsigned> checkAddrRange(const IpAddr& start, const IpAddr& end, const IpAddr* network, int prefix) {
  const std::string s = start.str(), e = end.str();
  const std::string range = s + " - " + e;
  if (start.family != end.family) return rangeErr("mismatch of address family in range " + range);
  if (network) {
    const std::string net = network->str();
    if (start.family != network->family)
      return rangeErr("mismatch of address family in range " + range + " for network " + net);
    if (prefix < 0 || static_cast<unsigned>(prefix) > familyBits(network->family))
      return rangeErr("bad prefix " + std::to_string(prefix) + " for network " + net + " when  checking range " +
                      range);
    const std::string where = net + "/" + std::to_string(prefix);
    auto bits = static_cast<unsigned>(prefix);
    if (!prefixEqual(start, *network, bits) || !prefixEqual(end, *network, bits))
      return rangeErr("range " + range + " is not entirely within network " + where);
    if (start.isV4()) {
      if (start == networkAddress(*network, bits))
        return rangeErr("start of range " + range + " in network " + where + " is the network address");
      if (end == broadcastAddress(*network, bits))
        return rangeErr("end of range " + range + " in network " + where + " is the broadcast address");
    }
  }
  // libvirt's legacy limit: all but the last 16 bits must agree.
  if (start.isV4() || start.isV6()) {
    size_t len = addrLen(start);
    if (std::memcmp(start.bytes.data(), end.bytes.data(), len - 2) != 0)
      return rangeErr("range " + range + " is too large (> 65535)");
    int n = (end.bytes[len - 2] - start.bytes[len - 2]) * 256 + (end.bytes[len - 1] - start.bytes[len - 1]);
    if (n < 0)
      return rangeErr(start.isV4() ? "range " + range + " is reversed " : "range " + range + " start larger than end");
    return static_cast<unsigned>(n + 1);
  }
  return rangeErr("unsupported address family for range " + range + ", must be ipv4 or ipv6");
}

}  // namespace splitvirt::conf
