// External snapshots with memory state (--memspec): the vCPUs stop (unless
// VIR_DOMAIN_SNAPSHOT_CREATE_LIVE), the guest's RAM goes to the memory file
// as a QEMU migration stream over a descriptor passed with getfd (QEMU runs
// with -sandbox spawn=deny, so no exec: migration), then the disks get
// their overlays and the guest runs on. The file holds the raw migration
// stream, not libvirt's save-image header.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_jobs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace splitvirt::qemu {

using objects::DomainState;
using objects::DomainView;

namespace {

constexpr unsigned kCreateHalt = 8, kCreateLive = 256;

Result<void> migrateToFile(QmpClient& mon, const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Error::systemError(kErr, errno, "Failed to create file '" + path + "'");
  SV_TRY_VOID(mon.executeWithFd("getfd", JsonArgs().str("fdname", "snapshot-memory").json(), fd));
  SV_TRY_VOID(mon.execute("migrate", JsonArgs().str("uri", "fd:snapshot-memory").json()));
  const auto until = std::chrono::steady_clock::now() + std::chrono::hours(1);
  while (std::chrono::steady_clock::now() < until) {
    auto r = mon.execute("query-migrate", "{}");
    if (!r) return r.error();
    if (r->find("\"completed\"") != std::string::npos) return {};
    if (r->find("\"failed\"") != std::string::npos || r->find("\"cancelled\"") != std::string::npos)
      return Error::operationFailed(kErr, "snapshot job: failed to save the memory state: " + *r);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (void)mon.execute("migrate_cancel", "{}");
  return Error::make(ErrorCode::OperationTimeout, kErr, "operation timed out: %s", "operation timed out",
                     "saving the memory state did not finish");
}

}  // namespace

Result<std::string> QemuDriver::createMemorySnapshot(const conf::Uuid& uuid, conf::SnapshotDef def, unsigned flags) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  if (!v->active()) return Error::operationInvalid(kErr, "domain is not running");
  if (!def.memoryFile) return Error::configUnsupported(kErr, "memory state of snapshot '" + def.name + "' needs a file");
  def.state = static_cast<conf::SnapshotState>(static_cast<int>(v->state));
  SV_TRY_VOID(conf::alignSnapshotDisks(def, nullptr, conf::SnapshotLocation::External, true));
  for (auto& sd : def.disks)
    if (sd.snapshot == conf::SnapshotLocation::Internal)
      return Error::configUnsupported(kErr, "mixing internal and external targets for a snapshot is not yet supported");
  SV_TRY_VOID(prepareNewSnapshot(uuid, def));
  auto rt = runtime(uuid);
  if (!rt || !rt->mon) return Error::operationInvalid(kErr, "domain is not running");

  const bool wasRunning = v->state == DomainState::Running;
  // The guest stops for the save (as libvirt without --live); with --live
  // the migration itself stops it at the end.
  rt->expectStop = wasRunning;
  if (wasRunning && !(flags & kCreateLive))
    if (auto r = stop(*rt->mon); !r) {
      rt->expectStop = false;
      return r.error();
    }
  auto resume = [&] {
    if (!wasRunning || (flags & kCreateHalt)) return;
    rt->expectResume = true;
    if (!cont(*rt->mon)) rt->expectResume = false;
  };
  if (auto r = migrateToFile(*rt->mon, *def.memoryFile); !r) {
    ::unlink(def.memoryFile->c_str());
    resume();
    return r.error();
  }
  if (auto r = createExternalSnapshotDisks(uuid, def, 0); !r) {
    ::unlink(def.memoryFile->c_str());
    resume();
    return r.error();
  }
  resume();

  const std::string name = def.name;
  SV_TRY_VOID(recordNewSnapshot(uuid, v->def->name, std::move(def), true));
  if (flags & kCreateHalt) finishStop(uuid, kShutoffFromSnapshot, kDetailStoppedFromSnapshot);
  return name;
}

}  // namespace splitvirt::qemu
