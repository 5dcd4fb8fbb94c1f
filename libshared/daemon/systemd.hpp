// systemd socket activation and readiness, matched by FileDescriptorName.
#pragma once

#include "util/error.hpp"

#include <map>
#include <string>

namespace splitvirt::daemon {

// LISTEN_FDS/LISTEN_FDNAMES when activated for this pid: name -> fd.
// Returns an empty map when not socket-activated.
Result<std::map<std::string, int>> takeActivationFds();
void notifyReady();
void notifyStopping();
bool underSystemdJournal();

}  // namespace splitvirt::daemon
