// virsh save / restore / managedsave (libvirt's qemuDomainSaveInternal,
// qemuDomainRestoreFlags, qemuDomainObjStart): the guest's memory state
// goes into a save image (snapshot/save_image: libvirt's layout, so images
// move between libvirt and us) and QEMU stops; a restore starts a new QEMU
// with -incoming defer from the image's definition and loads it. A managed
// save image lives in <stateDir>/qemu/save/<name>.save and is what the next
// start (or autostart) resumes from.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_migration.hpp"
#include "process/spawn.hpp"
#include "snapshot/save_image.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <unistd.h>

#include <chrono>

namespace splitvirt::qemu {

using objects::DomainState;
using objects::DomainView;

namespace {
constexpr unsigned kSaveRunning = 2, kSavePaused = 4;
constexpr unsigned kStartForceBoot = 8;
}  // namespace

// The part of libvirt's ABI stability check that a replacement XML for a
// saved guest can get wrong (same order and texts).
Result<void> checkSameGuest(const conf::DomainDef& src, const conf::DomainDef& dst) {
  auto unsupported = [](const std::string& m) { return Error::configUnsupported(ErrorDomain::Domain, m); };
  if (src.type != dst.type)
    return unsupported("Target domain virt type " + dst.type + " does not match source " + src.type);
  if (src.uuid != dst.uuid)
    return unsupported("Target domain uuid " + conf::formatUuid(dst.uuid) + " does not match source " +
                       conf::formatUuid(src.uuid));
  if (src.name != dst.name)
    return unsupported("Target domain name '" + dst.name + "' does not match source '" + src.name + "'");
  if (src.maxMemoryKiB != dst.maxMemoryKiB)
    return unsupported("Target domain max memory " + std::to_string(dst.maxMemoryKiB) + " does not match source " +
                       std::to_string(src.maxMemoryKiB));
  if (src.vcpusMax != dst.vcpusMax)
    return unsupported("Target domain vCPU max " + std::to_string(dst.vcpusMax) + " does not match source " +
                       std::to_string(src.vcpusMax));
  return {};
}

// libvirt's words for a QEMU that died under a start or an incoming
// migration: its last log lines say why.
Error qemuClosedMonitor(const std::string& logPath) {
  std::string tail = logTail(logPath, 512);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  if (auto nl = tail.rfind('\n'); nl != std::string::npos) tail = tail.substr(nl + 1);
  return Error::internal(kErr, "qemu unexpectedly closed the monitor: " + tail);
}

std::string QemuDriver::managedSavePath(const std::string& domName) const {
  return paths_.stateDir + "/qemu/save/" + domName + ".save";
}

bool QemuDriver::hasManagedSave(const std::string& domName) const { return fs::exists(managedSavePath(domName)); }

Result<void> QemuDriver::saveDomain(const conf::Uuid& uuid, const std::string& path,
                                    const std::optional<std::string>& dxml, unsigned flags) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  if (!v->active()) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
  auto rt = runtime(uuid);
  if (!rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
  // The definition stored in the image: the running one, or the caller's
  // replacement (same guest: name and uuid must match).
  std::string xml = conf::formatDomainDef(*v->def, conf::kFormatInactive | conf::kFormatSecure);
  if (dxml) {
    auto alt = conf::parseDomainDef(*dxml, 0, ErrorDomain::Domain);
    if (!alt) return alt.error();
    SV_TRY_VOID(checkSameGuest(*v->def, *alt));
    xml = conf::formatDomainDef(*alt, conf::kFormatInactive | conf::kFormatSecure);
  }

  const bool wasRunning = v->state == DomainState::Running;
  bool recordRunning = wasRunning;
  if (flags & kSaveRunning) recordRunning = true;
  if (flags & kSavePaused) recordRunning = false;
  if (wasRunning) {
    rt->expectStop = true;
    if (auto r = stop(*rt->mon); !r) {
      rt->expectStop = false;
      return r.error();
    }
    if (auto nv = domains_.update(uuid, [](DomainView& d) {
          d.state = DomainState::Paused;
          d.reason = kPausedSave;
        })) {
      (void)saveStatus(*nv, *rt);
      events_->domainLifecycle(handleOf(*nv), kEvSuspended, kDetailPaused);
    }
  }

  auto fd = createSaveImage(path, xml, recordRunning, true);
  Result<void> r = fd ? migrateToFd(*rt->mon, *fd, std::chrono::hours(6)) : Result<void>(fd.error());
  if (r) r = finishSaveImage(path);
  if (!r) {
    if (fd) ::unlink(path.c_str());
    if (wasRunning) {
      // As libvirt: the guest runs on, "save canceled".
      rt->expectResume = true;
      if (cont(*rt->mon)) {
        if (auto nv = domains_.update(uuid, [](DomainView& d) {
              d.state = DomainState::Running;
              d.reason = kRunningSaveCanceled;
            })) {
          (void)saveStatus(*nv, *rt);
          events_->domainLifecycle(handleOf(*nv), kEvResumed, kDetailUnpaused);
        }
      } else {
        rt->expectResume = false;
      }
    }
    return r.error();
  }
  finishStop(uuid, kShutoffSaved, kDetailStoppedSaved);
  return {};
}

// QEMU from `def` loads `path`; then it runs (the image says it was running
// and nobody asked for a paused start) or stays paused.
Result<DomainView> QemuDriver::restoreInto(const conf::Uuid& uuid, const std::string& path,
                                           std::shared_ptr<const conf::DomainDef> def, bool wasRunning,
                                           bool startPaused, bool pausedByFlag) {
  auto image = openSaveImage(path);
  if (!image) return image.error();
  auto started = startDomain(uuid, kStartPaused | kStartNoResume | kStartIncoming, std::move(def));
  if (!started) {
    ::close(image->fd);
    return started.error();
  }
  auto rt = runtime(uuid);
  Result<void> r = rt && rt->mon ? migrateFromFd(*rt->mon, image->fd, std::chrono::hours(6))
                                 : Result<void>(Error::internal(kErr, "guest unexpectedly quit"));
  if (!(rt && rt->mon)) ::close(image->fd);
  if (!r) {
    Error e = r.error();
    if (rt && rt->mon && !rt->mon->alive()) e = qemuClosedMonitor(rt->logPath);
    finishStop(uuid, kShutoffFailed, -1);
    return e;
  }
  auto nv = domains_.update(uuid, [](DomainView& d) {
    d.state = DomainState::Paused;
    d.reason = kPausedMigration;
  });
  if (!nv) return Error::internal(kErr, "domain vanished while restoring");
  (void)saveStatus(*nv, *rt);
  events_->domainLifecycle(handleOf(*nv), kEvStarted, kDetailStartedRestored);
  if (wasRunning && !startPaused) {
    rt->expectResume = true;
    if (auto c = cont(*rt->mon); !c) {
      rt->expectResume = false;
      Error e = c.error();
      finishStop(uuid, kShutoffFailed, -1);
      return e;
    }
    nv = domains_.update(uuid, [](DomainView& d) {
      d.state = DomainState::Running;
      d.reason = kRunningRestored;
    });
    if (nv) {
      (void)saveStatus(*nv, *rt);
      // libvirt maps the RESTORED running reason to this resume detail.
      events_->domainLifecycle(handleOf(*nv), kEvResumed, kDetailResumedFromSnapshot);
    }
  } else {
    events_->domainLifecycle(handleOf(*nv), kEvSuspended, pausedByFlag ? kDetailPaused : kDetailSuspendedRestored);
  }
  return *domains_.findByUuid(uuid);
}

Result<DomainView> QemuDriver::restoreDomain(const std::string& path, const std::optional<std::string>& dxml,
                                             unsigned flags) {
  auto image = openSaveImage(path);
  if (!image) return image.error();
  ::close(image->fd);
  auto parsed = conf::parseDomainDef(image->domainXml, 0, ErrorDomain::Domain);
  if (!parsed) return parsed.error();
  if (dxml) {
    auto alt = conf::parseDomainDef(*dxml, 0, ErrorDomain::Domain);
    if (!alt) return alt.error();
    SV_TRY_VOID(checkSameGuest(*parsed, *alt));
    parsed = std::move(alt);
  }
  auto def = std::make_shared<const conf::DomainDef>(std::move(*parsed));
  auto claimed = claimLiveDomain(def, true);
  if (!claimed) return claimed.error();
  const bool added = *claimed;
  auto lock = jobLock(def->uuid);
  std::lock_guard jl(*lock);
  bool wasRunning = image->wasRunning;
  if (flags & kSaveRunning) wasRunning = true;
  if (flags & kSavePaused) wasRunning = false;
  // --paused only changes what the image says (SUSPENDED/RESTORED, as libvirt).
  auto r = restoreInto(def->uuid, path, def, wasRunning, false, false);
  if (!r && added)
    if (auto cur = domains_.findByUuid(def->uuid); cur && !cur->persistent && !cur->active())
      domains_.remove(def->uuid);
  return r;
}

Result<DomainView> QemuDriver::startOrRestore(const conf::Uuid& uuid, unsigned flags) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  if (v->active()) return Error::operationInvalid(kErr, "domain is already running");
  const std::string image = managedSavePath(v->def->name);
  if (fs::exists(image)) {
    if (flags & kStartForceBoot) {
      if (::unlink(image.c_str()) != 0)
        return Error::systemError(kErr, errno, "cannot remove managed save file " + image);
    } else if (auto img = openSaveImage(image); !img && img.error().message.find("incomplete") != std::string::npos) {
      log::warn("Ignoring incomplete managed state %s", image.c_str());
      ::unlink(image.c_str());
    } else {
      if (!img) return img.error();
      ::close(img->fd);
      auto parsed = conf::parseDomainDef(img->domainXml, 0, ErrorDomain::Domain);
      if (!parsed) return parsed.error();
      auto r = restoreInto(uuid, image, std::make_shared<const conf::DomainDef>(std::move(*parsed)),
                           img->wasRunning, flags & kStartPaused, flags & kStartPaused);
      if (!r) {
        log::warn("Unable to restore from managed state %s. Maybe the file is corrupted?", image.c_str());
        return r.error();
      }
      if (::unlink(image.c_str()) != 0) log::warn("Failed to remove the managed state %s", image.c_str());
      return r;
    }
  }
  return startDomain(uuid, flags & kStartPaused);
}

}  // namespace splitvirt::qemu
