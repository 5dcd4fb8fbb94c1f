// Device info (<boot>, <alias>, <address>), <controller> and <memballoon>.
#include "conf/domain_def_detail.hpp"

#include <cstdio>

namespace splitvirt::conf {

using namespace detail;

namespace {

const Names kAddressTypeNames = {"none", "pci", "drive", "virtio-serial", "ccid", "usb", "spapr-vio",
                                 "virtio-s390", "ccw", "virtio-mmio", "isa", "dimm", "unassigned"};
const Names kMemballoonModelNames = {"virtio", "xen", "none", "virtio-transitional", "virtio-non-transitional"};

const Names& controllerModels(ControllerType t) {
  static const Names scsi = {"auto",      "buslogic",           "lsilogic",   "lsisas1068",
                             "vmpvscsi",  "ibmvscsi",           "virtio-scsi", "lsisas1078",
                             "virtio-transitional", "virtio-non-transitional", "ncr53c90", "am53c974",
                             "dc390"};
  static const Names usb = {"piix3-uhci", "piix4-uhci", "ehci",       "ich9-ehci1", "ich9-uhci1",
                            "ich9-uhci2", "ich9-uhci3", "vt82c686b-uhci", "pci-ohci", "nec-xhci",
                            "qusb1",      "qusb2",      "qemu-xhci",  "none"};
  static const Names pci = {"pci-root", "pcie-root", "pci-bridge", "dmi-to-pci-bridge", "pcie-root-port",
                            "pcie-switch-upstream-port", "pcie-switch-downstream-port",
                            "pci-expander-bus", "pcie-expander-bus", "pcie-to-pci-bridge"};
  static const Names ide = {"piix3", "piix4", "ich6"};
  static const Names vserial = {"virtio", "virtio-transitional", "virtio-non-transitional"};
  static const Names isa = {};
  static const Names none = {};
  switch (t) {
    case ControllerType::Scsi: return scsi;
    case ControllerType::Usb: return usb;
    case ControllerType::Pci: return pci;
    case ControllerType::Ide: return ide;
    case ControllerType::VirtioSerial: return vserial;
    case ControllerType::Isa: return isa;
    default: return none;
  }
}

Error pciRangeErr(const std::string& what) { return Error::xmlError(ErrorDomain::None, what); }

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

Result<void> parseAddress(XmlNode addr, DeviceInfo& info, ErrorDomain d) {
  auto type = addr.attr("type");
  if (!type) return intErr(d, "No type specified for device address");
  int t = enumIndex(kAddressTypeNames, *type);
  if (t < 0) return cfgErr(d, "unknown address type '" + *type + "'");
  std::optional<unsigned> v;
  if (*type == "pci") {
    PciAddress& a = info.pci;
    SV_TRY_ASSIGN(v, propUInt(addr, "domain", 0));
    a.domain = v.value_or(0);
    SV_TRY_ASSIGN(v, propUInt(addr, "bus", 0));
    a.bus = v.value_or(0);
    SV_TRY_ASSIGN(v, propUInt(addr, "slot", 0));
    a.slot = v.value_or(0);
    SV_TRY_ASSIGN(v, propUInt(addr, "function", 0));
    a.function = v.value_or(0);
    SV_TRY_ASSIGN(a.multifunction, propOnOff(addr, "multifunction"));
    // An all-zero address (no domain, bus or slot) asks for one to be assigned.
    if (a.domain == 0 && a.bus == 0 && a.slot == 0) {
      info.addressType = AddressType::None;
      info.pci = PciAddress{};
      return {};
    }
    if (a.domain > 0xFFFF) return pciRangeErr("Invalid PCI address domain='" + hex(a.domain) + "', must be <= 0xFFFF");
    if (a.bus > 0xFF) return pciRangeErr("Invalid PCI address bus='" + hex(a.bus) + "', must be <= 0xFF");
    if (a.slot > 0x1F) return pciRangeErr("Invalid PCI address slot='" + hex(a.slot) + "', must be <= 0x1F");
    if (a.function > 7) return pciRangeErr("Invalid PCI address function=" + hex(a.function) + ", must be <= 7");
    info.addressType = AddressType::Pci;
  } else if (*type == "drive") {
    DriveAddress& a = info.drive;
    SV_TRY_ASSIGN(v, propUInt(addr, "controller"));
    a.controller = v.value_or(0);
    SV_TRY_ASSIGN(v, propUInt(addr, "bus"));
    a.bus = v.value_or(0);
    SV_TRY_ASSIGN(v, propUInt(addr, "target"));
    a.target = v.value_or(0);
    SV_TRY_ASSIGN(v, propUInt(addr, "unit"));
    a.unit = v.value_or(0);
    info.addressType = AddressType::Drive;
  } else if (*type == "usb") {
    SV_TRY_ASSIGN(v, propUInt(addr, "bus"));
    info.usb.bus = v.value_or(0);
    if (auto port = addr.attr("port")) {
      // dot-separated hub path of port numbers, e.g. "1.2"
      std::string_view rest = *port;
      bool ok = !rest.empty();
      while (ok && !rest.empty()) {
        auto dot = rest.find('.');
        auto part = rest.substr(0, dot);
        ok = strToUIntp(part).has_value();
        rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
        if (dot != std::string_view::npos && rest.empty()) ok = false;
      }
      if (!ok) return intErr(kFromDevice, "Cannot parse <address> 'port' attribute");
      info.usb.port = *port;
    }
    info.addressType = AddressType::Usb;
  }
  // Other address types are valid in libvirt but not kept by this model.
  return {};
}

}  // namespace

// ---------------- device info ----------------

Result<void> detail::parseDeviceInfo(XmlNode dev, DeviceInfo& info, ErrorDomain d, bool allowBoot) {
  if (XmlNode alias = dev.child("alias")) {
    // user aliases: "ua-" and [A-Za-z0-9_-]; anything else is ignored, as libvirt does
    auto ok = [](const std::string& s) {
      return s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
             std::string::npos;
    };
    if (auto name = alias.attr("name"); name && name->starts_with("ua-") && ok(*name)) info.alias = *name;
  }
  if (allowBoot) {
    if (XmlNode boot = dev.child("boot")) SV_TRY_ASSIGN(info.bootOrder, propUInt(boot, "order", 10, kPropRequired | kPropNonZero));
  }
  if (XmlNode addr = dev.child("address")) SV_TRY_VOID(parseAddress(addr, info, d));
  return {};
}

std::string detail::formatPciAddress(const PciAddress& a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", a.domain, a.bus, a.slot, a.function);
  return buf;
}

void detail::formatDeviceInfo(XmlWriter& w, const DeviceInfo& info, unsigned flags) {
  if (info.bootOrder) w.open("boot").attr("order", *info.bootOrder).close();
  if (!info.alias.empty() && (!(flags & kFormatInactive) || info.alias.starts_with("ua-")))
    w.open("alias").attr("name", info.alias).close();
  switch (info.addressType) {
    case AddressType::None:
      break;
    case AddressType::Pci:
      w.open("address").attr("type", "pci");
      w.attrHex("domain", info.pci.domain, 4).attrHex("bus", info.pci.bus, 2).attrHex("slot", info.pci.slot, 2);
      w.attr("function", hex(info.pci.function));
      w.attrOnOff("multifunction", info.pci.multifunction);
      w.close();
      break;
    case AddressType::Drive:
      w.open("address").attr("type", "drive");
      w.attr("controller", info.drive.controller).attr("bus", info.drive.bus);
      w.attr("target", info.drive.target).attr("unit", info.drive.unit).close();
      break;
    case AddressType::Usb:
      w.open("address").attr("type", "usb").attr("bus", info.usb.bus);
      if (!info.usb.port.empty()) w.attr("port", info.usb.port);
      w.close();
      break;
  }
}

// ---------------- <controller> ----------------

Result<ControllerDef> detail::parseController(XmlNode node, ErrorDomain d) {
  ControllerDef c;
  std::optional<unsigned> type;
  SV_TRY_ASSIGN(type, propEnum(node, "type", kControllerTypeNames));
  c.type = static_cast<ControllerType>(type.value_or(0));
  if (auto model = node.attr("model")) {
    if (enumIndex(controllerModels(c.type), *model) < 0) return cfgErr(d, "Unknown model type '" + *model + "'");
    c.model = *model;
  }
  std::optional<int> v;
  SV_TRY_ASSIGN(v, propInt(node, "index", 10, kPropNonNegative));
  c.index = v.value_or(-1);
  if (c.type == ControllerType::VirtioSerial) {
    SV_TRY_ASSIGN(v, propInt(node, "ports", 10, kPropNonNegative));
    if (v) c.ports = static_cast<unsigned>(*v);
    SV_TRY_ASSIGN(v, propInt(node, "vectors", 10, kPropNonNegative));
    if (v) c.vectors = static_cast<unsigned>(*v);
  }
  if (c.type == ControllerType::Pci) {
    if (XmlNode model = node.child("model")) c.pciModelName = model.attr("name");
    if (XmlNode target = node.child("target")) {
      SV_TRY_ASSIGN(c.pciChassisNr, propUInt(target, "chassisNr"));
      SV_TRY_ASSIGN(c.pciChassis, propUInt(target, "chassis"));
      SV_TRY_ASSIGN(c.pciPort, propUInt(target, "port", 0));
    }
  }
  SV_TRY_VOID(parseDeviceInfo(node, c.info, d, false));
  return c;
}

// virDomainControllerInsertPreAlloced: keep controllers of one type sorted by index.
void detail::insertController(std::vector<ControllerDef>& ctrls, ControllerDef c) {
  int insertAt = -1;
  for (int idx = static_cast<int>(ctrls.size()) - 1; idx >= 0; idx--) {
    const ControllerDef& cur = ctrls[idx];
    if (cur.type != c.type) continue;
    if (c.index == -1) {
      insertAt = idx + 1;
      break;
    }
    if (cur.index > c.index)
      insertAt = idx;
    else if (insertAt == -1)
      insertAt = idx + 1;
  }
  if (insertAt == -1)
    ctrls.push_back(std::move(c));
  else
    ctrls.insert(ctrls.begin() + insertAt, std::move(c));
}

void detail::formatController(XmlWriter& w, const ControllerDef& c, unsigned flags) {
  w.open("controller").attr("type", enumName(kControllerTypeNames, c.type)).attr("index", c.index);
  w.attrIf("model", c.model);
  w.attrIf("ports", c.ports);
  w.attrIf("vectors", c.vectors);
  if (c.pciModelName) w.open("model").attr("name", *c.pciModelName).close();
  if (c.pciChassisNr || c.pciChassis || c.pciPort) {
    w.open("target").attrIf("chassisNr", c.pciChassisNr).attrIf("chassis", c.pciChassis);
    if (c.pciPort) w.attrHex("port", *c.pciPort, 1);
    w.close();
  }
  formatDeviceInfo(w, c.info, flags);
  w.close();
}

// ---------------- <memballoon> ----------------

Result<MemballoonDef> detail::parseMemballoon(XmlNode node, ErrorDomain d) {
  MemballoonDef m;
  std::optional<unsigned> model;
  SV_TRY_ASSIGN(model, propEnum(node, "model", kMemballoonModelNames, kPropRequired));
  m.model = kMemballoonModelNames[*model];
  SV_TRY_ASSIGN(m.autodeflate, propOnOff(node, "autodeflate"));
  SV_TRY_ASSIGN(m.freePageReporting, propOnOff(node, "freePageReporting"));
  if (XmlNode stats = node.child("stats")) {
    std::optional<int> period;
    SV_TRY_ASSIGN(period, propInt(stats, "period"));
    if (period && *period < 0) period = 0;
    m.statsPeriod = period;
  }
  SV_TRY_VOID(parseDeviceInfo(node, m.info, d, false));
  return m;
}

void detail::formatMemballoon(XmlWriter& w, const MemballoonDef& m, unsigned flags) {
  w.open("memballoon").attr("model", m.model);
  w.attrOnOff("autodeflate", m.autodeflate).attrOnOff("freePageReporting", m.freePageReporting);
  if (m.statsPeriod) w.open("stats").attr("period", *m.statsPeriod).close();
  formatDeviceInfo(w, m.info, flags);
  w.close();
}

}  // namespace splitvirt::conf
