#include "conf/uuid.hpp"

#include <cstdio>
#include <fstream>
#include <random>

namespace splitvirt::conf {

namespace {
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::string formatUuid(const Uuid& u) {
  char buf[37];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
                u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  return buf;
}

std::optional<Uuid> parseUuid(std::string_view s) {
  Uuid out{};
  size_t p = 0;
  while (p < s.size() && isSpace(s[p])) p++;
  for (size_t i = 0; i < out.size();) {
    if (p >= s.size()) return std::nullopt;
    if (s[p] == '-' || s[p] == ' ') {
      p++;
      continue;
    }
    int hi = hexValue(s[p]);
    if (hi < 0 || p + 1 >= s.size()) return std::nullopt;
    int lo = hexValue(s[p + 1]);
    if (lo < 0) return std::nullopt;
    out[i++] = static_cast<uint8_t>(hi * 16 + lo);
    p += 2;
  }
  for (; p < s.size(); p++)
    if (!isSpace(s[p])) return std::nullopt;
  return out;
}

void randomBytes(uint8_t* buf, size_t len) {
  std::ifstream f("/dev/urandom", std::ios::binary);
  if (f && f.read(reinterpret_cast<char*>(buf), static_cast<std::streamsize>(len))) return;
  std::random_device rd;
  for (size_t i = 0; i < len; i++) buf[i] = static_cast<uint8_t>(rd());
}

Uuid generateUuid() {
  Uuid u{};
  randomBytes(u.data(), u.size());
  u[6] = static_cast<uint8_t>((u[6] & 0x0F) | (4 << 4));
  u[8] = static_cast<uint8_t>((u[8] & 0x3F) | (2 << 6));
  return u;
}

}  // namespace splitvirt::conf
