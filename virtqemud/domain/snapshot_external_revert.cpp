// Reverting to an external snapshot S as libvirt >= 9.9 does (protocol.md
// 7.3): the guest stops, new overlays are made on S's images and the
// guest's definition becomes S's with its disks on them; the state the
// guest had (its active layer since the last snapshot or revert) is
// discarded. When S has children, their chains still need S's own overlay,
// so the new overlays are kept in S's <revertDisks>; otherwise they become
// S's <disks>.
//
// A full system snapshot (state running or paused) is reverted online: a
// new QEMU on the new overlays loads S's memory file (-incoming defer +
// migrate-incoming) before anything of the old state is discarded, then
// runs or stays paused. The overlays are made before QEMU starts, so S's
// own images are never opened for writing.
//
// Crash safety: the plan is written to .revert-pending before any file
// exists. A restart rolls back while the definition does not name the new
// overlays yet, and finishes once it does, waiting for (or redoing) the
// memory load of an online revert.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_migration.hpp"
#include "snapshot/image_graph.hpp"
#include "snapshot/save_image.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <sstream>

namespace splitvirt::qemu {

using objects::DomainView;

namespace {
constexpr unsigned kRevertRunning = 1, kRevertPaused = 2;
}

Result<void> QemuDriver::revertExternalSnapshot(const conf::Uuid& uuid, const std::string& name, unsigned flags) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  objects::SnapshotTree tree;
  {
    std::lock_guard lk(snapMutex_);
    tree = snapTrees_[uuid];
  }
  auto snap = tree.find(name);
  if (!snap || !snap->dom) return objects::noDomainSnapshot(kErr, name);
  // A full system snapshot is reverted online: QEMU starts from its memory
  // state (when it has one) on the new overlays, then runs or stays paused.
  const bool online = snap->state == conf::SnapshotState::Running || snap->state == conf::SnapshotState::Paused;
  const bool wantPaused = !(flags & kRevertRunning) &&
                          (snap->state == conf::SnapshotState::Paused || (flags & kRevertPaused));
  std::optional<std::string> memoryFile;
  if (online && snap->memory == conf::SnapshotLocation::External && snap->memoryFile) {
    memoryFile = *snap->memoryFile;
    // Checked before the guest is stopped: a missing, torn or foreign file
    // refuses the revert with the guest untouched.
    auto image = openSaveImage(*memoryFile);
    if (!image) return image.error();
    ::close(image->fd);
  }
  for (auto& disk : snap->dom->disks)
    if (disk.sourcePath && disk.type != conf::DiskType::File)
      return Error::operationUnsupported(kErr, "source disk for '" + disk.targetDev +
                                                   "' is not a regular file, reverting to snapshot is not supported");
  for (auto& sd : snap->disks)
    if (sd.deleteInProgress)
      return Error::operationInvalid(kErr, "snapshot disk '" + sd.name +
                                               "' was target of not completed snapshot delete");

  if (v->active()) finishStop(uuid, kShutoffFromSnapshot, kDetailStoppedFromSnapshot);
  v = domains_.findByUuid(uuid);
  const std::shared_ptr<const conf::DomainDef> oldDef = v->def;

  // What the guest was writing is discarded: its active layers, unless a
  // snapshot still records one as its image (or it is not ours to remove).
  std::vector<std::string> discard;
  {
    auto graph = scanImages(snapshotImageFiles(tree, *v));
    if (!graph) return graph.error();
    for (auto& disk : v->def->disks) {
      if (!disk.sourcePath || !graph->backingOf(*disk.sourcePath)) continue;
      const std::string& a = *disk.sourcePath;
      bool recorded = false;
      for (auto& n : tree.topological())
        if (auto s = tree.find(n); s && s->dom)
          for (auto& d : s->dom->disks) recorded = recorded || d.sourcePath == a;
      if (!recorded && graph->dependents(a).empty()) discard.push_back(a);
    }
  }

  // New overlays named after the time, on the snapshot's images.
  long long stamp = static_cast<long long>(std::time(nullptr));
  auto newDef = std::make_shared<conf::DomainDef>(*snap->dom);
  auto eligible = [](const conf::DiskDef& d) {
    return d.sourcePath && !d.readonly && d.device == conf::DiskDevice::Disk;
  };
  for (;; ++stamp) {
    bool clash = false;
    for (auto& disk : newDef->disks) {
      struct stat st {};
      if (eligible(disk) &&
          ::stat(conf::defaultExternalSnapshotPath(*disk.sourcePath, std::to_string(stamp)).c_str(), &st) == 0)
        clash = true;
    }
    if (!clash) break;
  }
  RevertJournal journal{name, {}, discard, online ? (wantPaused ? "paused" : "running") : ""};
  for (auto& disk : newDef->disks) {
    if (!eligible(disk)) continue;
    journal.overlays.push_back(conf::defaultExternalSnapshotPath(*disk.sourcePath, std::to_string(stamp)));
  }
  // Written before any file exists: a restart rolls back or finishes.
  SV_TRY_VOID(writeRevertJournal(v->def->name, journal));
  size_t i = 0;
  for (auto& disk : newDef->disks) {
    if (!eligible(disk)) continue;
    const std::string& path = journal.overlays[i++];
    if (auto r = createOverlay(path, *disk.sourcePath, disk.driverType.value_or("raw"), std::nullopt); !r) {
      rollBackRevert(uuid, v->def->name);
      return r.error();
    }
    disk.sourcePath = path;
    disk.driverType = "qcow2";
  }
  if (auto r = savePersistentDef(uuid, newDef); !r) {
    rollBackRevert(uuid, v->def->name);
    return r;
  }
  if (online) {
    // The state is loaded before anything of the old one is discarded: a
    // failed load puts the old definition back and drops the new overlays.
    auto start = [&]() -> Result<void> {
      if (memoryFile) return startFromMemoryFile(uuid, *memoryFile);
      auto r = startDomain(uuid, kStartPaused | kStartNoResume);  // no state saved: a cold boot
      if (!r) return r.error();
      return {};
    };
    auto r = start();
    if (!r) {
      (void)savePersistentDef(uuid, oldDef);
      rollBackRevert(uuid, v->def->name);
      return r;
    }
  }
  SV_TRY_VOID(finishExternalRevert(uuid, journal));

  if (online) return finishSnapshotStart(uuid, wantPaused);
  if (flags & (kRevertRunning | kRevertPaused)) {
    auto r = startDomain(uuid, kStartFromSnapshot | ((flags & kRevertPaused) ? kStartPaused : 0));
    if (!r) return r.error();
  }
  return {};
}

// Metadata and discards of a revert whose overlays and definition are in
// place: S current, its overlays recorded, the old current layer removed.
Result<void> QemuDriver::finishExternalRevert(const conf::Uuid& uuid, const RevertJournal& j) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  std::lock_guard lk(snapMutex_);
  objects::SnapshotTree tree = snapTrees_[uuid];
  auto snap = tree.find(j.snapshot);
  if (!snap || !snap->dom) return objects::noDomainSnapshot(kErr, j.snapshot);
  std::vector<conf::SnapshotDiskDef> overlays;
  size_t i = 0;
  for (auto& disk : snap->dom->disks) {
    if (!disk.sourcePath || disk.readonly || disk.device != conf::DiskDevice::Disk || i >= j.overlays.size()) continue;
    conf::SnapshotDiskDef sd;
    sd.name = disk.targetDev;
    sd.snapshot = conf::SnapshotLocation::External;
    sd.format = "qcow2";
    sd.path = j.overlays[i++];
    overlays.push_back(sd);
  }
  objects::SnapshotChanges changes;
  // The previous current snapshot's revert overlays were the discarded layer.
  if (auto cur = tree.currentDef(); cur && !cur->revertDisks.empty() && cur->name != j.snapshot) {
    auto copy = std::make_shared<conf::SnapshotDef>(*cur);
    copy->revertDisks.clear();
    if (auto r = tree.replace(copy)) changes.merge(*r);
  }
  auto updated = std::make_shared<conf::SnapshotDef>(*snap);
  if (!tree.children(j.snapshot).empty()) {
    updated->revertDisks = overlays;
  } else {
    updated->revertDisks.clear();
    for (auto& o : overlays)
      for (auto& d : updated->disks)
        if (d.name == o.name) d = o;
  }
  auto replaced = tree.replace(updated);
  if (!replaced) return replaced.error();
  changes.merge(*replaced);
  changes.merge(tree.setCurrent(j.snapshot));
  if (auto r = snapStore_->apply(v->def->name, uuid, tree, changes); !r)
    return Error::internal(kErr, "unable to save metadata for snapshot " + j.snapshot);
  snapTrees_[uuid] = tree;
  // Still somebody's image (a snapshot's, or the guest's): kept. Overlay
  // records (<disks>) of the old current snapshot may name it; libvirt
  // removes the file all the same.
  auto v2 = domains_.findByUuid(uuid);
  auto named = [&](const std::string& f) {
    auto in = [&f](const conf::DomainDef& d) {
      for (auto& disk : d.disks)
        if (disk.sourcePath == f) return true;
      return false;
    };
    if (v2 && (in(*v2->def) || (v2->newDef && in(*v2->newDef)))) return true;
    for (auto& n : tree.topological())
      if (auto s = tree.find(n); s && s->dom && in(*s->dom)) return true;
    return false;
  };
  std::vector<std::string> gone;
  for (auto& f : j.discard)
    if (!named(f)) gone.push_back(f);
  unlinkImages(v->def->name, gone);
  ::unlink(revertJournalPath(v->def->name).c_str());
  return {};
}

std::string QemuDriver::revertJournalPath(const std::string& domName) const {
  return snapStore_->domainDir(domName) + "/.revert-pending";
}

Result<void> QemuDriver::writeRevertJournal(const std::string& domName, const RevertJournal& j) {
  std::string text = "snapshot " + j.snapshot + "\n";
  if (!j.start.empty()) text += "start " + j.start + "\n";
  for (auto& o : j.overlays) text += "overlay " + o + "\n";
  for (auto& d : j.discard) text += "discard " + d + "\n";
  SV_TRY_VOID(fs::makeDirs(snapStore_->domainDir(domName), 0755, kErr));
  return fs::atomicWriteFile(revertJournalPath(domName), text, 0600, kErr);
}

// Before the definition names the new overlays, they are nobody's: remove
// them and forget the revert.
void QemuDriver::rollBackRevert(const conf::Uuid& uuid, const std::string& domName) {
  auto text = fs::readFile(revertJournalPath(domName), kErr);
  if (text) {
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("overlay ", 0) == 0) ::unlink(line.substr(8).c_str());
  }
  ::unlink(revertJournalPath(domName).c_str());
}

// At start: a revert the daemon did not finish is rolled back when the
// guest's definition does not name its overlays yet, finished otherwise.
void QemuDriver::resumeSnapshotRevert(const conf::Uuid& uuid, const std::string& domName) {
  auto text = fs::readFile(revertJournalPath(domName), kErr);
  if (!text) return;
  RevertJournal j;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("snapshot ", 0) == 0) j.snapshot = line.substr(9);
    if (line.rfind("overlay ", 0) == 0) j.overlays.push_back(line.substr(8));
    if (line.rfind("discard ", 0) == 0) j.discard.push_back(line.substr(8));
    if (line.rfind("start ", 0) == 0) j.start = line.substr(6);
  }
  auto v = domains_.findByUuid(uuid);
  bool switched = false;
  if (v) {
    const conf::DomainDef& def = v->newDef ? *v->newDef : *v->def;
    for (auto& disk : def.disks)
      for (auto& o : j.overlays) switched = switched || disk.sourcePath == o;
  }
  if (!switched) {
    log::warn("rolling back the interrupted revert to snapshot '%s'", j.snapshot.c_str());
    rollBackRevert(uuid, domName);
    return;
  }
  log::warn("finishing the interrupted revert to snapshot '%s'", j.snapshot.c_str());
  auto lock = jobLock(uuid);
  std::lock_guard jl(*lock);
  // An online revert: the QEMU the dead daemon started may still be taking
  // in the memory state; when it is gone or never got it, the load is done
  // again from the file.
  std::optional<std::string> memoryFile;
  if (!j.start.empty()) {
    std::lock_guard lk(snapMutex_);
    if (auto s = snapTrees_[uuid].find(j.snapshot); s && s->memory == conf::SnapshotLocation::External)
      memoryFile = s->memoryFile;
  }
  bool loaded = false;
  if (!j.start.empty() && v->active()) {
    auto rt = runtime(uuid);
    auto r = rt && rt->mon ? waitIncomingMigration(*rt->mon, std::chrono::minutes(10))
                           : Result<void>(Error::internal(kErr, "no monitor"));
    if (r) {
      loaded = true;
      log::info("domain '%s' holds the memory state of snapshot '%s'", domName.c_str(), j.snapshot.c_str());
    } else {
      log::warn("the memory state of snapshot '%s' did not load: %s", j.snapshot.c_str(), r.error().message.c_str());
      finishStop(uuid, kShutoffFailed, -1);
    }
  }
  if (!j.start.empty() && !loaded) {
    auto r = memoryFile ? startFromMemoryFile(uuid, *memoryFile)
                        : Result<void>(Error::operationFailed(kErr, "the snapshot has no memory file"));
    loaded = static_cast<bool>(r);
    if (!r) log::error("cannot start domain '%s' from snapshot '%s': %s", domName.c_str(), j.snapshot.c_str(),
                       r.error().message.c_str());
  }
  if (auto r = finishExternalRevert(uuid, j); !r) {
    log::error("cannot finish the revert to snapshot '%s': %s", j.snapshot.c_str(), r.error().message.c_str());
    return;
  }
  if (loaded)
    if (auto r = finishSnapshotStart(uuid, j.start == "paused"); !r)
      log::error("cannot resume domain '%s': %s", domName.c_str(), r.error().message.c_str());
}

}  // namespace splitvirt::qemu
