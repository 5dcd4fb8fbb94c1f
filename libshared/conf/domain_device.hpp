// One device of a domain, for hotplug: virDomainAttachDevice(Flags) /
// virDomainDetachDevice(Flags) and the virsh commands built on them
// (attach-disk, attach-interface, attach-device, detach-*).
//
// The qemu driver's flow (qemuDomainAttachDeviceLiveAndConfig,
// qemuDomainDetachDeviceLiveAndConfig) maps onto these calls:
//
//   attach:  dev = parseDeviceXml(xml, d, Attach, scope)   parsed ONCE; with
//            LIVE|CONFIG a copy goes to each definition (same generated MAC)
//            CONFIG: attachDevice(persistentCopy, dev, d, Config), then save
//            LIVE:   attachDevice(liveCopy, dev, d, Live) gives the alias and
//                    address for device_add; commit liveCopy once QEMU agreed
//   detach:  match = parseDeviceXml(xml, d, Detach, scope), per scope
//            CONFIG: detachDevice(persistentCopy, match, d, Config)
//            LIVE:   findDevice(liveDef, match, d, Live) gives the alias for
//                    device_del; detachDevice(...) when DEVICE_DELETED arrives
//
// Errors carry libvirt 9.0's codes, domains and texts (checked against the
// reference daemon, tests/golden/devicexml): parse/post-parse/validation
// errors in `errDomain`, the qemu driver's own ones (target already exists,
// no target device, disk not found, not supported) in VIR_FROM_QEMU.
//
// Not reproduced: cdrom/floppy media change through attach (libvirt turns an
// attach of a cdrom/floppy whose target exists into a media change; the
// caller must route it to update-device first, attachDevice reports the
// duplicate target); device kinds other than disk and interface (refused
// with libvirt's "... of device '<type>' is not supported" text, although
// libvirt can attach some of them: controller, chr, rng, hostdev, ...);
// qemu's capability-based device validation; q35 PCIe root ports (as for
// define, see domain_def.hpp).
#pragma once

#include "conf/domain_def.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace splitvirt::conf {

struct DeviceDef {
  std::variant<DiskDef, NetDef> dev;  // extendable later (controller, input, ...)
  // <interface> without <mac>: the MAC was generated while parsing, so it
  // does not identify a device to detach (libvirt's mac_generated).
  bool macGenerated = false;
};

enum class DeviceAction : uint8_t { Attach, Detach };
// Which definition an operation works on: VIR_DOMAIN_AFFECT_CONFIG (the
// persistent one) or VIR_DOMAIN_AFFECT_LIVE (the running one). With both
// flags libvirt does CONFIG first, so its errors win.
enum class DeviceScope : uint8_t { Config, Live };

// Parses exactly one device element, as virsh sends it, and applies the
// device's post-parse defaults (driver name/format, bus from the target name,
// drive address, generated MAC, NIC model). Attach also validates the device
// (missing source, disk name); detach does not (libvirt parses with
// SKIP_VALIDATE). Only user aliases ("ua-...") are kept, except for a live
// detach, which keeps any <alias> (it can identify the device).
// Other device elements: "Operation not supported: persistent|live
// attach|detach of device '<type>' is not supported" (VIR_FROM_QEMU);
// unknown elements: "unsupported configuration: unknown device type '<name>'".
Result<DeviceDef> parseDeviceXml(std::string_view xml, ErrorDomain errDomain,
                                 DeviceAction action = DeviceAction::Attach,
                                 DeviceScope scope = DeviceScope::Config);

// Adds `dev` to `def`: user alias and boot order checks, the duplicate
// target check ("target vdb already exists"; live: "target 'vdb' duplicated
// for disk sources ..."), insertion where libvirt puts it (disks by bus and
// index, interfaces appended), then the domain post-parse again: implicit
// controllers (e.g. SCSI for sdX) and addresses (PCI slot, drive, USB port)
// that do not collide with those in use. Live also assigns the QEMU aliases
// (virtio-disk1, scsi0-0-1, net2, a new controller's scsi0). Duplicate MACs
// are allowed, as in libvirt 9.0. Returns the device as inserted; `def` is
// unchanged on error.
Result<DeviceDef> attachDevice(DomainDef& def, DeviceDef dev, ErrorDomain errDomain,
                               DeviceScope scope = DeviceScope::Config);

// The device of `def` that `match` identifies: a disk by target dev
// ("no target device vdz"; live: "disk vdz not found", and cdrom/floppy or
// IDE/SATA/... disks cannot be unplugged), an interface by MAC when given,
// PCI address when given and alias when given (virDomainNetFindIdx: "no
// device found at address ... matching MAC address ... and alias ...",
// "multiple devices matching MAC address ... found").
Result<DeviceDef> findDevice(const DomainDef& def, const DeviceDef& match, ErrorDomain errDomain,
                             DeviceScope scope = DeviceScope::Config);

// findDevice, then removes that device from `def` (config: and runs the
// domain post-parse again, as libvirt does). Returns the removed device.
Result<DeviceDef> detachDevice(DomainDef& def, const DeviceDef& match, ErrorDomain errDomain,
                               DeviceScope scope = DeviceScope::Config);

// The device element as dumpxml shows it (flags: kFormat*).
std::string formatDeviceXml(const DeviceDef& dev, unsigned flags);

}  // namespace splitvirt::conf
