// External snapshots with memory state (--memspec): the vCPUs stop (unless
// VIR_DOMAIN_SNAPSHOT_CREATE_LIVE), the guest's RAM goes to the memory file
// in libvirt's save image layout (snapshot/save_image, monitor/
// qmp_migration), then the disks get their overlays and the guest runs on.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_jobs.hpp"
#include "monitor/qmp_migration.hpp"
#include "process/spawn.hpp"
#include "snapshot/save_image.hpp"

#include <unistd.h>

#include <chrono>

namespace splitvirt::qemu {

using objects::DomainState;
using objects::DomainView;

namespace {

constexpr unsigned kCreateHalt = 8, kCreateLive = 256;

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
  // libvirt's save image around the stream: the files are interchangeable.
  auto saveFd = createSaveImage(*def.memoryFile, conf::formatDomainDef(*v->def, conf::kFormatInactive), wasRunning);
  Result<void> saved = saveFd ? migrateToFd(*rt->mon, *saveFd, std::chrono::hours(1)) : Result<void>(saveFd.error());
  if (saved) saved = finishSaveImage(*def.memoryFile);
  if (!saved) {
    if (saveFd) ::unlink(def.memoryFile->c_str());
    resume();
    return saved.error();
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

Result<void> QemuDriver::startFromMemoryFile(const conf::Uuid& uuid, const std::string& memoryFile) {
  auto started = startDomain(uuid, kStartPaused | kStartNoResume | kStartIncoming);
  if (!started) return started.error();
  auto rt = runtime(uuid);
  auto image = openSaveImage(memoryFile);
  Result<void> r = !image ? Result<void>(image.error())
                   : rt && rt->mon ? migrateFromFd(*rt->mon, image->fd, std::chrono::hours(1))
                                   : Result<void>(Error::internal(kErr, "guest unexpectedly quit"));
  if (image && !(rt && rt->mon)) ::close(image->fd);
  if (!r) {
    Error e = r.error();
    // A stream QEMU cannot load makes it exit; its log says why.
    if (rt && rt->mon && !rt->mon->alive()) e = qemuClosedMonitor(rt->logPath);
    finishStop(uuid, kShutoffFailed, -1);
    return e;
  }
  return {};
}

}  // namespace splitvirt::qemu
