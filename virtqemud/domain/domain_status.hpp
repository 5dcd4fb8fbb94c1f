// Runtime status of a running guest, kept in <runDir>/qemu/NAME.status so a
// restarted (or SIGKILLed and restarted) daemon can find its guests again.
#pragma once

#include "util/error.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace splitvirt::qemu {

struct DomainStatus {
  std::string name;
  int id = -1;
  pid_t pid = 0;
  std::string monitorPath;
  std::string domainDir;
  std::string logPath;
  int state = 0;
  int reason = 0;
  bool persistent = true;
  // QEMU is spawned but the start has not got as far as the monitor: a
  // daemon that died then left a half-started process (killed at restart).
  bool starting = false;
  std::string liveXml;  // the running definition
};

Result<void> saveDomainStatus(const std::string& dir, const DomainStatus& s);
// Unreadable or torn files are skipped (and removed).
std::vector<DomainStatus> loadDomainStatuses(const std::string& dir);
void removeDomainStatus(const std::string& dir, const std::string& name);

}  // namespace splitvirt::qemu
