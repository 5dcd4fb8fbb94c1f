// Device hotplug on the domain model: parse one device, attach it to or
// detach it from a definition with the qemu driver's checks and defaults.
#include "conf/domain_device.hpp"

#include "conf/domain_def_detail.hpp"

#include <algorithm>
#include <type_traits>

namespace splitvirt::conf {

using namespace detail;

namespace {

constexpr ErrorDomain kQemu = ErrorDomain::Qemu;
constexpr ErrorCode kErrDeviceMissing = static_cast<ErrorCode>(99);  // VIR_ERR_DEVICE_MISSING

Error deviceMissing(ErrorDomain d, std::string detail) {
  return Error::make(kErrDeviceMissing, d, "device not found: %s", "device not found", std::move(detail));
}
Error operationUnsupported(ErrorDomain d, std::string detail) {
  return Error::make(ErrorCode::OperationUnsupported, d, "Operation not supported: %s", "Operation not supported",
                     std::move(detail));
}

// virDomainDeviceType's spellings (the element name, except for character
// devices), for the elements libvirt's device parser knows.
const Names kDeviceTypeNames = {"disk",       "lease",    "filesystem", "interface", "input",   "sound",
                                "video",      "hostdev",  "watchdog",   "controller", "graphics", "hub",
                                "redirdev",   "smartcard", "memballoon", "nvram",     "rng",     "shmem",
                                "tpm",        "panic",    "memory",     "iommu",     "vsock",   "audio",
                                "crypto"};

std::optional<std::string> deviceTypeName(std::string_view element) {
  if (element == "serial" || element == "parallel" || element == "console" || element == "channel") return "chr";
  if (enumIndex(kDeviceTypeNames, element) >= 0) return std::string(element);
  return std::nullopt;
}

Error notSupported(std::string_view type, DeviceAction action, DeviceScope scope) {
  std::string what = std::string(scope == DeviceScope::Config ? "persistent " : "live ") +
                     (action == DeviceAction::Attach ? "attach" : "detach");
  return operationUnsupported(kQemu, what + " of device '" + std::string(type) + "' is not supported");
}

// ---- checks before inserting (virDomainDeviceValidateAliasForHotplug,
// virDomainDefCompatibleDevice) ----

template <class F>
void forEachInfo(const DomainDef& def, F&& fn) {
  for (const auto& x : def.disks) fn(x.info);
  for (const auto& x : def.controllers) fn(x.info);
  for (const auto& x : def.nets) fn(x.info);
  for (const auto& x : def.serials) fn(x.info);
  for (const auto& x : def.inputs) fn(x.info);
  for (const auto& x : def.videos) fn(x.info);
  if (def.memballoon) fn(def.memballoon->info);
}

Result<void> checkCompatible(const DomainDef& def, const DeviceInfo& info, ErrorDomain d) {
  if (!info.alias.empty()) {
    bool dup = false;
    forEachInfo(def, [&](const DeviceInfo& o) { dup = dup || o.alias == info.alias; });
    if (dup) return cfgErr(d, "non unique alias detected: " + info.alias);
  }
  if (info.bootOrder) {
    if (!def.bootDevs.empty())
      return cfgErr(d, "per-device boot elements cannot be used together with os/boot elements");
    bool used = false;
    forEachInfo(def, [&](const DeviceInfo& o) { used = used || o.bootOrder == info.bootOrder; });
    if (used) return cfgErr(d, "boot order " + std::to_string(*info.bootOrder) + " is already used by another device");
  }
  return {};
}

// ---- QEMU aliases for the running definition (qemu_alias.c) ----

std::string diskAlias(const DomainDef& def, const DiskDef& disk) {
  const std::string prefix(enumName(kDiskBusNames, disk.bus));
  if (disk.info.addressType == AddressType::Drive) {
    const DriveAddress& a = disk.info.drive;
    bool wide = false;
    if (disk.bus == DiskBus::Scsi) {
      auto c = std::find_if(def.controllers.begin(), def.controllers.end(), [&](const ControllerDef& x) {
        return x.type == ControllerType::Scsi && x.index == static_cast<int>(a.controller);
      });
      wide = c != def.controllers.end() && c->model != "lsilogic";
    }
    std::string s = prefix + std::to_string(a.controller) + "-" + std::to_string(a.bus) + "-";
    if (wide) s += std::to_string(a.target) + "-";
    return s + std::to_string(a.unit);
  }
  return prefix + "-disk" + std::to_string(diskNameToIndex(disk.targetDev));
}

// qemuAssignDeviceControllerAlias for the i440fx/q35 machines.
std::string controllerAlias(const DomainDef& def, const ControllerDef& c) {
  const std::string prefix(enumName(kControllerTypeNames, c.type));
  if (c.type == ControllerType::Pci) return c.model == "pcie-root" ? "pcie.0" : "pci." + std::to_string(c.index);
  if (c.type == ControllerType::Ide && c.index == 0 && isI440fx(def)) return "ide";
  if (c.type == ControllerType::Sata && c.index == 0 && isQ35(def)) return "ide";
  if (c.type == ControllerType::Usb && c.index == 0) return "usb";
  if (c.type == ControllerType::Scsi && c.index == 0 && c.model == "ncr53c90") return "scsi";
  return prefix + std::to_string(c.index);
}

// qemuAssignDeviceNetAlias: one more than the highest "netN" in use.
std::string netAlias(const DomainDef& def) {
  long next = 0;
  for (const auto& n : def.nets) {
    const std::string& a = n.info.alias;
    if (!a.starts_with("net")) continue;
    auto idx = strToInt(std::string_view(a).substr(3));
    if (idx && *idx >= 0 && *idx >= next) next = *idx + 1;
  }
  return "net" + std::to_string(next);
}

const char* controllerNameForBus(DiskBus bus) {
  switch (bus) {
    case DiskBus::Ide: return "ide";
    case DiskBus::Fdc: return "fdc";
    case DiskBus::Sata: return "sata";
    default: return nullptr;
  }
}

ControllerType controllerTypeForBus(DiskBus bus) {
  switch (bus) {
    case DiskBus::Fdc: return ControllerType::Fdc;
    case DiskBus::Sata: return ControllerType::Sata;
    default: return ControllerType::Ide;
  }
}

bool hasController(const DomainDef& def, ControllerType t, unsigned index) {
  return std::any_of(def.controllers.begin(), def.controllers.end(), [&](const ControllerDef& c) {
    return c.type == t && c.index == static_cast<int>(index);
  });
}

// ---- attach, per device family ----

Result<DeviceDef> attachDisk(DomainDef& work, DiskDef disk, ErrorDomain d, DeviceScope scope) {
  SV_TRY_VOID(checkCompatible(work, disk.info, d));
  for (const auto& o : work.disks) {
    if (o.targetDev != disk.targetDev) continue;
    if (scope == DeviceScope::Config)
      return Error::operationInvalid(kQemu, "target " + disk.targetDev + " already exists");
    // virDomainDiskDefCheckDuplicateInfo (qemuDomainAttachDeviceDiskLive)
    return xmlErr(d, "target '" + disk.targetDev + "' duplicated for disk sources '" +
                         o.sourcePath.value_or("<null>") + "' and '" + disk.sourcePath.value_or("<null>") + "'");
  }
  // Only a SCSI controller is created for a hotplugged disk; QEMU cannot
  // hotplug the others (qemuDomainAttachDeviceDiskLive).
  if (scope == DeviceScope::Live && disk.info.addressType == AddressType::Drive) {
    if (const char* name = controllerNameForBus(disk.bus);
        name && !hasController(work, controllerTypeForBus(disk.bus), disk.info.drive.controller))
      return intErr(d, "Could not find " + std::string(name) + " controller with index " +
                           std::to_string(disk.info.drive.controller) + " required for device");
  }
  const std::string target = disk.targetDev;
  insertDisk(work.disks, std::move(disk));
  SV_TRY_VOID(postParseDomainDef(work, d));  // implicit controllers, addresses
  auto it = std::find_if(work.disks.begin(), work.disks.end(), [&](const DiskDef& x) { return x.targetDev == target; });
  if (scope == DeviceScope::Live && it->info.alias.empty()) it->info.alias = diskAlias(work, *it);
  return DeviceDef{*it, false};
}

Result<DeviceDef> attachNet(DomainDef& work, NetDef net, ErrorDomain d, DeviceScope scope) {
  SV_TRY_VOID(checkCompatible(work, net.info, d));
  std::string alias;
  if (scope == DeviceScope::Live && net.info.alias.empty()) alias = netAlias(work);
  work.nets.push_back(std::move(net));  // virDomainNetInsert appends
  const size_t idx = work.nets.size() - 1;
  SV_TRY_VOID(postParseDomainDef(work, d));
  NetDef& inserted = work.nets[idx];
  if (!alias.empty()) inserted.info.alias = alias;
  return DeviceDef{inserted, false};
}

// ---- find (virDomainDiskIndexByName / qemuDomainDetachPrepDisk, virDomainNetFindIdx) ----

bool samePci(const PciAddress& a, const PciAddress& b) {
  return a.domain == b.domain && a.bus == b.bus && a.slot == b.slot && a.function == b.function;
}

Result<size_t> findDiskIdx(const DomainDef& def, const DiskDef& match, DeviceScope scope) {
  auto it = std::find_if(def.disks.begin(), def.disks.end(),
                         [&](const DiskDef& x) { return x.targetDev == match.targetDev; });
  if (scope == DeviceScope::Config) {
    if (it == def.disks.end()) return deviceMissing(kQemu, "no target device " + match.targetDev);
    return static_cast<size_t>(it - def.disks.begin());
  }
  if (it == def.disks.end()) return deviceMissing(kQemu, "disk " + match.targetDev + " not found");
  if (it->device == DiskDevice::Cdrom || it->device == DiskDevice::Floppy)
    return operationUnsupported(kQemu, "disk device type '" + std::string(enumName(kDiskDeviceNames, it->device)) +
                                           "' cannot be detached");
  if (it->bus != DiskBus::Virtio && it->bus != DiskBus::Usb && it->bus != DiskBus::Scsi)
    return operationUnsupported(kQemu, "This type of disk cannot be hot unplugged");
  return static_cast<size_t>(it - def.disks.begin());
}

Result<size_t> findNetIdx(const DomainDef& def, const NetDef& match, bool macGenerated, ErrorDomain d) {
  const bool macGiven = match.mac && !macGenerated;
  const bool pciGiven = match.info.addressType == AddressType::Pci;
  const std::string& alias = match.info.alias;
  std::optional<size_t> found;
  for (size_t i = 0; i < def.nets.size(); i++) {
    const NetDef& n = def.nets[i];
    if (macGiven && n.mac != match.mac) continue;
    if (pciGiven && !(n.info.addressType == AddressType::Pci && samePci(n.info.pci, match.info.pci))) continue;
    if (!alias.empty() && n.info.alias != alias) continue;
    if (found) {
      if (macGiven)
        return Error::operationFailed(d, "multiple devices matching MAC address " + formatMac(*match.mac) + " found");
      return Error::operationFailed(d, "multiple matching devices found");
    }
    found = i;
  }
  if (!found) {
    const std::string kNull = "(<null>)";
    return deviceMissing(d, "no device found at address '" + (pciGiven ? formatPciAddress(match.info.pci) : kNull) +
                                "' matching MAC address '" + (macGiven ? formatMac(*match.mac) : kNull) +
                                "' and alias '" + (alias.empty() ? kNull : alias) + "'");
  }
  return *found;
}

}  // namespace

Result<DeviceDef> parseDeviceXml(std::string_view xml, ErrorDomain d, DeviceAction action, DeviceScope scope) {
  auto doc = XmlDoc::parse(xml, "(device_definition)", "", d);
  if (!doc) return doc.error();
  XmlNode node = doc->root();
  const std::string_view element = node.name();
  // Libvirt's live detach parses without VIR_DOMAIN_DEF_PARSE_INACTIVE, so
  // any alias is kept; otherwise only user aliases survive the parse.
  auto liveAlias = [&](DeviceInfo& info) {
    if (action != DeviceAction::Detach || scope != DeviceScope::Live) return;
    if (XmlNode a = node.child("alias"))
      if (auto name = a.attr("name"); name && !name->empty()) info.alias = *name;
  };
  if (element == "disk") {
    DiskDef disk;
    SV_TRY_ASSIGN(disk, parseDisk(node, d));
    liveAlias(disk.info);
    postParseDisk(disk);
    if (disk.info.addressType == AddressType::None) SV_TRY_VOID(assignDriveAddress(disk, d));
    if (action == DeviceAction::Attach) SV_TRY_VOID(validateDisk(disk, d));
    return DeviceDef{std::move(disk), false};
  }
  if (element == "interface") {
    NetDef net;
    SV_TRY_ASSIGN(net, parseNet(node, d));
    liveAlias(net.info);
    const bool generated = !net.mac;
    postParseNet(net);
    return DeviceDef{std::move(net), generated};
  }
  auto type = deviceTypeName(element);
  if (!type) return cfgErr(d, "unknown device type '" + std::string(element) + "'");
  return notSupported(*type, action, scope);
}

Result<DeviceDef> attachDevice(DomainDef& def, DeviceDef dev, ErrorDomain d, DeviceScope scope) {
  DomainDef work = def;
  const size_t ncontrollers = work.controllers.size();
  Result<DeviceDef> r = std::visit(
      [&](auto& x) -> Result<DeviceDef> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, DiskDef>)
          return attachDisk(work, std::move(x), d, scope);
        else
          return attachNet(work, std::move(x), d, scope);
      },
      dev.dev);
  if (!r) return r;
  if (scope == DeviceScope::Live) {
    // controllers the post-parse added for the device (a SCSI controller)
    for (size_t i = ncontrollers; i < work.controllers.size(); i++)
      if (work.controllers[i].info.alias.empty())
        work.controllers[i].info.alias = controllerAlias(work, work.controllers[i]);
  }
  r->macGenerated = dev.macGenerated;
  def = std::move(work);
  return r;
}

Result<DeviceDef> findDevice(const DomainDef& def, const DeviceDef& match, ErrorDomain d, DeviceScope scope) {
  if (const auto* disk = std::get_if<DiskDef>(&match.dev)) {
    size_t idx;
    SV_TRY_ASSIGN(idx, findDiskIdx(def, *disk, scope));
    return DeviceDef{def.disks[idx], false};
  }
  size_t idx;
  SV_TRY_ASSIGN(idx, findNetIdx(def, std::get<NetDef>(match.dev), match.macGenerated, d));
  return DeviceDef{def.nets[idx], false};
}

Result<DeviceDef> detachDevice(DomainDef& def, const DeviceDef& match, ErrorDomain d, DeviceScope scope) {
  DomainDef work = def;
  DeviceDef removed;
  if (const auto* disk = std::get_if<DiskDef>(&match.dev)) {
    size_t idx;
    SV_TRY_ASSIGN(idx, findDiskIdx(work, *disk, scope));
    removed.dev = std::move(work.disks[idx]);
    work.disks.erase(work.disks.begin() + static_cast<std::ptrdiff_t>(idx));
  } else {
    size_t idx;
    SV_TRY_ASSIGN(idx, findNetIdx(work, std::get<NetDef>(match.dev), match.macGenerated, d));
    removed.dev = std::move(work.nets[idx]);
    work.nets.erase(work.nets.begin() + static_cast<std::ptrdiff_t>(idx));
  }
  // qemuDomainDetachDeviceConfig ends with virDomainDefPostParse (e.g. the
  // <boot dev='hd'/> default returns when the last boot order goes).
  if (scope == DeviceScope::Config) SV_TRY_VOID(postParseDomainDef(work, d));
  def = std::move(work);
  return removed;
}

std::string formatDeviceXml(const DeviceDef& dev, unsigned flags) {
  XmlWriter w;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, DiskDef>)
          formatDisk(w, x, flags);
        else
          formatNet(w, x, flags);
      },
      dev.dev);
  return w.take();
}

}  // namespace splitvirt::conf
