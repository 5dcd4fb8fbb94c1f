#include "daemon/systemd.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>
#include <fcntl.h>

namespace splitvirt::daemon {

Result<std::map<std::string, int>> takeActivationFds() {
  std::map<std::string, int> out;
  const char* pid = std::getenv("LISTEN_PID");
  if (!pid || std::strtol(pid, nullptr, 10) != static_cast<long>(getpid())) return out;
  if (!std::getenv("LISTEN_FDNAMES"))
    return Error::internal(ErrorDomain::Rpc, "Missing LISTEN_FDNAMES env from systemd socket activation");
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) return Error::systemError(ErrorDomain::Rpc, -n, "cannot read socket activation fds");
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    out[names && names[i] ? names[i] : ""] = fd;
    if (names) std::free(names[i]);
  }
  std::free(names);
  return out;
}

void notifyReady() { sd_notify(0, "READY=1"); }
void notifyStopping() { sd_notify(0, "STOPPING=1"); }

bool underSystemdJournal() { return std::getenv("JOURNAL_STREAM") != nullptr; }

}  // namespace splitvirt::daemon
