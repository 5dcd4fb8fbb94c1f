// The daemon's handle on one running QEMU: its process, its monitor and the
// flags that tell our own actions apart from the guest's.
#pragma once

#include "monitor/qmp_client.hpp"
#include "qemu_driver.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <memory>
#include <string>
#include <vector>

namespace splitvirt::qemu {

struct QemuDriver::Runtime {
  pid_t pid = 0;
  uint64_t generation = 0;
  std::string monitorPath;
  std::string domainDir;
  std::string logPath;
  std::unique_ptr<QmpClient> mon;
  std::vector<int> vncPorts;              // allocated for autoport graphics
  std::atomic<bool> stopping{false};      // we are taking it down
  std::atomic<bool> expectStop{false};    // a STOP event is ours (suspend)
  std::atomic<bool> expectResume{false};  // a RESUME event is ours (start, resume)
  std::atomic<bool> fakeReboot{false};    // ACPI reboot: reset instead of stop on SHUTDOWN
  std::atomic<bool> guestShutdown{false}; // SHUTDOWN seen: an exit is a clean shutdown
  // With -no-shutdown QEMU pauses right after SHUTDOWN; that STOP is not a suspend.
  std::atomic<bool> stopAfterShutdown{false};

  // Hotplug: block node names of hotplugged disks, and unplugs in flight.
  std::atomic<unsigned> hotplugSeq{1};
  std::mutex unplugMutex;
  std::condition_variable unplugCv;
  std::map<std::string, QemuDriver::PendingUnplug> pendingUnplugs;  // by alias
  std::set<std::string> unplugWaiters, unplugDone;

  // Block jobs a user started (virsh blockcommit / blockpull), by disk
  // target; our own snapshot jobs are not in here.
  struct BlockJob {
    std::string jobId;
    std::string target, path;  // the disk's target and its source when the job started
    int type = 0;              // VIR_DOMAIN_BLOCK_JOB_TYPE_*
    std::string baseFile, baseFormat;
    bool ready = false, pivot = false, abort = false;
  };
  std::mutex blockJobsMutex;
  std::condition_variable blockJobsCv;
  std::map<std::string, BlockJob> blockJobs;
};

}  // namespace splitvirt::qemu
