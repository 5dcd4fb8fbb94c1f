// External disk-only snapshots (protocol.md 7.2): each selected disk gets a
// new qcow2 overlay on top of the image it was using, and the guest writes
// to the overlay from then on. Shut off: the overlay is made with qemu-img
// and the definition points at it. Running: the overlay is made with
// qemu-img as well (unsafe mode: QEMU holds the backing image's lock), added
// with blockdev-add (backing: null) and installed for all disks at once with
// one QMP transaction of blockdev-snapshot.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_commands.hpp"
#include "util/command.hpp"
#include "util/fs.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <sys/stat.h>

#include <atomic>

namespace splitvirt::qemu {

using objects::DomainState;
using objects::DomainView;

namespace {

constexpr const char* kQemuImg = "/usr/bin/qemu-img";
std::atomic<unsigned> overlaySeq{1};

Result<uint64_t> virtualSize(const std::string& image) {
  auto r = runCommandChecked({kQemuImg, "info", "-U", "--output=json", image}, std::chrono::minutes(1), kErr);
  if (!r) return r.error();
  boost::system::error_code ec;
  auto v = boost::json::parse(r->out, ec);
  const auto* o = ec ? nullptr : v.if_object();
  const auto* size = o ? o->if_contains("virtual-size") : nullptr;
  if (!size || !size->is_number()) return Error::internal(kErr, "cannot read the size of '" + image + "'");
  return size->to_number<uint64_t>();
}

struct Overlay {
  std::string target, base, baseFormat, path, format;
  bool created = false;
  std::string node;  // running: the new format node
};

}  // namespace

Result<void> QemuDriver::createExternalSnapshotDisks(const conf::Uuid& uuid, conf::SnapshotDef& def, unsigned flags) {
  constexpr unsigned kReuseExt = 32;
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  const bool active = v->active();

  std::vector<Overlay> overlays;
  for (auto& sd : def.disks) {
    if (sd.snapshot == conf::SnapshotLocation::No) continue;
    if (sd.snapshot != conf::SnapshotLocation::External)
      return Error::configUnsupported(kErr, "mixing internal and external targets for a snapshot is not yet supported");
    const conf::DiskDef* disk = nullptr;
    for (auto& d : v->def->disks)
      if (d.targetDev == sd.name) disk = &d;
    if (!disk || !disk->sourcePath || !sd.path) continue;
    if (disk->type != conf::DiskType::File || sd.type != conf::DiskType::File)
      return Error::configUnsupported(kErr, "external snapshots of disk '" + sd.name +
                                                "' are supported only for file-based disks here");
    if (!sd.format) sd.format = "qcow2";  // qemuSnapshotPrepareDiskExternal's default
    Overlay o{sd.name, *disk->sourcePath, disk->driverType.value_or("raw"), *sd.path, *sd.format};
    if (o.format != "qcow2")
      return Error::configUnsupported(kErr, "external snapshot format for disk " + sd.name + " is unsupported: " +
                                                o.format);
    struct stat st {};
    const bool exists = ::stat(o.path.c_str(), &st) == 0;
    if (exists && !(flags & kReuseExt) && !S_ISBLK(st.st_mode))
      return Error::configUnsupported(kErr, "external snapshot file for disk " + sd.name +
                                                " already exists and is not a block device: " + o.path);
    if (!exists && (flags & kReuseExt))
      return Error::configUnsupported(kErr, "missing existing file for disk " + sd.name + ": " + o.path);
    o.created = !exists;
    overlays.push_back(std::move(o));
  }
  if (overlays.empty())
    return Error::configUnsupported(kErr, "disk-only snapshots require at least one disk to be selected for snapshot");

  auto cleanup = [&overlays] {
    for (auto& o : overlays)
      if (o.created) ::unlink(o.path.c_str());
  };
  for (auto& o : overlays) {
    if (!o.created) continue;
    std::vector<std::string> argv{kQemuImg, "create", "-q", "-f", "qcow2", "-F", o.baseFormat, "-b", o.base};
    if (active) {
      // QEMU holds the base image's write lock: give the size, skip opening it.
      auto size = virtualSize(o.base);
      if (!size) {
        cleanup();
        return size.error();
      }
      argv.insert(argv.begin() + 2, "-u");
      argv.push_back(o.path);
      argv.push_back(std::to_string(*size));
    } else {
      argv.push_back(o.path);
    }
    if (auto r = runCommandChecked(argv, std::chrono::minutes(1), kErr); !r) {
      cleanup();
      return r.error();
    }
  }

  if (active) {
    auto rt = runtime(uuid);
    if (!rt || !rt->mon) {
      cleanup();
      return Error::operationInvalid(kErr, "domain is not running");
    }
    auto blocks = queryBlock(*rt->mon);
    if (!blocks) {
      cleanup();
      return blocks.error();
    }
    std::string actions = "[";
    std::vector<std::string> added;
    auto undoNodes = [&] {
      for (auto it = added.rbegin(); it != added.rend(); ++it) (void)blockdevDel(*rt->mon, *it);
    };
    for (auto& o : overlays) {
      auto it = std::find_if(blocks->begin(), blocks->end(), [&](const QmpBlockInfo& b) { return b.file == o.base; });
      if (it == blocks->end() || it->nodeName.empty()) {
        undoNodes();
        cleanup();
        return Error::operationFailed(kErr, "disk '" + o.target + "' is not using image '" + o.base + "'");
      }
      const std::string base = "snap" + std::to_string(overlaySeq++);
      o.node = base + "-format";
      auto r = blockdevAdd(*rt->mon, JsonArgs().str("driver", "file").str("filename", o.path)
                                         .str("node-name", base + "-storage").json());
      if (r) {
        added.push_back(base + "-storage");
        r = blockdevAdd(*rt->mon, JsonArgs().str("driver", "qcow2").str("file", base + "-storage")
                                      .raw("backing", "null").str("node-name", o.node).json());
      }
      if (!r) {
        undoNodes();
        cleanup();
        return r.error();
      }
      added.push_back(o.node);
      if (actions.size() > 1) actions += ",";
      actions += "{\"type\":\"blockdev-snapshot\",\"data\":" +
                 JsonArgs().str("node", it->nodeName).str("overlay", o.node).json() + "}";
    }
    actions += "]";
    if (auto r = rt->mon->execute("transaction", JsonArgs().raw("actions", actions).json()); !r) {
      undoNodes();
      cleanup();
      return r.error();
    }
  }

  // The guest now writes to the overlays: both definitions follow (libvirt
  // updates the persistent one when it used the same image).
  auto retarget = [&overlays](conf::DomainDef& d) {
    for (auto& disk : d.disks)
      for (auto& o : overlays)
        if (disk.targetDev == o.target && disk.sourcePath == o.base) {
          disk.sourcePath = o.path;
          disk.driverType = "qcow2";
        }
  };
  if (active) {
    auto rt = runtime(uuid);
    auto live = std::make_shared<conf::DomainDef>(*v->def);
    retarget(*live);
    auto nv = domains_.update(uuid, [&](DomainView& d) { d.def = live; });
    if (nv && rt) (void)saveStatus(*nv, *rt);
    if (v->persistent && v->newDef) {
      auto persistent = std::make_shared<conf::DomainDef>(*v->newDef);
      retarget(*persistent);
      SV_TRY_VOID(savePersistentDef(uuid, persistent));
    } else if (v->persistent) {
      auto persistent = std::make_shared<conf::DomainDef>(*v->def);
      retarget(*persistent);
      SV_TRY_VOID(savePersistentDef(uuid, persistent));
    }
  } else {
    auto persistent = std::make_shared<conf::DomainDef>(*v->def);
    retarget(*persistent);
    if (auto r = savePersistentDef(uuid, persistent); !r) {
      cleanup();
      return r;
    }
  }
  return {};
}

}  // namespace splitvirt::qemu
