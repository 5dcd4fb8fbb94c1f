// Reverting to an external snapshot S as libvirt >= 9.9 does (protocol.md
// 7.3): the guest stops, new overlays are made on S's images and the
// guest's definition becomes S's with its disks on them; the state the
// guest had (its active layer since the last snapshot or revert) is
// discarded. When S has children, their chains still need S's own overlay,
// so the new overlays are kept in S's <revertDisks>; otherwise they become
// S's <disks>.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "snapshot/image_graph.hpp"

#include <sys/stat.h>

#include <ctime>

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
  if (snap->state == conf::SnapshotState::Running || snap->state == conf::SnapshotState::Paused)
    return Error::configUnsupported(kErr, "revert to an external snapshot with memory state is not supported yet");
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

  // New overlays named after the time, on the snapshot's images.
  long long stamp = static_cast<long long>(std::time(nullptr));
  std::vector<conf::SnapshotDiskDef> overlays;
  auto newDef = std::make_shared<conf::DomainDef>(*snap->dom);
  for (;; ++stamp) {
    bool clash = false;
    for (auto& disk : newDef->disks) {
      if (!disk.sourcePath || disk.readonly || disk.device != conf::DiskDevice::Disk) continue;
      struct stat st {};
      if (::stat(conf::defaultExternalSnapshotPath(*disk.sourcePath, std::to_string(stamp)).c_str(), &st) == 0)
        clash = true;
    }
    if (!clash) break;
  }
  std::vector<std::string> created;
  auto undo = [&created] {
    for (auto& f : created) ::unlink(f.c_str());
  };
  for (auto& disk : newDef->disks) {
    if (!disk.sourcePath || disk.readonly || disk.device != conf::DiskDevice::Disk) continue;
    const std::string image = *disk.sourcePath;
    const std::string path = conf::defaultExternalSnapshotPath(image, std::to_string(stamp));
    if (auto r = createOverlay(path, image, disk.driverType.value_or("raw"), std::nullopt); !r) {
      undo();
      return r.error();
    }
    created.push_back(path);
    conf::SnapshotDiskDef sd;
    sd.name = disk.targetDev;
    sd.snapshot = conf::SnapshotLocation::External;
    sd.format = "qcow2";
    sd.path = path;
    overlays.push_back(sd);
    disk.sourcePath = path;
    disk.driverType = "qcow2";
  }

  // What the guest was writing is discarded: its active layers, unless a
  // snapshot still records one as its image (or it is not ours to remove).
  std::vector<std::string> discard;
  {
    auto files = snapshotImageFiles(tree, *v);
    auto graph = scanImages(files);
    if (!graph) {
      undo();
      return graph.error();
    }
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

  if (auto r = savePersistentDef(uuid, newDef); !r) {
    undo();
    return r;
  }

  objects::SnapshotChanges changes;
  // The previous current snapshot's revert overlays were the discarded layer.
  if (auto cur = tree.currentDef(); cur && !cur->revertDisks.empty() && cur->name != name) {
    auto copy = std::make_shared<conf::SnapshotDef>(*cur);
    copy->revertDisks.clear();
    auto r = tree.replace(copy);
    if (r) changes.merge(*r);
  }
  auto updated = std::make_shared<conf::SnapshotDef>(*tree.find(name));
  if (!tree.children(name).empty())
    updated->revertDisks = overlays;
  else {
    updated->revertDisks.clear();
    for (auto& o : overlays)
      for (auto& d : updated->disks)
        if (d.name == o.name) d = o;
  }
  auto replaced = tree.replace(updated);
  if (!replaced) return replaced.error();
  changes.merge(*replaced);
  changes.merge(tree.setCurrent(name));
  {
    std::lock_guard lk(snapMutex_);
    if (auto r = snapStore_->apply(v->def->name, uuid, tree, changes); !r)
      return Error::internal(kErr, "unable to save metadata for snapshot " + name);
    snapTrees_[uuid] = tree;
  }
  unlinkImages(v->def->name, discard);

  if (flags & (kRevertRunning | kRevertPaused)) {
    auto r = startDomain(uuid, kStartFromSnapshot | ((flags & kRevertPaused) ? kStartPaused : 0));
    if (!r) return r.error();
  }
  return {};
}

}  // namespace splitvirt::qemu
