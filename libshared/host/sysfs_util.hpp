// Internal helpers shared by the host readers (hostinfo.cpp, cpu_model.cpp):
// small file, sysfs and number-parsing utilities.  Not part of the public
// host API; include only from libshared/host/*.cpp.
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace splitvirt::host::detail {

// root + p ("" root = the real host).
std::string path(std::string_view root, std::string_view p);

// Up to maxBytes of the file; nullopt if it cannot be opened.
std::optional<std::string> readFile(const std::string& p, size_t maxBytes = 1 << 20);

// Strips leading and trailing whitespace.
std::string_view trim(std::string_view s);

// Whole-string number (after trim).  base 0: "0x" prefix means hex, else decimal.
template <class T>
std::optional<T> toNum(std::string_view s, int base = 10) {
  s = trim(s);
  if (base == 0) {
    base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      s.remove_prefix(2);
    }
  }
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A file holding one number (sysfs style).
template <class T>
std::optional<T> readNum(const std::string& p) {
  auto s = readFile(p, 4096);
  if (!s) return std::nullopt;
  return toNum<T>(*s);
}

bool isDir(const std::string& p);

// Numeric suffixes of entries named `prefix<N>` in dir, ascending.
std::vector<unsigned> listNumbered(const std::string& dir, std::string_view prefix);

// uname() machine, normalised as libvirt's virArchFromHost ("x86_64", "i686").
std::string hostArch();

}  // namespace splitvirt::host::detail
