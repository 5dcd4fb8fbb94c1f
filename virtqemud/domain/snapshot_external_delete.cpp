// Deleting an external snapshot S anywhere in the tree. S's state lives in
// its image I (the disk source recorded in S's <domain>); deleting S means
// I is no longer a restore point, so I's data moves into what is built on it
// and I goes away:
//   * one image D on top of I: D is committed into I and D disappears
//     (libvirt's block-commit: active commit + pivot when D is the guest's
//     active layer); whatever named D now names I;
//   * several images on top of I (a branch point, or S reverted to while it
//     has children: the cases libvirt refuses, protocol.md 7.4 c-e): I is
//     streamed into each of them (block-stream for images QEMU has open,
//     `qemu-img rebase` for the others) and I disappears — unless I is a
//     base image of the user's, which stays as their shared backing;
//   * nothing on top of I (a snapshot reverted away from): I is removed.
// An image another snapshot still records as its own, or a base image we
// did not create, is never removed. Before any data moves, S is marked
// <snapshotDeleteInProgress/> in its metadata; a daemon that dies in the
// middle finishes the delete when it starts again (every step can be
// repeated). Files go only after the metadata no longer names them; a list
// of them is kept until they are gone.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_jobs.hpp"
#include "snapshot/image_graph.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <sstream>

namespace splitvirt::qemu {

using objects::DomainView;

namespace {

std::atomic<unsigned> blockJobSeq{1};

const conf::DiskDef* diskNamed(const conf::DomainDef& d, const std::string& target) {
  for (auto& disk : d.disks)
    if (disk.targetDev == target) return &disk;
  return nullptr;
}

// Same definition with every disk source `from` replaced by `to`.
std::shared_ptr<conf::DomainDef> retargeted(const conf::DomainDef& d, const std::string& from, const std::string& to,
                                            const std::string& format) {
  auto out = std::make_shared<conf::DomainDef>(d);
  for (auto& disk : out->disks)
    if (disk.sourcePath == from) {
      disk.sourcePath = to;
      disk.driverType = format;
    }
  return out;
}

// The guest's disk runs on `image`, no longer on `top`.
bool pivotedOnto(QmpClient& mon, const std::string& top, const std::string& image) {
  auto blocks = queryBlock(mon);
  if (!blocks) return false;
  bool onImage = false;
  for (auto& b : *blocks) {
    if (b.file == top) return false;
    onImage = onImage || b.file == image;
  }
  return onImage;
}

bool namesImage(const conf::DomainDef& d, const std::string& file) {
  for (auto& disk : d.disks)
    if (disk.sourcePath == file) return true;
  return false;
}

}  // namespace

std::set<std::string> QemuDriver::snapshotImageFiles(const objects::SnapshotTree& tree, const DomainView& v) {
  std::set<std::string> files;
  auto addDom = [&files](const conf::DomainDef& d) {
    for (auto& disk : d.disks)
      if (disk.sourcePath && disk.type == conf::DiskType::File) files.insert(*disk.sourcePath);
  };
  for (auto& n : tree.topological()) {
    auto s = tree.find(n);
    if (!s) continue;
    if (s->dom) addDom(*s->dom);
    for (auto& d : s->disks)
      if (d.path) files.insert(*d.path);
    for (auto& d : s->revertDisks)
      if (d.path) files.insert(*d.path);
  }
  addDom(*v.def);
  if (v.newDef) addDom(*v.newDef);
  return files;
}

// Every mention of image `from` becomes `to`: the guest's definitions and
// what other snapshots recorded.
Result<void> QemuDriver::renameImage(const conf::Uuid& uuid, objects::SnapshotTree& tree,
                                     objects::SnapshotChanges& changes, const std::string& from,
                                     const std::string& to, const std::string& format) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  if (namesImage(*v->def, from)) {
    auto live = retargeted(*v->def, from, to, format);
    auto nv = domains_.update(uuid, [&](DomainView& d) { d.def = live; });
    if (auto rt = runtime(uuid); nv && rt) (void)saveStatus(*nv, *rt);
  }
  if (v->persistent) {
    const conf::DomainDef& persistent = v->newDef ? *v->newDef : *v->def;
    if (namesImage(persistent, from)) SV_TRY_VOID(savePersistentDef(uuid, retargeted(persistent, from, to, format)));
  }
  for (auto& n : tree.topological()) {
    auto s = tree.find(n);
    if (!s) continue;
    bool touched = false;
    auto copy = std::make_shared<conf::SnapshotDef>(*s);
    if (copy->dom && namesImage(*copy->dom, from)) {
      copy->dom = retargeted(*copy->dom, from, to, format);
      touched = true;
    }
    for (auto* list : {&copy->disks, &copy->revertDisks})
      for (auto& d : *list)
        if (d.path == from) {
          d.path = to;
          touched = true;
        }
    if (!touched) continue;
    auto r = tree.replace(copy);
    if (!r) return r.error();
    changes.merge(*r);
  }
  return {};
}

std::string QemuDriver::unlinkJournalPath(const std::string& domName) const {
  return snapStore_->domainDir(domName) + "/.unlink-pending";
}

// The list of files a change will drop, written before the metadata stops
// naming them: a crash after the metadata is written leaves no orphan
// (finishPendingUnlinks at the next start removes what no metadata names;
// before it, they are all still named and stay).
void QemuDriver::journalUnlinks(const std::string& domName, const std::vector<std::string>& files) {
  if (files.empty()) return;
  std::ostringstream list;
  for (auto& f : files) list << f << "\n";
  (void)fs::makeDirs(snapStore_->domainDir(domName), 0755, kErr);
  (void)fs::atomicWriteFile(unlinkJournalPath(domName), list.str(), 0600, kErr);
}

// Files are removed only once no metadata names them.
void QemuDriver::unlinkImages(const std::string& domName, const std::vector<std::string>& files) {
  if (files.empty()) return;
  const std::string journal = unlinkJournalPath(domName);
  journalUnlinks(domName, files);
  for (auto& f : files)
    if (::unlink(f.c_str()) == 0) log::info("snapshot image %s removed", f.c_str());
  ::unlink(journal.c_str());
}

void QemuDriver::finishPendingUnlinks(const conf::Uuid& uuid, const std::string& domName) {
  auto text = fs::readFile(unlinkJournalPath(domName), kErr);
  if (!text) return;
  auto v = domains_.findByUuid(uuid);
  std::set<std::string> inUse;
  {
    std::lock_guard lk(snapMutex_);
    if (v) inUse = snapshotImageFiles(snapTrees_[uuid], *v);
  }
  std::istringstream in(*text);
  std::vector<std::string> files;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && !inUse.count(line)) files.push_back(line);
  unlinkImages(domName, files);
  ::unlink(unlinkJournalPath(domName).c_str());
}

Result<void> QemuDriver::deleteExternalSnapshot(const conf::Uuid& uuid, objects::SnapshotTree& tree,
                                                const std::string& name, objects::SnapshotChanges& changes,
                                                std::vector<std::string>& toUnlink) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  auto snap = tree.find(name);
  if (!snap || !snap->dom) return Error::internal(kErr, "snapshot '" + name + "' lacks its domain definition");
  if (auto parent = tree.parentOf(name)) {
    auto p = tree.find(*parent);
    if (p && !p->isExternal())
      return Error::operationUnsupported(kErr, "deleting external snapshot that has internal snapshot as parent not "
                                               "supported");
  }
  for (auto& sd : snap->disks)
    if (sd.snapshot == conf::SnapshotLocation::External) {
      const conf::DiskDef* disk = diskNamed(*snap->dom, sd.name);
      if (!disk || disk->type != conf::DiskType::File)
        return Error::operationUnsupported(kErr, "deleting external snapshot of disk '" + sd.name +
                                                     "': only file-based qcow2 disks are supported");
    }

  // Intent first: a restart finds the mark and finishes the delete.
  if (std::none_of(snap->disks.begin(), snap->disks.end(), [](auto& d) { return d.deleteInProgress; })) {
    auto marked = std::make_shared<conf::SnapshotDef>(*snap);
    for (auto& d : marked->disks)
      if (d.snapshot == conf::SnapshotLocation::External) d.deleteInProgress = true;
    auto r = tree.replace(marked);
    if (!r) return r.error();
    SV_TRY_VOID(snapStore_->apply(v->def->name, uuid, tree, *r));
    snap = tree.find(name);
  }

  auto rt = v->active() ? runtime(uuid) : nullptr;
  if (snap->memoryFile) toUnlink.push_back(*snap->memoryFile);
  for (auto& sd : snap->disks) {
    if (sd.snapshot != conf::SnapshotLocation::External) continue;
    const conf::DiskDef* snapDisk = diskNamed(*snap->dom, sd.name);
    if (!snapDisk || !snapDisk->sourcePath) continue;
    const std::string image = *snapDisk->sourcePath;

    v = domains_.findByUuid(uuid);
    bool sharedImage = (v->def && namesImage(*v->def, image)) || (v->newDef && namesImage(*v->newDef, image));
    for (auto& other : tree.topological()) {
      auto o = tree.find(other);
      if (other != name && o && o->dom && namesImage(*o->dom, image)) sharedImage = true;
    }
    if (sharedImage) continue;  // another restore point (or the guest) still is this image

    ImageGraph graph;
    SV_TRY_ASSIGN(graph, scanImages(snapshotImageFiles(tree, *v)));
    if (!graph.has(image)) continue;  // gone already (a repeated delete)
    const auto deps = graph.dependents(image);
    const auto base = graph.backingOf(image);
    const std::string imageFormat = graph.formatOf(image);
    auto openNode = [&](const std::string& file) -> std::optional<std::string> {
      if (!rt || !rt->mon) return std::nullopt;
      auto n = formatNodeOf(*rt->mon, file);
      return n ? std::optional<std::string>(*n) : std::nullopt;
    };
    const conf::DiskDef* vmDisk = diskNamed(*v->def, sd.name);
    const std::string active = vmDisk && vmDisk->sourcePath ? *vmDisk->sourcePath : "";

    if (deps.empty()) {
      // Nothing is built on it: only its record goes (never a base image
      // the user brought).
      if (base) toUnlink.push_back(image);
      continue;
    }
    if (deps.size() == 1) {
      // libvirt's way: commit the one image above into S's image.
      const std::string top = deps.front();
      if (top == active && rt && rt->mon && pivotedOnto(*rt->mon, top, image)) {
        // A daemon killed after the active commit pivoted (or whose ready
        // job was completed at restart): the data is in S's image already.
        SV_TRY_VOID(flushImage(*rt->mon, image));
        dropImageNodes(*rt->mon, top);
      } else if (auto topNode = openNode(top)) {
        auto baseNode = openNode(image);
        auto device = openNode(active);
        if (!baseNode || !device) return Error::operationFailed(kErr, "failed to find parent disk source in backing chain");
        if (auto r = blockCommit(*rt->mon, "commit-" + std::to_string(blockJobSeq++), *device, *topNode, *baseNode,
                                 top == active);
            !r)
          return Error::internal(kErr, "block commit failed while deleting disk '" + sd.name + "' snapshot: '" +
                                           r.error().message + "'");
        SV_TRY_VOID(flushImage(*rt->mon, image));
        dropImageNodes(*rt->mon, top);
      } else {
        SV_TRY_VOID(commitOffline(top));
        for (auto& above : graph.dependents(top)) SV_TRY_VOID(rebaseUnsafe(above, image, imageFormat));
      }
      SV_TRY_VOID(renameImage(uuid, tree, changes, top, image, imageFormat));
      toUnlink.push_back(top);
      continue;
    }
    // A branch point: every image above gets S's data, then S's image goes.
    // A base image of the user's stays as the branches' shared backing
    // (copying all of it into each branch would gain nothing).
    if (!base) continue;
    std::optional<std::string> baseNode;
    if (base) baseNode = openNode(*base);
    for (auto& dep : deps) {
      if (auto depNode = openNode(dep)) {
        auto args = JsonArgs();
        const std::string job = "stream-" + std::to_string(blockJobSeq++);
        args.str("job-id", job).str("device", *depNode).boolean("auto-dismiss", false);
        if (baseNode) args.str("base-node", *baseNode);
        if (auto r = runJob(*rt->mon, "block-stream", args.json(), job, std::chrono::hours(2)); !r)
          return Error::internal(kErr, "block stream failed while deleting disk '" + sd.name + "' snapshot: '" +
                                           r.error().message + "'");
        SV_TRY_VOID(flushImage(*rt->mon, dep));
      } else {
        SV_TRY_VOID(rebaseSafe(dep, base.value_or(""), base ? graph.formatOf(*base) : ""));
      }
    }
    // Records of S's image as some snapshot's overlay move to the image the
    // guest now builds on, or the first one above.
    std::string heir = deps.front();
    for (auto f = std::optional<std::string>(active); f && !f->empty(); f = graph.backingOf(*f))
      if (std::find(deps.begin(), deps.end(), *f) != deps.end()) heir = *f;
    if (rt && rt->mon) dropImageNodes(*rt->mon, image);
    SV_TRY_VOID(renameImage(uuid, tree, changes, image, heir, "qcow2"));
    toUnlink.push_back(image);
  }
  return {};
}

}  // namespace splitvirt::qemu
