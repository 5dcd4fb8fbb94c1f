// The QMP queries behind libvirt's statistics APIs: block I/O counters
// (query-blockstats), the balloon (query-balloon, qom-get guest-stats) and
// the dirty page rate (query-dirty-rate).
#pragma once

#include "monitor/qmp_commands.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::qemu {

// One frontend of query-blockstats (query-nodes=false).
struct QmpBlockStats {
  std::string qdev;      // "/machine/peripheral/virtio-disk0/virtio-backend" or the id
  std::string nodeName;  // the format node it is attached to
  int64_t rdBytes = 0, wrBytes = 0, rdOps = 0, wrOps = 0, flushOps = 0;
  int64_t rdTimeNs = 0, wrTimeNs = 0, flushTimeNs = 0;
  uint64_t wrHighestOffset = 0;  // of the protocol (file) node below: what the image occupies
};
Result<std::vector<QmpBlockStats>> parseQueryBlockstats(std::string_view json);
Result<std::vector<QmpBlockStats>> queryBlockstats(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);

// query-balloon "actual" in bytes; nullopt without a balloon device.
std::optional<uint64_t> queryBalloonActual(QmpClient& c);

// The guest's own memory statistics (virtio-balloon "guest-stats"), in
// libvirt's MEMORY_STATS tags and units; absent values (-1) are left out.
struct GuestMemStat {
  int tag;
  uint64_t value;
};
std::vector<GuestMemStat> parseBalloonGuestStats(std::string_view json);
std::vector<GuestMemStat> queryBalloonGuestStats(QmpClient& c, const std::string& balloonPath);

struct QmpDirtyRate {
  int status = 0;  // 0 unstarted, 1 measuring, 2 measured
  int64_t startTime = 0;
  int calcTime = 0;
  std::string mode;
  std::optional<int64_t> mbPerSecond;
};
Result<QmpDirtyRate> queryDirtyRate(QmpClient& c);

}  // namespace splitvirt::qemu
