#include "dnsmasq/dnsmasq_leases.hpp"

#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <unistd.h>

namespace splitvirt::network {

namespace {

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::string> starIsNone(std::string_view f) {
  if (f == "*") return std::nullopt;
  return std::string(f);
}

bool sameMac(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The Ethernet MAC inside a DUID-LLT (type 1) or DUID-LL (type 3) with
// hardware type 1; "00:01:00:01:<4 time bytes>:<mac>" / "00:03:00:01:<mac>".
std::optional<std::string> macFromDuid(std::string_view duid) {
  if (duid.size() == 41 && duid.substr(0, 12) == "00:01:00:01:") return std::string(duid.substr(24));
  if (duid.size() == 29 && duid.substr(0, 12) == "00:03:00:01:") return std::string(duid.substr(12));
  return std::nullopt;
}

unsigned prefixFor(const conf::NetworkDef& def, bool v6) {
  for (const auto& ip : def.ips)
    if (ip.isV6() == v6) return ip.effectivePrefix();
  return 0;
}

}  // namespace

std::vector<DhcpLease> parseDnsmasqLeases(std::string_view text, const conf::NetworkDef& def, int64_t now,
                                          std::optional<std::string_view> mac) {
  std::vector<DhcpLease> out;
  bool v6Section = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    auto f = splitFields(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (f.size() == 2 && f[0] == "duid") {
      v6Section = true;  // the server's DUID opens the DHCPv6 leases
      continue;
    }
    if (f.size() != 5) continue;
    int64_t expiry = 0;
    if (auto r = std::from_chars(f[0].data(), f[0].data() + f[0].size(), expiry); r.ec != std::errc() ||
                                                                                   r.ptr != f[0].data() + f[0].size())
      continue;
    if (expiry > 0 && expiry < now) continue;

    DhcpLease l;
    l.iface = def.bridge.value_or("");
    l.expiryTime = expiry;
    l.ipaddr = std::string(f[2]);
    const bool v6 = v6Section || l.ipaddr.find(':') != std::string::npos;
    l.type = v6 ? 1 : 0;
    l.hostname = starIsNone(f[3]);
    l.clientId = starIsNone(f[4]);
    if (v6) {
      std::string_view iaid = f[1];
      if (!iaid.empty() && iaid[0] == 'T') iaid.remove_prefix(1);  // temporary address (IA_TA)
      l.iaid = std::string(iaid);
      if (l.clientId) l.mac = macFromDuid(*l.clientId);
    } else {
      l.mac = std::string(f[1]);
    }
    l.prefix = prefixFor(def, v6);
    if (mac && !(l.mac && sameMac(*l.mac, *mac))) continue;
    out.push_back(std::move(l));
  }
  return out;
}

Result<std::vector<DhcpLease>> readDnsmasqLeases(const std::string& path, const conf::NetworkDef& def, int64_t now,
                                                 std::optional<std::string_view> mac) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::vector<DhcpLease>{};
    return Error::systemError(ErrorDomain::Network, errno, "Unable to read leases file: " + path);
  }
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Error::systemError(ErrorDomain::Network, e, "Unable to read leases file: " + path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return parseDnsmasqLeases(text, def, now, mac);
}

}  // namespace splitvirt::network
