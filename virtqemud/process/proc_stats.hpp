// What the kernel counts for a guest's processes and taps, read the way
// libvirt reads it when it has no cgroup for the guest (virProcessGetStatInfo,
// virNetDevTapInterfaceStats): /proc/<pid>[/task/<tid>]/stat and schedstat,
// /sys/class/net/<dev>/statistics.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace splitvirt::qemu {

struct ProcessStat {
  uint64_t userNs = 0;
  uint64_t systemNs = 0;
  int lastCpu = -1;    // the CPU it last ran on
  uint64_t vsizeBytes = 0;
  uint64_t rssPages = 0;
  uint64_t totalNs() const { return userNs + systemNs; }
};

// tid 0: the whole process. nullopt when it is gone.
std::optional<ProcessStat> readProcessStat(pid_t pid, pid_t tid = 0);
// Nanoseconds the thread spent runnable but waiting for a CPU (schedstat).
std::optional<uint64_t> readThreadWaitNs(pid_t pid, pid_t tid);
// CPU time (user + system) a process has used, in nanoseconds; 0 if gone.
uint64_t processCpuTimeNs(pid_t pid);

struct NetStats {
  int64_t rxBytes = 0, rxPackets = 0, rxErrs = 0, rxDrop = 0;
  int64_t txBytes = 0, txPackets = 0, txErrs = 0, txDrop = 0;
};
// A tap's counters as the guest sees them: what the host side sends is what
// the guest receives, so rx and tx are swapped (libvirt does the same).
std::optional<NetStats> readTapStats(const std::string& dev);

}  // namespace splitvirt::qemu
