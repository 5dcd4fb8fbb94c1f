// Starting and stopping guest processes. The daemon forks QEMU itself (it is
// a child subreaper) and reaps it itself; nothing here talks QMP.
#pragma once

#include "util/error.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace splitvirt::qemu {

// fork + exec argv with stdout/stderr appended to logPath, stdin from
// /dev/null, a fresh session, default signal mask and dispositions, and no
// file descriptors but 0-2 and keepFds.
Result<pid_t> spawnProcess(const std::vector<std::string>& argv, const std::string& logPath,
                           const std::vector<int>& keepFds);

// True if pid exists and its command line contains `needle` (guards against
// pid reuse when reconnecting to a guest after a daemon restart).
bool processMatches(pid_t pid, const std::string& needle);

// Processes whose command line contains `needle` (a per-start path such as
// the monitor socket identifies one QEMU).
std::vector<pid_t> findProcesses(const std::string& needle);

// Reaps pid if it is our child and has exited; true if it is gone.
bool reapIfExited(pid_t pid);

// SIGTERM, then SIGKILL after `grace`; waits until the process is gone
// (reaped when it is our child). Returns false if it would not die.
bool terminateProcess(pid_t pid, std::chrono::milliseconds grace, std::chrono::milliseconds hardLimit);

// The last `maxBytes` of a log file, for "QEMU failed to start" errors.
std::string logTail(const std::string& path, size_t maxBytes = 2048);

}  // namespace splitvirt::qemu
