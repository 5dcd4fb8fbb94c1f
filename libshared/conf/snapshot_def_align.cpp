// The driver-facing side of snapshot_conf.c: virDomainSnapshotRedefineValidate,
// virDomainSnapshotAlignDisks with the default external file names, and the
// domain copy a new snapshot records.
#include "conf/snapshot_def.hpp"

#include <map>
#include <sys/stat.h>

namespace splitvirt::conf {

namespace {

constexpr ErrorDomain kSnap = kFromDomainSnapshot;
constexpr unsigned kCreateDiskOnly = 1u << 4;  // VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY

bool isOnline(SnapshotState s) { return s == SnapshotState::Running || s == SnapshotState::Paused; }

// virStorageSourceIsEmpty for the domain's disk model.
bool diskIsEmpty(const DiskDef& d) {
  bool local = d.type == DiskType::File || d.type == DiskType::Block || d.type == DiskType::Dir;
  return local && !d.sourcePath;
}

// virDomainDiskIndexByName(def, name, false): a target name, or (leading
// '/') an unambiguous source path.
int diskIndexByName(const DomainDef& dom, const std::string& name) {
  int candidate = -1;
  for (size_t i = 0; i < dom.disks.size(); i++) {
    const DiskDef& d = dom.disks[i];
    if (!name.starts_with('/')) {
      if (d.targetDev == name) return static_cast<int>(i);
    } else if (d.sourcePath && *d.sourcePath == name) {
      if (candidate >= 0) return -1;
      candidate = static_cast<int>(i);
    }
  }
  return candidate;
}

// virDomainSnapshotDefAssignExternalNames
Result<void> assignExternalNames(SnapshotDef& def, const DomainDef& dom) {
  for (size_t i = 0; i < def.disks.size(); i++) {
    SnapshotDiskDef& disk = def.disks[i];
    if (disk.snapshot != SnapshotLocation::External || disk.path) continue;
    if (disk.type != DiskType::File)
      return Error::configUnsupported(kSnap, "cannot generate external snapshot name for disk '" + disk.name +
                                                 "' on a '" + std::string(storageTypeName(disk.type)) + "' device");
    const auto& orig = dom.disks[i].sourcePath;
    if (!orig)
      return Error::configUnsupported(kSnap, "cannot generate external snapshot name for disk '" + disk.name +
                                                 "' without source");
    struct stat sb {};
    if (::stat(orig->c_str(), &sb) < 0 || !S_ISREG(sb.st_mode))
      return Error::configUnsupported(kSnap, "source for disk '" + disk.name +
                                                 "' is not a regular file; refusing to generate external "
                                                 "snapshot name");
    disk.path = defaultExternalSnapshotPath(*orig, def.name);
    for (size_t j = 0; j < i; j++) {
      if (def.disks[j].path == disk.path)
        return Error::configUnsupported(kSnap, "cannot generate external snapshot name for disk '" + disk.name +
                                                   "': collision with disk '" + def.disks[j].name + "'");
    }
  }
  return {};
}

}  // namespace

std::string defaultExternalSnapshotPath(std::string_view image, std::string_view snapName) {
  std::string base(image);
  // Drop the suffix only when the last '.' is inside the last path component.
  if (auto dot = base.rfind('.'); dot != std::string::npos && base.find('/', dot) == std::string::npos)
    base.resize(dot);
  return base + "." + std::string(snapName);
}

Result<std::shared_ptr<const DomainDef>> snapshotDomainFromVm(const DomainDef& vm) {
  DomainDef copy = vm;
  // qemuDomainDefFormatBufInternal(MIGRATABLE): a lone default USB
  // controller and a lone pci-root at index 0 (no user alias) are dropped.
  auto lone = [&](ControllerType type) -> int {
    int found = -1;
    for (size_t i = 0; i < copy.controllers.size(); i++) {
      if (copy.controllers[i].type != type) continue;
      if (found >= 0) return -1;
      found = static_cast<int>(i);
    }
    return found;
  };
  auto userAlias = [](const ControllerDef& c) { return c.info.alias.starts_with("ua-"); };
  int usb = lone(ControllerType::Usb);
  if (usb >= 0) {
    const ControllerDef& c = copy.controllers[static_cast<size_t>(usb)];
    if (c.index != 0 || (c.model && *c.model != "piix3-uhci") || userAlias(c)) usb = -1;
  }
  int pci = lone(ControllerType::Pci);
  if (pci >= 0) {
    const ControllerDef& c = copy.controllers[static_cast<size_t>(pci)];
    if (c.index != 0 || c.model != "pci-root" || userAlias(c)) pci = -1;
  }
  std::vector<ControllerDef> kept;
  for (size_t i = 0; i < copy.controllers.size(); i++)
    if (static_cast<int>(i) != usb && static_cast<int>(i) != pci) kept.push_back(std::move(copy.controllers[i]));
  copy.controllers = std::move(kept);
  auto def = parseDomainDef(formatDomainDef(copy, kFormatInactive | kFormatSecure, -1), 0, ErrorDomain::Domain);
  if (!def) return def.error();
  return std::make_shared<const DomainDef>(std::move(*def));
}

SnapshotLocation domainDiskSnapshotLocation(const DiskDef& disk) {
  if (disk.readonly || disk.type == DiskType::Vhostuser) return SnapshotLocation::No;
  return SnapshotLocation::Default;
}

Result<void> validateSnapshotRedefine(const SnapshotDef& def, const Uuid& vmUuid, const SnapshotDef* existing,
                                      unsigned createFlags) {
  if ((createFlags & kCreateDiskOnly) && def.state != SnapshotState::DiskSnapshot)
    return Error::invalidArg(kSnap, "disk-only flag for snapshot " + def.name + " requires disk-snapshot state");
  if (def.dom && def.dom->uuid != vmUuid)
    return Error::invalidArg(kSnap, "definition for snapshot " + def.name + " must use uuid " + formatUuid(vmUuid));
  if (existing) {
    if (isOnline(existing->state) != isOnline(def.state))
      return Error::invalidArg(kSnap, "cannot change between online and offline snapshot state in snapshot " +
                                          def.name);
    if ((existing->state == SnapshotState::DiskSnapshot) != (def.state == SnapshotState::DiskSnapshot))
      return Error::invalidArg(kSnap, "cannot change between disk only and full system in snapshot " + def.name);
  }
  return {};
}

Result<void> alignSnapshotDisks(SnapshotDef& def, const DomainDef* existingDomain, SnapshotLocation defaultLocation,
                                bool uniformInternal, bool forceDefaultLocation) {
  const DomainDef* dom = def.dom ? def.dom.get() : existingDomain;
  if (!dom) return Error::internal(kSnap, "missing domain in snapshot");
  if (def.disks.size() > dom->disks.size())
    return Error::configUnsupported(kSnap, "too many disk snapshot requests for domain");
  const bool requireMatch = uniformInternal && defaultLocation == SnapshotLocation::Internal;
  if (dom->disks.empty()) return {};

  std::map<std::string, size_t> byTarget;  // domain target -> index into the request
  for (size_t i = 0; i < def.disks.size(); i++) {
    SnapshotDiskDef& snapDisk = def.disks[i];
    int idx = diskIndexByName(*dom, snapDisk.name);
    if (idx < 0) return Error::configUnsupported(kSnap, "no disk named '" + snapDisk.name + "'");
    const DiskDef& domDisk = dom->disks[static_cast<size_t>(idx)];
    if (!byTarget.emplace(domDisk.targetDev, i).second)
      return Error::configUnsupported(kSnap, "disk '" + snapDisk.name + "' specified twice");

    SnapshotLocation domLoc = domainDiskSnapshotLocation(domDisk);
    if (snapDisk.snapshot == SnapshotLocation::Default) {
      if (domLoc != SnapshotLocation::Default && (!requireMatch || domLoc == SnapshotLocation::No))
        snapDisk.snapshot = domLoc;
      else
        snapDisk.snapshot = defaultLocation;
    } else if (requireMatch && snapDisk.snapshot != defaultLocation &&
               !(snapDisk.snapshot == SnapshotLocation::No && domLoc == SnapshotLocation::No)) {
      return Error::configUnsupported(kSnap, "disk '" + snapDisk.name + "' must use snapshot mode '" +
                                                 std::string(snapshotLocationName(defaultLocation)) + "'");
    }
    if (snapDisk.path && snapDisk.snapshot != SnapshotLocation::External)
      return Error::configUnsupported(kSnap, "file '" + *snapDisk.path + "' for disk '" + snapDisk.name +
                                                 "' requires use of external snapshot mode");
    snapDisk.name = domDisk.targetDev;
  }

  std::vector<SnapshotDiskDef> aligned(dom->disks.size());
  for (size_t i = 0; i < dom->disks.size(); i++) {
    const DiskDef& domDisk = dom->disks[i];
    if (auto it = byTarget.find(domDisk.targetDev); it != byTarget.end()) {
      aligned[i] = std::move(def.disks[it->second]);
      continue;
    }
    SnapshotDiskDef& d = aligned[i];
    d.name = domDisk.targetDev;
    d.type = DiskType::File;
    SnapshotLocation domLoc = domainDiskSnapshotLocation(domDisk);
    if (diskIsEmpty(domDisk))
      d.snapshot = SnapshotLocation::No;
    else if (forceDefaultLocation && domLoc != SnapshotLocation::No)
      d.snapshot = defaultLocation;
    else
      d.snapshot = domLoc;
    if (d.snapshot == SnapshotLocation::Default) d.snapshot = defaultLocation;
  }
  def.disks = std::move(aligned);
  return assignExternalNames(def, *dom);
}

}  // namespace splitvirt::conf
