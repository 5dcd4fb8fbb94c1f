// Semantic checks that do not depend on the hypervisor driver
// (libvirt's virDomainDefValidate and the checks of its post-parse step).
#include "conf/domain_def_detail.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace splitvirt::conf {

using namespace detail;

// virDomainDiskDefValidate: the checks on one disk (also run on a device
// being attached).
Result<void> detail::validateDisk(const DiskDef& disk, ErrorDomain d) {
  bool removable = disk.device == DiskDevice::Cdrom || disk.device == DiskDevice::Floppy;
  if (!removable && diskNameToIndex(disk.targetDev) < 0)
    return intErr(d, "Invalid harddisk device name: " + disk.targetDev);
  if (disk.device == DiskDevice::Lun && !(disk.type == DiskType::Block && disk.sourcePath) &&
      disk.type != DiskType::Network && disk.type != DiskType::Volume)
    return cfgErr(d, "disk device='lun' is only valid for block type disk source");
  if (!removable && !disk.sourcePath && !disk.sourcePool && disk.type != DiskType::Network &&
      disk.type != DiskType::Nvme && disk.type != DiskType::Vhostuser) {
    return Error::make(kErrNoSource, d, "missing source information for device %s", "missing source information",
                       disk.targetDev);
  }
  return {};
}

namespace {

std::string diskSource(const DiskDef& disk) {
  if (disk.sourcePool) return *disk.sourcePool + "/" + disk.sourceVolume.value_or("<null>");
  return disk.sourcePath.value_or("<null>");
}

Result<void> validateDisks(const DomainDef& def, ErrorDomain d) {
  for (size_t i = 0; i < def.disks.size(); i++) {
    const DiskDef& disk = def.disks[i];
    SV_TRY_VOID(validateDisk(disk, d));
    for (size_t j = 0; j < i; j++) {
      if (def.disks[j].targetDev == disk.targetDev)
        return xmlErr(d, "target '" + disk.targetDev + "' duplicated for disk sources '" + diskSource(def.disks[j]) +
                             "' and '" + diskSource(disk) + "'");
    }
  }
  return {};
}

Result<void> validateBootOrder(const DomainDef& def, ErrorDomain d) {
  std::set<unsigned> seen;
  auto check = [&](const DeviceInfo& info) -> Result<void> {
    if (!info.bootOrder) return {};
    if (!seen.insert(*info.bootOrder).second)
      return cfgErr(d, "boot order '" + std::to_string(*info.bootOrder) + "' used for more than one device");
    return {};
  };
  for (const auto& x : def.disks) SV_TRY_VOID(check(x.info));
  for (const auto& x : def.nets) SV_TRY_VOID(check(x.info));
  return {};
}

Result<void> validateControllers(const DomainDef& def, ErrorDomain d) {
  std::set<std::pair<int, int>> seen;
  for (const auto& c : def.controllers) {
    if (c.type == ControllerType::Usb && seen.count({static_cast<int>(c.type), c.index}))
      return xmlErr(d, "Duplicate USB controllers with index " + std::to_string(c.index));
    if (!seen.insert({static_cast<int>(c.type), c.index}).second)
      return xmlErr(d, "Multiple '" + std::string(enumName(kControllerTypeNames, c.type)) +
                           "' controllers with index '" + std::to_string(c.index) + "'");
  }
  return {};
}

Result<void> validateVideos(const DomainDef& def, ErrorDomain d) {
  for (const auto& v : def.videos) {
    if (v.model == "none" && def.videos.size() > 1)
      return cfgErr(d, "a 'none' video type must be the only video device defined for the domain");
    if (v.model != "qxl") {
      if (v.ram) return cfgErr(d, "ram attribute only supported for video type qxl");
      if (v.vram64) return cfgErr(d, "vram64 attribute only supported for video type qxl");
      if (v.vgamem) return cfgErr(d, "vgamem attribute only supported for video type qxl");
    }
  }
  return {};
}

Result<void> validateAliases(const DomainDef& def, ErrorDomain d) {
  std::set<std::string> seen;
  auto check = [&](const DeviceInfo& info) -> Result<void> {
    if (info.alias.empty()) return {};
    if (!seen.insert(info.alias).second) return cfgErr(d, "non unique alias detected: " + info.alias);
    return {};
  };
  for (const auto& x : def.disks) SV_TRY_VOID(check(x.info));
  for (const auto& x : def.controllers) SV_TRY_VOID(check(x.info));
  for (const auto& x : def.nets) SV_TRY_VOID(check(x.info));
  for (const auto& x : def.serials) SV_TRY_VOID(check(x.info));
  for (const auto& x : def.inputs) SV_TRY_VOID(check(x.info));
  for (const auto& x : def.videos) SV_TRY_VOID(check(x.info));
  if (def.memballoon) SV_TRY_VOID(check(def.memballoon->info));
  return {};
}

}  // namespace

Result<void> validateDomainDef(const DomainDef& def, ErrorDomain d) {
  if (def.name.empty())
    return Error::make(ErrorCode::NoName, d, "missing name information: %s", "missing name information",
                       std::nullopt);
  if (def.name.find('/') != std::string::npos) return xmlErr(d, "name " + def.name + " cannot contain '/'");
  if (def.title && def.title->find('\n') != std::string::npos)
    return xmlErr(d, "Domain title can't contain newlines");
  if (def.maxMemoryKiB == 0)
    return xmlErr(d, "Memory size must be specified via <memory> or in the <numa> configuration");
  // libvirt 9.0 reports a zero <vcpu> through its NUMA check, so do we.
  if (def.vcpusMax == 0) return intErr(d, "CPU IDs in <numa> exceed the <vcpu> count");
  if (def.vcpus > def.vcpusMax)
    return cfgErr(d, "maximum vCPU count must not be less than current vCPU count");
  SV_TRY_VOID(validateDisks(def, d));
  SV_TRY_VOID(validateControllers(def, d));
  SV_TRY_VOID(validateBootOrder(def, d));
  SV_TRY_VOID(validateVideos(def, d));
  std::set<unsigned> audioIds;
  for (const auto& a : def.audios)
    if (!audioIds.insert(a.id).second)
      return xmlErr(d, "audio ID " + std::to_string(a.id) + " is used multiple times");
  SV_TRY_VOID(validateAliases(def, d));
  bool usbNone = std::any_of(def.controllers.begin(), def.controllers.end(), [](const ControllerDef& c) {
    return c.type == ControllerType::Usb && c.model == "none";
  });
  for (const auto& in : def.inputs) {
    if (usbNone && in.bus == InputBus::Usb) return cfgErr(d, "Can't add USB input device. USB bus is disabled");
    if (in.bus == InputBus::Ps2 && in.type != InputType::Mouse && in.type != InputType::Keyboard)
      return intErr(d, "ps2 bus does not support " + std::string(enumName(kInputTypeNames, in.type)) +
                           " input device");
  }
  return {};
}

}  // namespace splitvirt::conf
