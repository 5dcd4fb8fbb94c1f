// Gathering a guest's statistics (domain_stats.cpp); the procedures that
// answer with them are in stats_procs.cpp.
#pragma once

#include "objects/domain_list.hpp"
#include "monitor/qmp_commands.hpp"
#include "monitor/qmp_jobs.hpp"
#include "monitor/qmp_stats.hpp"
#include "xdr/types.hpp"

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace splitvirt::qemu {

// VIR_DOMAIN_STATS_* groups.
inline constexpr unsigned kStatsState = 0x1, kStatsCpuTotal = 0x2, kStatsBalloon = 0x4, kStatsVcpu = 0x8,
                          kStatsInterface = 0x10, kStatsBlock = 0x20, kStatsPerf = 0x40, kStatsIothread = 0x80,
                          kStatsMemory = 0x100, kStatsDirtyRate = 0x200, kStatsVm = 0x400;

// What stats need of a running guest's QEMU.
struct LiveGuest {
  pid_t pid = 0;
  QmpClient* mon = nullptr;
};

// A guest's typed parameters for the groups asked (live: its QEMU, when it runs).
std::vector<xdr::TypedParam> collectDomainStats(const objects::DomainView& v, const LiveGuest* live, unsigned groups);

struct MemStatValue {
  int tag;  // VIR_DOMAIN_MEMORY_STAT_*
  uint64_t value;
};
// MEMORY_STATS of a running guest, in libvirt's order: actual, the guest's
// balloon statistics, rss.
std::vector<MemStatValue> memoryStats(const LiveGuest& g, const conf::DomainDef& def);
std::string balloonQomPath(const conf::DomainDef& def);

// Sizes of an image file as libvirt reports them for a shut-off guest.
struct DiskSizes {
  bool valid = false;
  uint64_t allocation = 0, capacity = 0, physical = 0;
};
DiskSizes fileDiskSizes(const std::string& path);

// One running disk: its node, I/O counters and image sizes.
struct LiveDisk {
  std::string nodeName;
  std::optional<QmpBlockStats> stats;
  uint64_t virtualSize = 0, actualSize = 0;
  unsigned backingIndex = 1;
};
struct LiveBlockInfo {
  std::vector<QmpBlockInfo> devices;
  std::vector<QmpBlockStats> stats;
  std::vector<QmpNamedNode> nodes;
  std::optional<LiveDisk> find(const conf::DiskDef& disk) const;
};
LiveBlockInfo queryLiveBlocks(QmpClient& mon);

}  // namespace splitvirt::qemu
