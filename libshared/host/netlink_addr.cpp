// Interface addresses (RTM_*ADDR) and the per-interface IPv6 sysctls.
#include "host/netlink.hpp"
#include "host/netlink_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace splitvirt::host {

using nl::kFromNone;

namespace {

int afOf(const InetAddr& a) { return a.isV4() ? AF_INET : AF_INET6; }
size_t lenOf(const InetAddr& a) { return a.isV4() ? 4 : 16; }

Result<void> checkAddr(const InetAddr& addr, unsigned prefix) {
  if (!addr.isV4() && !addr.isV6()) return Error::invalidArg(kFromNone, "no IP address given");
  if (prefix > (addr.isV4() ? 32u : 128u))
    return Error::invalidArg(kFromNone, "invalid prefix " + std::to_string(prefix) + " for " + addr.str());
  return {};
}

// The last address of addr's IPv4 subnet (virSocketAddrBroadcastByPrefix).
InetAddr broadcastOf(const InetAddr& addr, unsigned prefix) {
  InetAddr b = addr;
  for (unsigned bit = prefix; bit < 32; ++bit) b.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  return b;
}

nl::Message addrRequest(uint16_t type, uint16_t flags, unsigned index, const InetAddr& addr, unsigned prefix) {
  nl::Message m(type, flags);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<uint8_t>(afOf(addr));
  ifa.ifa_prefixlen = static_cast<uint8_t>(prefix);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = index;
  m.putHeader(ifa);
  m.put(IFA_LOCAL, addr.bytes.data(), lenOf(addr));
  m.put(IFA_ADDRESS, addr.bytes.data(), lenOf(addr));
  return m;
}

std::optional<InetAddr> addrFrom(uint8_t family, std::optional<nl::Bytes> b) {
  InetAddr a;
  size_t len = family == AF_INET ? 4 : 16;
  if (!b || b->size() != len) return std::nullopt;
  a.family = family == AF_INET ? InetAddr::Family::V4 : InetAddr::Family::V6;
  std::copy(b->begin(), b->end(), a.bytes.begin());
  return a;
}

}  // namespace

std::optional<InetAddr> InetAddr::parse(std::string_view text) {
  std::string s(text);
  InetAddr a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::V4;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::V6;
    return a;
  }
  return std::nullopt;
}

std::string InetAddr::str() const {
  if (family == Family::None) return {};
  char buf[INET6_ADDRSTRLEN];
  if (!::inet_ntop(isV4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf)) return {};
  return buf;
}

Result<void> addAddress(const std::string& ifname, const InetAddr& addr, unsigned prefix,
                        const std::optional<InetAddr>& broadcast) {
  SV_TRY_VOID(checkAddr(addr, prefix));
  std::optional<InetAddr> bcast;
  if (addr.isV4()) bcast = broadcast.value_or(broadcastOf(addr, prefix));
  if (bcast && !bcast->isV4()) return Error::invalidArg(kFromNone, "broadcast address must be IPv4");
  unsigned index = 0;
  SV_TRY_ASSIGN(index, ifIndex(ifname));
  nl::Message m = addrRequest(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, addr, prefix);
  if (bcast) m.put(IFA_BROADCAST, bcast->bytes.data(), 4);
  nl::Answer a;
  SV_TRY_ASSIGN(a, nl::transact(m));
  if (a.err) {
    std::string what = addr.str() + "/" + std::to_string(prefix);
    if (bcast) what += " bcast " + bcast->str();
    return Error::systemError(kFromNone, a.err, "Failed to add IP address " + what + " to " + ifname);
  }
  return {};
}

Result<void> removeAddress(const std::string& ifname, const InetAddr& addr, unsigned prefix) {
  SV_TRY_VOID(checkAddr(addr, prefix));
  unsigned index = 0;
  SV_TRY_ASSIGN(index, ifIndex(ifname));
  nl::Message m = addrRequest(RTM_DELADDR, 0, index, addr, prefix);
  nl::Answer a;
  SV_TRY_ASSIGN(a, nl::transact(m));
  if (a.err) return Error::systemError(kFromNone, a.err, "Error removing IP address from " + ifname);
  return {};
}

Result<std::vector<InterfaceAddress>> listAddresses(const std::string& ifname) {
  unsigned index = 0;
  SV_TRY_ASSIGN(index, ifIndex(ifname));
  nl::Message m(RTM_GETADDR, NLM_F_DUMP);
  ifaddrmsg req{};
  req.ifa_family = AF_UNSPEC;
  req.ifa_index = index;  // honoured by kernels with strict checking only
  m.putHeader(req);
  nl::Answer a;
  SV_TRY_ASSIGN(a, nl::transact(m));
  if (a.err) return Error::systemError(kFromNone, a.err, "Unable to get the IP addresses of interface " + ifname);
  std::vector<InterfaceAddress> out;
  for (const auto& r : a.messages) {
    auto ifa = r.header<ifaddrmsg>();
    if (r.type != RTM_NEWADDR || !ifa) return nl::malformed();
    if (ifa->ifa_index != index || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)) continue;
    nl::Attrs tb(r.attrs(sizeof(ifaddrmsg)), IFA_MAX);
    if (!tb.valid()) return nl::malformed();
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from
    // it only on point-to-point links (the peer), and IPv6 sends only it.
    auto addr = addrFrom(ifa->ifa_family, tb.get(IFA_LOCAL));
    if (!addr) addr = addrFrom(ifa->ifa_family, tb.get(IFA_ADDRESS));
    if (!addr) return nl::malformed();
    InterfaceAddress ia;
    ia.address = *addr;
    ia.prefix = ifa->ifa_prefixlen;
    ia.broadcast = addrFrom(ifa->ifa_family, tb.get(IFA_BROADCAST));
    ia.scope = ifa->ifa_scope;
    ia.flags = tb.u32(IFA_FLAGS).value_or(ifa->ifa_flags);
    out.push_back(ia);
  }
  return out;
}

Result<bool> setIpv6Sysctl(const std::string& ifname, const std::string& key, const std::string& value,
                           bool ignoreMissing) {
  for (const std::string* part : {&ifname, &key}) {
    if (part->empty() || *part == "." || *part == ".." || part->find('/') != std::string::npos)
      return Error::invalidArg(kFromNone, "invalid sysctl path component '" + *part + "'");
  }
  std::string path = "/proc/sys/net/ipv6/conf/" + ifname + "/" + key;
  if (ignoreMissing && ::access(path.c_str(), W_OK) < 0 && errno == ENOENT) return false;
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    ssize_t n = ::write(fd, value.data(), value.size());
    if (n < 0) err = errno;
    else if (static_cast<size_t>(n) != value.size()) err = EIO;
    if (::close(fd) < 0 && !err) err = errno;
  }
  if (err) return Error::systemError(kFromNone, err, "cannot write to '" + path + "' on bridge '" + ifname + "'");
  return true;
}

}  // namespace splitvirt::host
