// Internal snapshots (libvirt's qemu_snapshot.c, internal half): qcow2
// snapshots inside the disk images, with the VM state in the first disk.
// A running or paused guest uses QMP's snapshot-save/-load/-delete jobs, so
// reverting a running guest loads the state into the same QEMU instead of
// restarting it (libvirt 9.0 restarts QEMU with -loadvm); a shut-off guest
// uses `qemu-img snapshot`. External snapshots come next (issue 4).
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_jobs.hpp"
#include "objects/snapshot_store.hpp"
#include "util/command.hpp"
#include "util/log.hpp"

#include <atomic>

namespace splitvirt::qemu {

using objects::DomainState;
using objects::DomainView;

namespace {

// virDomainSnapshotCreateFlags
constexpr unsigned kCreateRedefine = 1, kCreateCurrent = 2, kCreateNoMetadata = 4, kCreateHalt = 8,
                   kCreateDiskOnly = 16, kCreateReuseExt = 32, kCreateQuiesce = 64, kCreateAtomic = 128,
                   kCreateLive = 256, kCreateValidate = 512;
// virDomainSnapshotRevertFlags / virDomainSnapshotDeleteFlags
constexpr unsigned kRevertRunning = 1, kRevertPaused = 2, kRevertForce = 4;
constexpr unsigned kDeleteChildren = 1, kDeleteMetadataOnly = 2, kDeleteChildrenOnly = 4;

constexpr const char* kQemuImg = "/usr/bin/qemu-img";
std::atomic<unsigned> jobSeq{1};

std::string jobId(const char* what) { return std::string("snapshot-") + what + "-" + std::to_string(jobSeq++); }

Error notYetExternal() {
  return Error::configUnsupported(kErr, "external snapshots are not supported by this daemon yet");
}

bool isInactiveState(conf::SnapshotState s) {
  return s == conf::SnapshotState::Shutoff || s == conf::SnapshotState::Shutdown ||
         s == conf::SnapshotState::Crashed || s == conf::SnapshotState::DiskSnapshot;
}

const conf::DiskDef* diskByTarget(const conf::DomainDef& def, const std::string& target) {
  for (auto& d : def.disks)
    if (d.targetDev == target) return &d;
  return nullptr;
}

// The images holding the internal snapshot: the disks marked internal.
std::vector<std::string> internalImages(const conf::SnapshotDef& snap, const conf::DomainDef& dom) {
  std::vector<std::string> out;
  for (auto& sd : snap.disks) {
    if (sd.snapshot != conf::SnapshotLocation::Internal) continue;
    if (auto* d = diskByTarget(dom, sd.name); d && d->sourcePath) out.push_back(*d->sourcePath);
  }
  return out;
}

Result<void> qemuImgSnapshot(const char* op, const std::string& name, const std::vector<std::string>& images) {
  for (auto& img : images)
    if (auto r = runCommandChecked({kQemuImg, "snapshot", op, name, img}, std::chrono::minutes(10), kErr); !r)
      return r.error();
  return {};
}

}  // namespace

// The format node QEMU has for each internal disk of `snap` (matched by
// image path through query-block); the first one stores the VM state.
Result<std::vector<std::string>> QemuDriver::snapshotNodes(Runtime& rt, const conf::SnapshotDef& snap,
                                                           const conf::DomainDef& dom) {
  auto blocks = queryBlock(*rt.mon);
  if (!blocks) return blocks.error();
  std::vector<std::string> nodes;
  for (auto& img : internalImages(snap, dom)) {
    auto it = std::find_if(blocks->begin(), blocks->end(), [&](const QmpBlockInfo& b) { return b.file == img; });
    if (it == blocks->end() || it->nodeName.empty())
      return Error::operationUnsupported(kErr, "disk image '" + img + "' for internal snapshot '" + snap.name +
                                                   "' is not the same as disk image currently used by VM");
    nodes.push_back(it->nodeName);
  }
  if (nodes.empty()) return Error::configUnsupported(kErr, "nothing selected for snapshot");
  return nodes;
}

Result<std::string> QemuDriver::createSnapshot(const conf::Uuid& uuid, const std::string& xml, unsigned flags) {
  constexpr unsigned kKnown = kCreateRedefine | kCreateCurrent | kCreateNoMetadata | kCreateHalt | kCreateDiskOnly |
                              kCreateReuseExt | kCreateQuiesce | kCreateAtomic | kCreateLive | kCreateValidate;
  if (flags & ~kKnown) return Error::unsupportedFlags(kErr, flags & ~kKnown, "qemuSnapshotCreateXML");
  if ((flags & kCreateQuiesce) && !(flags & kCreateDiskOnly))
    return Error::invalidArgIn(kErr, "qemuSnapshotCreateXML", "flags",
                               "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE' requires flag "
                               "'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY'");
  if ((flags & kCreateLive) && (flags & kCreateRedefine))
    return Error::invalidArgIn(kErr, "qemuSnapshotCreateXML", "flags",
                               "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE' and "
                               "'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' are mutually exclusive");
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  if (!v->persistent && (flags & kCreateHalt))
    return Error::operationInvalid(kErr, "cannot halt after transient domain snapshot");
  const bool active = v->active();

  unsigned pflags = 0;
  if (flags & kCreateRedefine) pflags |= conf::kSnapshotParseRedefine;
  if (flags & kCreateValidate) pflags |= conf::kSnapshotParseValidate;
  if (!active || (flags & kCreateDiskOnly)) pflags |= conf::kSnapshotParseOffline;
  auto parsed = conf::parseSnapshotDef(xml, {pflags, std::nullopt});
  if (!parsed) return parsed.error();
  conf::SnapshotDef def = std::move(parsed->def);

  if (!(flags & kCreateNoMetadata)) {
    if (def.name.find('/') != std::string::npos)
      return Error::xmlDetail(kErr, "invalid snapshot name '" + def.name + "': name can't contain '/'");
    if (def.name.starts_with('.'))
      return Error::xmlDetail(kErr, "invalid snapshot name '" + def.name + "': name can't start with '.'");
  }
  if ((flags & kCreateLive) && (!active || def.memory != conf::SnapshotLocation::External))
    return Error::operationUnsupported(kErr, "live snapshot creation is supported only during full system snapshots");

  if (flags & kCreateRedefine) {
    std::lock_guard lk(snapMutex_);
    objects::SnapshotTree tree = snapTrees_[uuid];
    SV_TRY_VOID(tree.prepareRedefine(def, uuid, v->def->name, flags));
    const std::string name = def.name;
    objects::SnapshotChanges changes;
    SV_TRY_ASSIGN(changes, tree.redefine(std::move(def), flags & kCreateCurrent));
    if (auto r = snapStore_->apply(v->def->name, uuid, tree, changes); !r)
      return Error::internal(kErr, "unable to save metadata for snapshot " + name);
    snapTrees_[uuid] = std::move(tree);
    return name;
  }

  if (v->state == DomainState::PmSuspended)
    return Error::operationUnsupported(kErr, "qemu doesn't support taking snapshots of PMSUSPENDED guests");
  // qemuSnapshotCreateAlignDisks.
  auto recorded = conf::snapshotDomainFromVm(*v->def);
  if (!recorded) return recorded.error();
  def.dom = *recorded;
  if (v->newDef) def.inactiveDom = v->newDef;
  if (flags & kCreateDiskOnly) return createDiskOnlySnapshot(uuid, std::move(def), flags);
  if (def.memory == conf::SnapshotLocation::External) return createMemorySnapshot(uuid, std::move(def), flags);
  def.state = static_cast<conf::SnapshotState>(static_cast<int>(v->state));
  if (active && def.memory == conf::SnapshotLocation::No)
    return Error::operationUnsupported(kErr, "internal snapshot of a running VM must include the memory state");
  def.memory = def.state == conf::SnapshotState::Shutoff ? conf::SnapshotLocation::No
                                                          : conf::SnapshotLocation::Internal;
  SV_TRY_VOID(conf::alignSnapshotDisks(def, nullptr, conf::SnapshotLocation::Internal, true));

  // qemuSnapshotPrepare, internal half.
  bool foundInternal = false, forbidInternal = false;
  for (auto& sd : def.disks) {
    const conf::DiskDef* disk = diskByTarget(*def.dom, sd.name);
    if (sd.snapshot == conf::SnapshotLocation::External || sd.snapshot == conf::SnapshotLocation::Manual)
      return notYetExternal();
    if (sd.snapshot == conf::SnapshotLocation::No) {
      if (disk && !disk->readonly) forbidInternal = true;
      continue;
    }
    if (sd.snapshot != conf::SnapshotLocation::Internal || !disk) continue;
    foundInternal = true;
    const std::string fmt = disk->driverType.value_or("raw");
    if (fmt != "qcow2")
      return Error::configUnsupported(kErr, "internal snapshot for disk " + sd.name +
                                                " unsupported for storage type " + fmt);
    if (!disk->sourcePath || (disk->type != conf::DiskType::File && disk->type != conf::DiskType::Volume))
      return Error::configUnsupported(kErr, "internal snapshot for disk " + sd.name +
                                                " unsupported for storage type " +
                                                std::string(conf::storageTypeName(disk->type)));
  }
  if (!foundInternal && def.memory == conf::SnapshotLocation::No)
    return Error::configUnsupported(kErr, "nothing selected for snapshot");
  if ((def.memory == conf::SnapshotLocation::Internal && !foundInternal) || (foundInternal && forbidInternal))
    return Error::configUnsupported(kErr, "internal and full system snapshots require all disks to be selected for "
                                          "snapshot");

  if (!(flags & kCreateNoMetadata)) SV_TRY_VOID(prepareNewSnapshot(uuid, def));

  if (active) {
    auto rt = runtime(uuid);
    if (!rt || !rt->mon) return Error::operationInvalid(kErr, "domain is not running");
    std::vector<std::string> nodes;
    SV_TRY_ASSIGN(nodes, snapshotNodes(*rt, def, *def.dom));
    // The job stops and restarts the vCPUs of a running guest itself.
    const bool running = v->state == DomainState::Running;
    if (running) rt->expectStop = rt->expectResume = true;
    auto r = snapshotSave(*rt->mon, jobId("save"), def.name, nodes.front(), nodes);
    if (!r) {
      if (running) rt->expectStop = rt->expectResume = false;
      return r.error();
    }
  } else {
    SV_TRY_VOID(qemuImgSnapshot("-c", def.name, internalImages(def, *def.dom)));
  }

  const std::string name = def.name;
  if (!(flags & kCreateNoMetadata)) SV_TRY_VOID(recordNewSnapshot(uuid, v->def->name, std::move(def), false));
  if (active && (flags & kCreateHalt)) finishStop(uuid, kShutoffFromSnapshot, kDetailStoppedFromSnapshot);
  return name;
}

// Before any image changes: the parent is the current snapshot, and the
// name is checked with the tree's own error.
Result<void> QemuDriver::prepareNewSnapshot(const conf::Uuid& uuid, conf::SnapshotDef& def) {
  std::lock_guard lk(snapMutex_);
  const objects::SnapshotTree& tree = snapTrees_[uuid];
  if (auto cur = tree.current()) def.parentName = *cur;
  if (tree.contains(def.name)) {
    objects::SnapshotTree probe = tree;
    if (auto r = probe.add(std::make_shared<const conf::SnapshotDef>(def)); !r) return r.error();
  }
  return {};
}

// The new snapshot joins the tree as the current one. After an external
// revert the parent's revert overlay is the new snapshot's image from now
// on (`clearRevertDisks`).
Result<void> QemuDriver::recordNewSnapshot(const conf::Uuid& uuid, const std::string& domName, conf::SnapshotDef def,
                                           bool clearRevertDisks) {
  const std::string name = def.name;
  std::lock_guard lk(snapMutex_);
  auto& live = snapTrees_[uuid];
  objects::SnapshotTree next = live;
  objects::SnapshotChanges changes;
  if (auto cur = next.currentDef(); clearRevertDisks && cur && !cur->revertDisks.empty()) {
    auto copy = std::make_shared<conf::SnapshotDef>(*cur);
    copy->revertDisks.clear();
    if (auto r = next.replace(copy)) changes.merge(*r);
  }
  auto added = next.add(std::make_shared<const conf::SnapshotDef>(std::move(def)));
  if (!added) return added.error();
  changes.merge(*added);
  changes.merge(next.setCurrent(name));
  if (auto r = snapStore_->apply(domName, uuid, next, changes); !r)
    return Error::internal(kErr, "unable to save metadata for snapshot " + name);
  live = std::move(next);
  return {};
}

// Disk-only (external) snapshot: overlays, then the metadata.
Result<std::string> QemuDriver::createDiskOnlySnapshot(const conf::Uuid& uuid, conf::SnapshotDef def, unsigned flags) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  def.state = v->active() ? conf::SnapshotState::DiskSnapshot : conf::SnapshotState::Shutoff;
  def.memory = conf::SnapshotLocation::No;
  SV_TRY_VOID(conf::alignSnapshotDisks(def, nullptr, conf::SnapshotLocation::External, true));
  if (!(flags & kCreateNoMetadata)) SV_TRY_VOID(prepareNewSnapshot(uuid, def));
  SV_TRY_VOID(createExternalSnapshotDisks(uuid, def, flags));
  const std::string name = def.name;
  if (!(flags & kCreateNoMetadata)) SV_TRY_VOID(recordNewSnapshot(uuid, v->def->name, std::move(def), true));
  if (v->active() && (flags & kCreateHalt)) finishStop(uuid, kShutoffFromSnapshot, kDetailStoppedFromSnapshot);
  return name;
}

Result<void> QemuDriver::revertToSnapshot(const conf::Uuid& uuid, const std::string& name, unsigned flags) {
  if (flags & ~0xfu) return Error::unsupportedFlags(kErr, flags & ~0xfu, "qemuSnapshotRevert");
  if ((flags & kRevertRunning) && (flags & kRevertPaused))
    return Error::invalidArgIn(kErr, "qemuSnapshotRevert", "flags",
                               "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and "
                               "'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive");
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  objects::SnapshotDefPtr snap;
  {
    std::lock_guard lk(snapMutex_);
    snap = snapTrees_[uuid].find(name);
  }
  if (!snap) return objects::noDomainSnapshot(kErr, name);
  if (!v->persistent && isInactiveState(snap->state) && !(flags & (kRevertRunning | kRevertPaused)))
    return Error::operationInvalid(kErr, "transient domain needs to request run or pause to revert to inactive "
                                         "snapshot");
  if (!snap->dom)
    return Error::make(ErrorCode::SnapshotRevertRisky, kErr, "revert requires force: %s", "revert requires force",
                       "snapshot '" + name + "' lacks domain '" + v->def->name + "' rollback info");
  if (snap->state == conf::SnapshotState::PmSuspended)
    return Error::operationUnsupported(kErr, "qemu doesn't support reversion of snapshot taken in PMSUSPENDED state");
  if (snap->isExternal()) return revertExternalSnapshot(uuid, name, flags);

  const bool wantPaused = !(flags & kRevertRunning) &&
                          (snap->state == conf::SnapshotState::Paused || (flags & kRevertPaused));
  const bool snapHasMemory = !isInactiveState(snap->state);
  const bool active = v->active();

  // The snapshot's configuration becomes the domain's, as in libvirt.
  auto adoptConfig = [&]() -> Result<void> {
    auto cur = domains_.findByUuid(uuid);
    if (!cur || !cur->persistent) return {};
    if (conf::formatDomainDef(*cur->def, conf::kFormatInactive) == conf::formatDomainDef(*snap->dom, conf::kFormatInactive))
      return {};
    return savePersistentDef(uuid, snap->dom);
  };

  if (snapHasMemory && active) {
    auto rt = runtime(uuid);
    if (!rt || !rt->mon) return Error::operationInvalid(kErr, "domain is not running");
    // Loaded in place: same QEMU, same devices (the snapshot was taken of
    // this configuration; a different one would need a new QEMU).
    auto liveRecorded = conf::snapshotDomainFromVm(*v->def);
    if (!liveRecorded) return liveRecorded.error();
    if (conf::formatDomainDef(**liveRecorded, conf::kFormatInactive) !=
        conf::formatDomainDef(*snap->dom, conf::kFormatInactive)) {
      finishStop(uuid, kShutoffFromSnapshot, kDetailStoppedFromSnapshot);
      SV_TRY_VOID(adoptConfig());
      SV_TRY_VOID(revertStartFromSnapshot(uuid, *snap, wantPaused));
    } else {
      std::vector<std::string> nodes;
      SV_TRY_ASSIGN(nodes, snapshotNodes(*rt, *snap, *snap->dom));
      const bool running = v->state == DomainState::Running;
      if (running) rt->expectStop = rt->expectResume = true;
      auto r = snapshotLoad(*rt->mon, jobId("load"), snap->name, nodes.front(), nodes);
      if (!r) {
        if (running) rt->expectStop = rt->expectResume = false;
        return r.error();
      }
      // snapshot-load leaves the vCPUs as they were; set what the snapshot says.
      if (wantPaused && running) {
        rt->expectStop = true;
        if (auto s = stop(*rt->mon); !s) {
          rt->expectStop = false;
          return s.error();
        }
      } else if (!wantPaused && !running) {
        rt->expectResume = true;
        if (auto c = cont(*rt->mon); !c) {
          rt->expectResume = false;
          return c.error();
        }
      }
      auto nv = domains_.update(uuid, [&](DomainView& d) {
        d.state = wantPaused ? DomainState::Paused : DomainState::Running;
        d.reason = wantPaused ? kPausedFromSnapshot : kRunningFromSnapshot;
      });
      if (nv) {
        (void)saveStatus(*nv, *rt);
        // libvirt reports a revert of a running guest as a stop and a start
        // from the snapshot; keep that shape for event consumers.
        events_->domainLifecycle(handleOf(*nv), kEvStopped, kDetailStoppedFromSnapshot);
        events_->domainLifecycle(handleOf(*nv), kEvStarted, kDetailStartedFromSnapshot);
        events_->domainLifecycle(handleOf(*nv), wantPaused ? kEvSuspended : kEvResumed,
                                 wantPaused ? kDetailSuspendedFromSnapshot : kDetailResumedFromSnapshot);
      }
    }
  } else if (snapHasMemory) {
    SV_TRY_VOID(adoptConfig());
    SV_TRY_VOID(revertStartFromSnapshot(uuid, *snap, wantPaused));
  } else {
    if (active) finishStop(uuid, kShutoffFromSnapshot, kDetailStoppedFromSnapshot);
    SV_TRY_VOID(adoptConfig());
    SV_TRY_VOID(qemuImgSnapshot("-a", snap->name, internalImages(*snap, *snap->dom)));
    if (flags & (kRevertRunning | kRevertPaused)) {
      auto r = startDomain(uuid, kStartFromSnapshot | ((flags & kRevertPaused) ? kStartPaused : 0));
      if (!r) return r.error();
    }
  }

  std::lock_guard lk(snapMutex_);
  auto& live = snapTrees_[uuid];
  objects::SnapshotTree next = live;
  auto changes = next.setCurrent(name);
  if (auto r = snapStore_->apply(v->def->name, uuid, next, changes); !r)
    return Error::internal(kErr, "unable to save metadata for snapshot " + name);
  live = std::move(next);
  return {};
}

// A shut-off guest reverting to a snapshot with memory: QEMU starts paused
// from the snapshot's configuration, loads the state, then runs (or stays
// paused) as the snapshot says.
Result<void> QemuDriver::revertStartFromSnapshot(const conf::Uuid& uuid, const conf::SnapshotDef& snap, bool wantPaused) {
  auto started = startDomain(uuid, kStartPaused | kStartNoResume);
  if (!started) return started.error();
  auto rt = runtime(uuid);
  if (!rt || !rt->mon) return Error::internal(kErr, "guest unexpectedly quit");
  auto nodes = snapshotNodes(*rt, snap, *snap.dom);
  Result<void> r = nodes ? snapshotLoad(*rt->mon, jobId("load"), snap.name, nodes->front(), *nodes)
                         : Result<void>(nodes.error());
  if (!r) {
    Error e = r.error();
    finishStop(uuid, kShutoffFailed, -1);
    return e;
  }
  return finishSnapshotStart(uuid, wantPaused);
}

// A QEMU started with kStartNoResume that holds the snapshot's state now:
// it runs (or stays paused), and the start is recorded and announced as
// libvirt does for a revert.
Result<void> QemuDriver::finishSnapshotStart(const conf::Uuid& uuid, bool wantPaused) {
  auto rt = runtime(uuid);
  if (!rt || !rt->mon) return Error::internal(kErr, "guest unexpectedly quit");
  if (!wantPaused) {
    rt->expectResume = true;
    if (auto r = cont(*rt->mon); !r) {
      rt->expectResume = false;
      Error e = r.error();
      finishStop(uuid, kShutoffFailed, -1);
      return e;
    }
  }
  auto nv = domains_.update(uuid, [&](DomainView& d) {
    d.state = wantPaused ? DomainState::Paused : DomainState::Running;
    d.reason = wantPaused ? kPausedFromSnapshot : kRunningFromSnapshot;
  });
  if (nv) {
    (void)saveStatus(*nv, *rt);
    events_->domainLifecycle(handleOf(*nv), kEvStarted, kDetailStartedFromSnapshot);
    events_->domainLifecycle(handleOf(*nv), wantPaused ? kEvSuspended : kEvResumed,
                             wantPaused ? kDetailSuspendedFromSnapshot : kDetailResumedFromSnapshot);
  }
  return {};
}

Result<void> QemuDriver::deleteSnapshot(const conf::Uuid& uuid, const std::string& name, unsigned flags) {
  if (flags & ~(kDeleteChildren | kDeleteMetadataOnly | kDeleteChildrenOnly)) return Error::unsupportedFlags(kErr, flags & ~(kDeleteChildren | kDeleteMetadataOnly | kDeleteChildrenOnly), "qemuSnapshotDelete");
  if ((flags & kDeleteChildren) && (flags & kDeleteChildrenOnly))
    return Error::invalidArgIn(kErr, "qemuSnapshotDelete", "flags",
                               "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and "
                               "'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive");
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  objects::SnapshotTree tree;
  {
    std::lock_guard lk(snapMutex_);
    tree = snapTrees_[uuid];
  }
  auto snap = tree.find(name);
  if (!snap) return objects::noDomainSnapshot(kErr, name);

  std::vector<std::string> targets;
  if (!(flags & kDeleteChildrenOnly)) targets.push_back(name);
  if (flags & (kDeleteChildren | kDeleteChildrenOnly))
    for (auto& d : tree.descendants(name)) targets.push_back(d);

  if (!(flags & kDeleteMetadataOnly)) {
    // qemuSnapshotDeleteValidate, the checks internal snapshots meet.
    if (flags & (kDeleteChildren | kDeleteChildrenOnly)) {
      bool ext = false, internal = false;
      for (auto& d : tree.descendants(name)) (tree.find(d)->isExternal() ? ext : internal) = true;
      if (ext && internal)
        return Error::configUnsupported(kErr, "deletion of external and internal children disk snapshots not "
                                              "supported");
      if (ext) return Error::configUnsupported(kErr, "deletion of external children disk snapshots not supported");
    }
    if (snap->isExternal()) {
      if (flags & kDeleteChildren)
        return Error::configUnsupported(kErr, "deletion of external disk snapshots with children not supported");
      objects::SnapshotTree next = tree;
      objects::SnapshotChanges changes;
      std::vector<std::string> toUnlink;
      auto r = deleteExternalSnapshot(uuid, next, name, changes, toUnlink);
      if (!r) {
        // Keep what was done (e.g. the in-progress mark) visible.
        std::lock_guard lk(snapMutex_);
        snapTrees_[uuid] = std::move(next);
        return r.error();
      }
      changes.merge(next.remove(name));
      journalUnlinks(v->def->name, toUnlink);
      {
        std::lock_guard lk(snapMutex_);
        if (auto a = snapStore_->apply(v->def->name, uuid, next, changes); !a) return a.error();
        snapTrees_[uuid] = std::move(next);
      }
      unlinkImages(v->def->name, toUnlink);
      return {};
    }

    auto rt = v->active() ? runtime(uuid) : nullptr;
    // Children before parents: a failure leaves a consistent (smaller) tree.
    for (auto it = targets.rbegin(); it != targets.rend(); ++it) {
      auto t = tree.find(*it);
      if (!t || !t->dom) continue;
      if (rt && rt->mon) {
        std::vector<std::string> nodes;
        SV_TRY_ASSIGN(nodes, snapshotNodes(*rt, *t, *v->def));
        SV_TRY_VOID(snapshotDelete(*rt->mon, jobId("delete"), t->name, nodes));
      } else {
        // The images as they are now (libvirt's qemuDomainSnapshotForEachQcow2
        // on the domain definition).
        SV_TRY_VOID(qemuImgSnapshot("-d", t->name, internalImages(*t, *v->def)));
      }
    }
  }

  std::lock_guard lk(snapMutex_);
  auto& live = snapTrees_[uuid];
  objects::SnapshotTree next = live;
  objects::SnapshotChanges changes;
  if (flags & kDeleteChildren)
    changes = next.removeSubtree(name, true);
  else if (flags & kDeleteChildrenOnly)
    changes = next.removeSubtree(name, false);
  else
    changes = next.remove(name);
  if (auto r = snapStore_->apply(v->def->name, uuid, next, changes); !r) return r.error();
  live = std::move(next);
  return {};
}

}  // namespace splitvirt::qemu
