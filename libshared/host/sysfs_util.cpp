// Shared helpers of the host readers; see sysfs_util.hpp.
#include "host/sysfs_util.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace splitvirt::host::detail {

std::string path(std::string_view root, std::string_view p) {
  std::string r(root);
  r += p;
  return r;
}

std::optional<std::string> readFile(const std::string& p, size_t maxBytes) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return std::nullopt;
  std::string s;
  s.resize(maxBytes);
  f.read(s.data(), static_cast<std::streamsize>(maxBytes));
  s.resize(static_cast<size_t>(f.gcount()));
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool isDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<unsigned> listNumbered(const std::string& dir, std::string_view prefix) {
  std::vector<unsigned> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n.substr(0, prefix.size()) != prefix) continue;
    if (auto v = toNum<unsigned>(n.substr(prefix.size()))) out.push_back(*v);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string hostArch() {
  struct utsname u;
  if (::uname(&u) != 0) return "x86_64";
  std::string m = u.machine;
  if (m == "i386" || m == "i486" || m == "i586") return "i686";
  if (m == "amd64") return "x86_64";
  return m;
}

}  // namespace splitvirt::host::detail
