// <disk> and the drive-address defaults for IDE/SCSI/SATA/FDC disks.
#include "conf/domain_def_detail.hpp"

namespace splitvirt::conf {

using namespace detail;

namespace {

const Names kCacheNames = {"default", "none", "writethrough", "writeback", "directsync", "unsafe"};
const Names kIoNames = {"default", "native", "threads", "io_uring"};
const Names kDiscardNames = {"default", "unmap", "ignore"};
const Names kTrayNames = {"closed", "open"};
const Names kVolumeModeNames = {"default", "host", "direct"};
// virStorageFileFormat ("none" is not a valid spelling)
const Names kFormatNames = {"raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
                            "ploop", "cow", "qcow", "qcow2", "qed", "vmdk", "luks"};

std::string sourceDescription(const DiskDef& disk) {
  if (disk.sourcePool)
    return "pool = '" + *disk.sourcePool + "', volume = '" + disk.sourceVolume.value_or("<null>") + "'";
  return disk.sourcePath.value_or("<null>");
}

}  // namespace

// virDiskNameToIndex: "vda" -> 0, "sdb" -> 1, "hdaa" -> 26; -1 when not a disk name.
int diskNameToIndex(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {"fd", "hd", "vd", "sd", "xvd", "ubd"};
  std::string_view rest;
  bool found = false;
  for (auto p : kPrefixes) {
    if (name.starts_with(p)) {
      rest = name.substr(p.size());
      found = true;
      break;
    }
  }
  if (!found) return -1;
  long idx = 0;
  size_t i = 0;
  for (; i < rest.size() && rest[i] >= 'a' && rest[i] <= 'z'; i++) {
    idx = (idx + (i < 1 ? 0 : 1)) * 26;
    idx += rest[i] - 'a';
    if (idx > 1000000) return -1;
  }
  if (i == 0) return -1;  // "vd0": no drive letters
  for (; i < rest.size(); i++)
    if (rest[i] < '0' || rest[i] > '9') return -1;
  return static_cast<int>(idx);
}

Result<DiskDef> detail::parseDisk(XmlNode node, ErrorDomain d) {
  DiskDef disk;
  std::optional<unsigned> v;
  SV_TRY_ASSIGN(v, propEnum(node, "type", kDiskTypeNames, kPropNonZero));
  if (v) disk.type = static_cast<DiskType>(*v);
  SV_TRY_ASSIGN(v, propEnum(node, "device", kDiskDeviceNames));
  if (v) disk.device = static_cast<DiskDevice>(*v);

  if (XmlNode src = node.child("source")) {
    switch (disk.type) {
      case DiskType::File: disk.sourcePath = src.attr("file"); break;
      case DiskType::Block: disk.sourcePath = src.attr("dev"); break;
      case DiskType::Dir: disk.sourcePath = src.attr("dir"); break;
      case DiskType::Volume: {
        disk.sourcePool = src.attr("pool");
        disk.sourceVolume = src.attr("volume");
        if (!disk.sourcePool != !disk.sourceVolume)
          return xmlErr(d, "'pool' and 'volume' must be specified together for 'pool' type source");
        if (auto mode = src.attr("mode")) {
          if (enumIndex(kVolumeModeNames, *mode) <= 0)
            return cfgErr(d, "unknown source mode '" + *mode + "' for volume type disk");
          disk.sourceMode = *mode;
        }
        break;
      }
      default: break;  // network/nvme/vhostuser sources are not kept
    }
    if (disk.sourcePath && disk.sourcePath->empty()) disk.sourcePath.reset();
  }

  if (XmlNode drv = node.child("driver")) {
    disk.driverName = drv.attr("name");
    if (auto fmt = drv.attr("type")) {
      // libvirt maps the legacy "aio" to raw
      std::string f = *fmt == "aio" ? "raw" : *fmt;
      if (enumIndex(kFormatNames, f) < 0) return cfgErr(d, "unknown driver format value '" + *fmt + "'");
      disk.driverType = f;
    }
    SV_TRY_ASSIGN(v, propEnum(drv, "cache", kCacheNames, kPropNonZero));
    if (v) disk.driverCache = std::string(kCacheNames[*v]);
    SV_TRY_ASSIGN(v, propEnum(drv, "io", kIoNames, kPropNonZero));
    if (v) disk.driverIo = std::string(kIoNames[*v]);
    SV_TRY_ASSIGN(v, propEnum(drv, "discard", kDiscardNames, kPropNonZero));
    if (v) disk.driverDiscard = std::string(kDiscardNames[*v]);
  }

  XmlNode target = node.child("target");
  auto dev = target ? target.attr("dev") : std::nullopt;
  if (!dev) {
    std::optional<std::string> what;
    if (disk.sourcePath || disk.sourcePool) what = sourceDescription(disk);
    return Error::make(kErrNoTarget, d, "missing target information for device %s",
                       "missing target information for device", what);
  }
  disk.targetDev = *dev;
  SV_TRY_ASSIGN(v, propEnum(target, "bus", kDiskBusNames, kPropNonZero));
  if (v) disk.bus = static_cast<DiskBus>(*v);
  SV_TRY_ASSIGN(v, propEnum(target, "tray", kTrayNames));
  if (v) disk.tray = std::string(kTrayNames[*v]);

  disk.readonly = static_cast<bool>(node.child("readonly"));
  disk.shareable = static_cast<bool>(node.child("shareable"));
  disk.transient = static_cast<bool>(node.child("transient"));
  disk.serial = node.childText("serial");
  if (disk.device == DiskDevice::Cdrom) disk.readonly = true;
  // a drive without a <source> is an empty one, of type file
  if (!node.child("source") &&
      (disk.type == DiskType::Volume || disk.type == DiskType::Block || disk.type == DiskType::Dir))
    disk.type = DiskType::File;

  SV_TRY_VOID(parseDeviceInfo(node, disk.info, d, true));
  return disk;
}

// virDomainDiskInsert: a disk goes after the last one on the same bus,
// or before the first one on that bus with a higher index. The bus compared
// is the one given in the XML (defaults are applied later).
void detail::insertDisk(std::vector<DiskDef>& disks, DiskDef disk) {
  int insertAt = -1;
  int newIdx = diskNameToIndex(disk.targetDev);
  for (int idx = static_cast<int>(disks.size()) - 1; idx >= 0; idx--) {
    if (disks[idx].bus != disk.bus) continue;
    if (diskNameToIndex(disks[idx].targetDev) > newIdx)
      insertAt = idx;
    else if (insertAt == -1)
      insertAt = idx + 1;
  }
  if (insertAt == -1)
    disks.push_back(std::move(disk));
  else
    disks.insert(disks.begin() + insertAt, std::move(disk));
}

Result<void> detail::assignDriveAddress(DiskDef& disk, ErrorDomain d) {
  int idx = diskNameToIndex(disk.targetDev);
  if (idx < 0) return xmlErr(d, "Unknown disk name '" + disk.targetDev + "' and no address specified");
  auto u = static_cast<unsigned>(idx);
  DriveAddress a;
  switch (disk.bus) {
    case DiskBus::Scsi:
      // narrow SCSI mapping (the qemu driver): 7 units per controller
      a.controller = u / 7;
      a.unit = u % 7;
      break;
    case DiskBus::Ide:
      a.controller = u / 4;
      a.bus = (u % 4) / 2;
      a.unit = u % 2;
      break;
    case DiskBus::Sata:
      a.controller = u / 6;
      a.unit = u % 6;
      break;
    case DiskBus::Fdc:
      a.controller = u / 2;
      a.unit = u % 2;
      break;
    default:
      return {};
  }
  disk.info.addressType = AddressType::Drive;
  disk.info.drive = a;
  return {};
}

void detail::formatDisk(XmlWriter& w, const DiskDef& disk, unsigned flags) {
  w.open("disk").attr("type", enumName(kDiskTypeNames, disk.type)).attr("device", enumName(kDiskDeviceNames, disk.device));
  if (disk.driverName || disk.driverType || disk.driverCache || disk.driverIo || disk.driverDiscard) {
    w.open("driver");
    w.attrIf("name", disk.driverName).attrIf("type", disk.driverType).attrIf("cache", disk.driverCache);
    w.attrIf("io", disk.driverIo).attrIf("discard", disk.driverDiscard);
    w.close();
  }
  switch (disk.type) {
    case DiskType::File:
      if (disk.sourcePath) w.open("source").attr("file", *disk.sourcePath).close();
      break;
    case DiskType::Block:
      if (disk.sourcePath) w.open("source").attr("dev", *disk.sourcePath).close();
      break;
    case DiskType::Dir:
      if (disk.sourcePath) w.open("source").attr("dir", *disk.sourcePath).close();
      break;
    case DiskType::Volume:
      if (disk.sourcePool) {
        w.open("source").attr("pool", *disk.sourcePool).attrIf("volume", disk.sourceVolume);
        w.attrIf("mode", disk.sourceMode).close();
      }
      break;
    default:
      break;
  }
  if (!(flags & kFormatInactive) && disk.backingChainKnown) {
    // libvirt numbers the images of a chain from the bottom up.
    size_t index = disk.backingChain.size();
    for (const auto& b : disk.backingChain) {
      w.open("backingStore").attr("type", "file").attr("index", std::to_string(index--));
      w.open("format").attr("type", b.format).close();
      w.open("source").attr("file", b.file).close();
    }
    w.empty("backingStore");
    for (size_t i = 0; i < disk.backingChain.size(); ++i) w.close();
  }
  if (!(flags & kFormatInactive) && disk.mirror) {
    w.open("mirror").attr("type", "file").attr("job", disk.mirror->job);
    if (disk.mirror->ready) w.attr("ready", "yes");
    w.open("format").attr("type", disk.mirror->format).close();
    w.open("source").attr("file", disk.mirror->file).close();
    w.close();
  }
  w.open("target").attr("dev", disk.targetDev);
  if (disk.bus != DiskBus::None) w.attr("bus", enumName(kDiskBusNames, disk.bus));
  w.attrIf("tray", disk.tray);
  w.close();
  if (disk.readonly) w.empty("readonly");
  if (disk.shareable) w.empty("shareable");
  if (disk.transient) w.empty("transient");
  w.textElementIf("serial", disk.serial);
  formatDeviceInfo(w, disk.info, flags);
  w.close();
}

}  // namespace splitvirt::conf
