// Device address assignment as the qemu driver does it at define time:
// PCI slots on i440fx machines (qemuDomainAssignDevicePCISlots and the PIIX3
// fixed functions), the fixed SATA function on q35, and USB ports.
#include "conf/domain_def_detail.hpp"

#include <array>
#include <map>
#include <set>

namespace splitvirt::conf {

using namespace detail;

namespace {

class PciBus0 {
 public:
  bool slotFree(unsigned slot) const { return used_[slot] == 0; }
  bool functionUsed(const PciAddress& a) const { return used_[a.slot] & (1u << a.function); }
  void reserve(const PciAddress& a) { used_[a.slot] |= static_cast<uint8_t>(1u << a.function); }

  // qemuDomainPCIAddressReserveNextAddr: the first slot with no function in use.
  Result<void> reserveNext(DeviceInfo& info, ErrorDomain d) {
    for (unsigned slot = 1; slot < used_.size(); slot++) {
      if (!slotFree(slot)) continue;
      PciAddress a;
      a.slot = slot;
      reserve(a);
      info.addressType = AddressType::Pci;
      info.pci = a;
      return {};
    }
    // libvirt would add a pci-bridge first; with bus 0 full it fails like this
    return intErr(d, "a PCI slot is needed to connect a PCI controller model='pci-bridge', but none is "
                     "available, and it cannot be automatically added");
  }

 private:
  std::array<uint8_t, 32> used_{};
};

bool onBus0(const DeviceInfo& info) {
  return info.addressType == AddressType::Pci && info.pci.domain == 0 && info.pci.bus == 0;
}

// Errors of qemu_domain_address.c are reported in VIR_FROM_QEMU.
constexpr ErrorDomain kQemu = ErrorDomain::Qemu;

Result<void> collect(PciBus0& bus, const DeviceInfo& info, ErrorDomain d) {
  if (!onBus0(info)) return {};
  if (bus.functionUsed(info.pci))
    return xmlErr(d, "Attempted double use of PCI Address " + formatPciAddress(info.pci));
  bus.reserve(info.pci);
  return {};
}

Result<void> collectAll(PciBus0& bus, const DomainDef& def, ErrorDomain d) {
  for (const auto& x : def.disks) SV_TRY_VOID(collect(bus, x.info, d));
  for (const auto& x : def.controllers) SV_TRY_VOID(collect(bus, x.info, d));
  for (const auto& x : def.nets) SV_TRY_VOID(collect(bus, x.info, d));
  for (const auto& x : def.serials) SV_TRY_VOID(collect(bus, x.info, d));
  for (const auto& x : def.inputs) SV_TRY_VOID(collect(bus, x.info, d));
  for (const auto& x : def.videos) SV_TRY_VOID(collect(bus, x.info, d));
  if (def.memballoon) SV_TRY_VOID(collect(bus, def.memballoon->info, d));
  return {};
}

bool isPciVideo(const VideoDef& v) { return v.model != "none" && v.model != "ramfb"; }

// Calls `fn` for every device that still wants a PCI address, in the order
// of qemuDomainAssignDevicePCISlots (the primary video is handled before).
template <class F>
Result<void> forEachPciCandidate(DomainDef& def, F&& fn) {
  auto wants = [](const DeviceInfo& info) { return info.addressType == AddressType::None; };
  for (auto& c : def.controllers) {
    if (c.type == ControllerType::Pci && c.model != "pci-root" && c.model != "pcie-root" && wants(c.info))
      SV_TRY_VOID(fn(c.info));
  }
  for (auto& n : def.nets)
    if (n.type != NetType::Hostdev && wants(n.info)) SV_TRY_VOID(fn(n.info));
  for (auto& c : def.controllers) {
    if (c.type == ControllerType::Pci || c.type == ControllerType::Fdc || c.type == ControllerType::Ccid ||
        c.type == ControllerType::Isa || c.type == ControllerType::Xenbus)
      continue;
    if (c.type == ControllerType::Usb && c.model == "none") continue;
    if (c.type == ControllerType::Ide && c.index == 0) continue;
    if (c.type == ControllerType::Scsi && c.model == "ncr53c90") continue;
    if (wants(c.info)) SV_TRY_VOID(fn(c.info));
  }
  for (auto& disk : def.disks)
    if (disk.bus == DiskBus::Virtio && wants(disk.info)) SV_TRY_VOID(fn(disk.info));
  if (def.memballoon && def.memballoon->model != "none" && def.memballoon->model != "xen" &&
      wants(def.memballoon->info))
    SV_TRY_VOID(fn(def.memballoon->info));
  for (auto& v : def.videos)
    if (isPciVideo(v) && wants(v.info)) SV_TRY_VOID(fn(v.info));
  for (auto& in : def.inputs)
    if (in.bus == InputBus::Virtio && wants(in.info)) SV_TRY_VOID(fn(in.info));
  for (auto& s : def.serials)
    if (s.targetType == "pci-serial" && wants(s.info)) SV_TRY_VOID(fn(s.info));
  return {};
}

Result<void> assignPciI440fx(DomainDef& def, ErrorDomain d) {
  PciBus0 bus;
  bus.reserve(PciAddress{});  // host bridge 00:00.0
  SV_TRY_VOID(collectAll(bus, def, d));

  // qemuDomainValidateDevicePCISlotsPIIX3
  for (auto& c : def.controllers) {
    PciAddress fixed;
    fixed.slot = 1;
    if (c.type == ControllerType::Ide && c.index == 0)
      fixed.function = 1;
    else if (c.type == ControllerType::Usb && c.index == 0 && c.model == "piix3-uhci")
      fixed.function = 2;
    else
      continue;
    if (c.info.addressType == AddressType::Pci) {
      if (!(c.info.pci == fixed))
        return intErr(kQemu, fixed.function == 1 ? "Primary IDE controller must have PCI address 0:0:1.1"
                                             : "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2");
      continue;
    }
    c.info.addressType = AddressType::Pci;
    c.info.pci = fixed;
    SV_TRY_VOID(collect(bus, c.info, d));
  }
  for (unsigned fn : {0u, 3u}) {  // ISA bridge and PM on the PIIX3
    PciAddress a;
    a.slot = 1;
    a.function = fn;
    if (bus.functionUsed(a)) return xmlErr(d, "Attempted double use of PCI Address " + formatPciAddress(a));
    bus.reserve(a);
  }
  if (!def.videos.empty() && isPciVideo(def.videos[0]) && def.videos[0].info.addressType == AddressType::None) {
    if (bus.slotFree(2)) {
      PciAddress a;
      a.slot = 2;
      bus.reserve(a);
      def.videos[0].info.addressType = AddressType::Pci;
      def.videos[0].info.pci = a;
    } else {
      SV_TRY_VOID(bus.reserveNext(def.videos[0].info, d));
    }
  }

  return forEachPciCandidate(def, [&](DeviceInfo& info) { return bus.reserveNext(info, d); });
}

int usbPortCount(const ControllerDef& c) {
  const std::string m = c.model.value_or("");
  if (m == "piix3-uhci" || m == "piix4-uhci" || m == "vt82c686b-uhci" || m.starts_with("ich9-uhci")) return 2;
  if (m == "ehci" || m == "ich9-ehci1") return 6;
  if (m == "pci-ohci") return 3;
  if (m == "nec-xhci" || m == "qemu-xhci") return 4;
  return 0;
}

void assignUsbPorts(DomainDef& def) {
  std::map<unsigned, int> ports;             // bus -> number of ports
  std::map<unsigned, std::set<unsigned>> used;  // bus -> top-level ports in use
  for (const auto& c : def.controllers)
    if (c.type == ControllerType::Usb && c.index >= 0 && usbPortCount(c) > 0)
      ports.emplace(static_cast<unsigned>(c.index), usbPortCount(c));
  auto note = [&](const DeviceInfo& info) {
    if (info.addressType != AddressType::Usb || info.usb.port.empty() || info.usb.port == "0") return;
    auto top = strToUInt(info.usb.port.substr(0, info.usb.port.find('.')));
    if (top) used[info.usb.bus].insert(*top);
  };
  for (const auto& x : def.disks) note(x.info);
  for (const auto& x : def.inputs) note(x.info);
  for (const auto& x : def.serials) note(x.info);

  auto assign = [&](DeviceInfo& info) {
    // a USB address without a port (or port 0) asks for one
    bool portless = info.addressType == AddressType::Usb && (info.usb.port.empty() || info.usb.port == "0");
    if (info.addressType != AddressType::None && !portless) return;
    for (auto& [busIdx, n] : ports) {
      for (int p = 1; p <= n; p++) {
        if (used[busIdx].count(static_cast<unsigned>(p))) continue;
        used[busIdx].insert(static_cast<unsigned>(p));
        info.addressType = AddressType::Usb;
        info.usb.bus = busIdx;
        info.usb.port = std::to_string(p);
        return;
      }
    }
    // libvirt would add a USB hub here; this model leaves the device unaddressed.
  };
  for (auto& x : def.disks)
    if (x.bus == DiskBus::Usb) assign(x.info);
  for (auto& x : def.inputs)
    if (x.bus == InputBus::Usb) assign(x.info);
  for (auto& x : def.serials)
    if (x.targetType == "usb-serial") assign(x.info);
}

}  // namespace

Result<void> detail::assignAddresses(DomainDef& def, ErrorDomain d) {
  if (isI440fx(def) || isQ35(def)) {
    Result<void> bad;
    auto check = [&](const DeviceInfo& info) {
      if (bad && info.addressType == AddressType::Pci && info.pci.domain != 0)
        bad = xmlErr(d, "Invalid PCI address " + formatPciAddress(info.pci) + ". Only PCI domain 0 is available");
    };
    for (const auto& x : def.disks) check(x.info);
    for (const auto& x : def.controllers) check(x.info);
    for (const auto& x : def.nets) check(x.info);
    for (const auto& x : def.serials) check(x.info);
    for (const auto& x : def.inputs) check(x.info);
    for (const auto& x : def.videos) check(x.info);
    if (def.memballoon) check(def.memballoon->info);
    if (!bad) return bad;
  }
  if (isI440fx(def)) {
    SV_TRY_VOID(assignPciI440fx(def, d));
  } else if (isQ35(def)) {
    for (auto& c : def.controllers) {
      if (c.type == ControllerType::Sata && c.index == 0 && c.info.addressType == AddressType::None) {
        c.info.addressType = AddressType::Pci;
        c.info.pci = PciAddress{0, 0, 0x1f, 2, std::nullopt};
      }
    }
  } else {
    // A machine without a PCI root (unknown to this model, isapc, microvm):
    // libvirt fails as soon as a device needs a PCI address.
    if (!def.videos.empty() && isPciVideo(def.videos[0]) && def.videos[0].info.addressType == AddressType::None)
      return xmlErr(d, "No PCI buses available");
    SV_TRY_VOID(forEachPciCandidate(def, [&](DeviceInfo&) -> Result<void> { return xmlErr(d, "No PCI buses available"); }));
  }
  assignUsbPorts(def);
  return {};
}

}  // namespace splitvirt::conf
