// Where a daemon keeps things. With --root DIR every path is under DIR, so
// a whole daemon set runs self-contained; without it, libvirt's system paths.
#pragma once

#include <string>

namespace splitvirt::daemon {

struct DaemonPaths {
  std::string root;       // "" = system
  std::string runDir;     // <root>/run/libvirt
  std::string configDir;  // <root>/etc/libvirt
  std::string stateDir;   // <root>/var/lib/libvirt
  std::string logDir;     // <root>/var/log/libvirt
  std::string cacheDir;   // <root>/var/cache/libvirt

  static DaemonPaths forRoot(const std::string& root) {
    std::string r = root;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    if (r == "/") r.clear();
    return DaemonPaths{r, r + "/run/libvirt", r + "/etc/libvirt", r + "/var/lib/libvirt", r + "/var/log/libvirt",
                       r + "/var/cache/libvirt"};
  }
};

}  // namespace splitvirt::daemon
