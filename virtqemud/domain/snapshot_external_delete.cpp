// Deleting an external snapshot S (protocol.md 7.4, "Case B"): S's overlay
// O_S (the layer the guest wrote after S) is committed into S's image B, so
// B takes the place of O_S for everything above it, and O_S goes away.
// Running guest: block-commit (active commit + pivot when O_S is the active
// layer). Shut off: `qemu-img commit`, and the image that was backed by O_S
// is re-pointed at B (metadata-only rebase: B now holds O_S's data).
//
// Not yet: the cases libvirt refuses (7.4 c, d, e: a snapshot reverted to,
// branches), which need reverts of external snapshots first; and recovery
// from a crash in the middle (next step of issue 4).
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_jobs.hpp"
#include "util/command.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <unistd.h>

#include <atomic>

namespace splitvirt::qemu {

using objects::DomainView;

namespace {

constexpr const char* kQemuImg = "/usr/bin/qemu-img";
std::atomic<unsigned> commitSeq{1};

// The backing file of `image` as qemu-img records it (absolute), if any.
Result<std::optional<std::string>> backingOf(const std::string& image) {
  auto r = runCommandChecked({kQemuImg, "info", "-U", "--output=json", image}, std::chrono::minutes(1), kErr);
  if (!r) return r.error();
  boost::system::error_code ec;
  auto v = boost::json::parse(r->out, ec);
  const auto* o = ec ? nullptr : v.if_object();
  if (!o) return Error::internal(kErr, "cannot read the image information of '" + image + "'");
  for (const char* key : {"full-backing-filename", "backing-filename"})
    if (auto* b = o->if_contains(key); b && b->is_string()) return std::optional<std::string>(std::string(b->as_string()));
  return std::optional<std::string>();
}

const conf::DiskDef* diskNamed(const conf::DomainDef& d, const std::string& target) {
  for (auto& disk : d.disks)
    if (disk.targetDev == target) return &disk;
  return nullptr;
}

// Same definition with every disk source `from` replaced by `to`.
std::shared_ptr<conf::DomainDef> retargeted(const conf::DomainDef& d, const std::string& from, const std::string& to,
                                            const std::optional<std::string>& format) {
  auto out = std::make_shared<conf::DomainDef>(d);
  for (auto& disk : out->disks)
    if (disk.sourcePath == from) {
      disk.sourcePath = to;
      if (format) disk.driverType = format;
    }
  return out;
}

}  // namespace

Result<void> QemuDriver::deleteExternalSnapshot(const conf::Uuid& uuid, objects::SnapshotTree& tree,
                                                const std::string& name, objects::SnapshotChanges& changes) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  auto snap = tree.find(name);
  if (!snap || !snap->dom) return Error::internal(kErr, "snapshot '" + name + "' lacks its domain definition");
  const bool current = tree.isCurrent(name);
  const auto& children = tree.children(name);
  if (current && !children.empty())
    return Error::configUnsupported(kErr, "deletion of active external snapshot that is not a leaf snapshot is not "
                                          "supported");
  if (!current && !children.empty() && !(tree.current() && tree.isAncestor(name, *tree.current())))
    return Error::configUnsupported(kErr, "deletion of non-leaf external snapshot that is not in active chain is not "
                                          "supported");
  if (children.size() > 1)
    return Error::configUnsupported(kErr, "deletion of external disk snapshot with multiple children snapshots not "
                                          "supported");
  if (!current && children.empty())
    return Error::configUnsupported(kErr, "deletion of a reverted-from external snapshot is not supported yet");
  if (auto parent = tree.parentOf(name)) {
    auto p = tree.find(*parent);
    if (p && !p->isExternal())
      return Error::operationUnsupported(kErr, "deleting external snapshot that has internal snapshot as parent not "
                                               "supported");
  }

  auto rt = v->active() ? runtime(uuid) : nullptr;
  for (auto& sd : snap->disks) {
    if (sd.snapshot != conf::SnapshotLocation::External || !sd.path) continue;
    const conf::DiskDef* snapDisk = diskNamed(*snap->dom, sd.name);
    if (!snapDisk || !snapDisk->sourcePath)
      return Error::internal(kErr, "failed to find disk '" + sd.name + "' in snapshot VM XML");
    const std::string overlay = *sd.path, base = *snapDisk->sourcePath;
    const std::optional<std::string> baseFormat = snapDisk->driverType;
    const conf::DiskDef* vmDisk = diskNamed(*v->def, sd.name);
    if (!vmDisk || !vmDisk->sourcePath) return Error::internal(kErr, "domain has no disk '" + sd.name + "'");
    const bool overlayIsActive = *vmDisk->sourcePath == overlay;

    if (rt && rt->mon) {
      auto top = formatNodeOf(*rt->mon, overlay);
      auto baseNode = top ? formatNodeOf(*rt->mon, base) : Result<std::string>(top.error());
      auto device = baseNode ? formatNodeOf(*rt->mon, *vmDisk->sourcePath) : Result<std::string>(baseNode.error());
      if (!device) return device.error();
      if (auto r = blockCommit(*rt->mon, "commit-" + std::to_string(commitSeq++), *device, *top, *baseNode,
                               overlayIsActive);
          !r)
        return Error::internal(kErr, "block commit failed while deleting disk '" + sd.name + "' snapshot: '" +
                                         r.error().message + "'");
    } else {
      auto backing = backingOf(overlay);
      if (!backing) return backing.error();
      if (!*backing || **backing != base)
        return Error::operationFailed(kErr, "VM disk source and snapshot disk source are not the same");
      if (auto r = runCommandChecked({kQemuImg, "commit", "-q", overlay}, std::chrono::minutes(30), kErr); !r)
        return Error::internal(kErr, "block commit failed while deleting disk '" + sd.name + "' snapshot: '" +
                                         r.error().message + "'");
      if (!overlayIsActive) {
        // The image directly above O_S in the guest's chain now backs onto B.
        std::string img = *vmDisk->sourcePath;
        for (int depth = 0; depth < 256; ++depth) {
          auto b = backingOf(img);
          if (!b) return b.error();
          if (!*b) return Error::operationFailed(kErr, "failed to find parent disk source in backing chain");
          if (**b == overlay) {
            if (auto r = runCommandChecked({kQemuImg, "rebase", "-u", "-F", baseFormat.value_or("qcow2"), "-b",
                                            base, img},
                                           std::chrono::minutes(1), kErr);
                !r)
              return r.error();
            break;
          }
          img = **b;
        }
      }
    }
    ::unlink(overlay.c_str());

    // Definitions that named O_S now name B: the guest's (when O_S was its
    // active layer) and those recorded in other snapshots.
    if (overlayIsActive) {
      auto live = retargeted(*v->def, overlay, base, baseFormat);
      auto nv = domains_.update(uuid, [&](DomainView& d) { d.def = live; });
      if (nv && rt) (void)saveStatus(*nv, *rt);
      const auto& persistent = v->newDef ? *v->newDef : *v->def;
      if (v->persistent) SV_TRY_VOID(savePersistentDef(uuid, retargeted(persistent, overlay, base, baseFormat)));
      v = domains_.findByUuid(uuid);
    }
    for (auto& other : tree.topological()) {
      if (other == name) continue;
      auto def = tree.find(other);
      if (!def || !def->dom || !diskNamed(*def->dom, sd.name) ||
          diskNamed(*def->dom, sd.name)->sourcePath != overlay)
        continue;
      auto copy = std::make_shared<conf::SnapshotDef>(*def);
      copy->dom = retargeted(*def->dom, overlay, base, baseFormat);
      auto r = tree.replace(copy);
      if (!r) return r.error();
      changes.merge(*r);
    }
  }
  return {};
}

}  // namespace splitvirt::qemu
