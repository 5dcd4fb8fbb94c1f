#include "conf/mac_addr.hpp"

#include "conf/uuid.hpp"

#include <cstdio>

namespace splitvirt::conf {

namespace {
bool isXDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

std::string formatMac(const MacAddr& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

// virMacAddrParse: six ':'-separated groups of 1 or 2 hex digits; anything
// at or below ' ' may follow the last one.
std::optional<MacAddr> parseMac(std::string_view s) {
  MacAddr out{};
  size_t p = 0;
  for (size_t i = 0; i < out.size(); i++) {
    if (p >= s.size() || !isXDigit(s[p])) return std::nullopt;
    size_t start = p;
    unsigned v = 0;
    while (p < s.size() && isXDigit(s[p])) {
      char c = s[p];
      v = v * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
      p++;
      if (p - start > 2) return std::nullopt;
    }
    out[i] = static_cast<uint8_t>(v);
    if (i == 5) {
      if (p == s.size() || static_cast<unsigned char>(s[p]) <= ' ') return out;
      return std::nullopt;
    }
    if (p >= s.size() || s[p] != ':') return std::nullopt;
    p++;
  }
  return std::nullopt;
}

MacAddr generateMac() {
  MacAddr m{0x52, 0x54, 0x00, 0, 0, 0};
  randomBytes(m.data() + 3, 3);
  return m;
}

}  // namespace splitvirt::conf
