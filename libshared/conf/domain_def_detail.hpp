// Internal to libshared/conf/domain_def*.cpp: the per-family parse/format
// entry points and libvirt's enum spellings. Not for use outside conf/.
#pragma once

#include "conf/domain_def.hpp"
#include "conf/xml.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::conf::detail {

using Names = std::vector<std::string_view>;

// libvirt's enum spellings, indexed by the matching enum's value.
inline const Names kDiskTypeNames = {"none", "file", "block", "dir", "network", "volume", "nvme", "vhostuser"};
inline const Names kDiskDeviceNames = {"disk", "cdrom", "floppy", "lun"};
inline const Names kDiskBusNames = {"none", "ide", "fdc", "scsi", "virtio", "xen", "usb", "uml", "sata", "sd"};
inline const Names kControllerTypeNames = {"ide", "fdc",  "scsi", "sata",   "virtio-serial",
                                           "ccid", "usb", "pci",  "xenbus", "isa"};
inline const Names kNetTypeNames = {"user",   "ethernet", "vhostuser", "server", "client",
                                    "mcast",  "network",  "bridge",    "internal", "direct",
                                    "hostdev", "udp",     "vdpa",      "null",   "vds"};
inline const Names kChrTypeNames = {"null", "vc",       "pty",       "dev",  "file",         "pipe", "stdio", "udp",
                                    "tcp",  "unix",     "spicevmc",  "spiceport", "nmdm", "qemu-vdagent", "dbus"};
inline const Names kInputTypeNames = {"mouse", "tablet", "keyboard", "passthrough", "evdev"};
inline const Names kInputBusNames = {"default", "ps2", "usb", "xen", "parallels", "virtio", "none"};
inline const Names kGraphicsTypeNames = {"sdl", "vnc", "rdp", "desktop", "spice", "egl-headless", "dbus"};
inline const Names kFeatureNames = {"acpi", "apic", "pae", "hap", "viridian", "privnet",
                                    "pvspinlock", "pmu", "vmport", "smm", "vmcoreinfo"};

template <class E>
std::string_view enumName(const Names& names, E e) {
  return names[static_cast<size_t>(e)];
}
// Index of `s` in `names`, or -1.
int enumIndex(const Names& names, std::string_view s);

// Errors in libvirt's wording.
inline Error xmlErr(ErrorDomain d, std::string detail) { return Error::xmlError(d, std::move(detail)); }
inline Error cfgErr(ErrorDomain d, std::string detail) { return Error::configUnsupported(d, std::move(detail)); }
inline Error intErr(ErrorDomain d, std::string detail) { return Error::internal(d, std::move(detail)); }
Error customErr(ErrorCode code, ErrorDomain d, std::string message);
inline std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

// ---- device info: <boot order>, <alias>, <address> (domain_def_controller.cpp) ----
Result<void> parseDeviceInfo(XmlNode dev, DeviceInfo& info, ErrorDomain d, bool allowBoot);
void formatDeviceInfo(XmlWriter& w, const DeviceInfo& info, unsigned flags);
std::string formatPciAddress(const PciAddress& a);  // 0000:00:02.0

// ---- families: parse one element / format one device ----
Result<void> parseOs(XmlNode os, DomainDef& def, ErrorDomain d);
Result<void> parseOsBoot(XmlNode os, DomainDef& def, ErrorDomain d);
void formatOs(XmlWriter& w, const DomainDef& def);
Result<void> parseFeatures(XmlNode features, DomainDef& def, ErrorDomain d);
void formatFeatures(XmlWriter& w, const DomainDef& def);
Result<void> parseCpu(XmlNode cpu, DomainDef& def, ErrorDomain d);
void formatCpu(XmlWriter& w, const DomainDef& def);
Result<void> parseClock(XmlNode clock, DomainDef& def, ErrorDomain d);
void formatClock(XmlWriter& w, const DomainDef& def);

Result<DiskDef> parseDisk(XmlNode node, ErrorDomain d);
void insertDisk(std::vector<DiskDef>& disks, DiskDef disk);
void formatDisk(XmlWriter& w, const DiskDef& disk, unsigned flags);

Result<ControllerDef> parseController(XmlNode node, ErrorDomain d);
void insertController(std::vector<ControllerDef>& ctrls, ControllerDef c);
void formatController(XmlWriter& w, const ControllerDef& c, unsigned flags);
Result<MemballoonDef> parseMemballoon(XmlNode node, ErrorDomain d);
void formatMemballoon(XmlWriter& w, const MemballoonDef& m, unsigned flags);

Result<NetDef> parseNet(XmlNode node, ErrorDomain d);
void formatNet(XmlWriter& w, const NetDef& net, unsigned flags);

Result<ChrDef> parseChr(XmlNode node, bool isConsole, ErrorDomain d);
void formatSerial(XmlWriter& w, const ChrDef& chr, unsigned flags);
void formatConsoles(XmlWriter& w, const DomainDef& def, unsigned flags);
bool chrSourceEqual(const ChrDef& a, const ChrDef& b);

Result<InputDef> parseInput(XmlNode node, ErrorDomain d);
void formatInput(XmlWriter& w, const InputDef& in, unsigned flags);
Result<GraphicsDef> parseGraphics(XmlNode node, ErrorDomain d);
void formatGraphics(XmlWriter& w, const GraphicsDef& g, unsigned flags);
Result<AudioDef> parseAudio(XmlNode node, ErrorDomain d);
void formatAudio(XmlWriter& w, const AudioDef& a);
Result<VideoDef> parseVideo(XmlNode node, ErrorDomain d);
void formatVideo(XmlWriter& w, const VideoDef& v, unsigned flags);

// ---- post-parse (domain_def_postparse.cpp) and addresses (domain_def_address.cpp) ----
Result<void> postParseDomainDef(DomainDef& def, ErrorDomain d);
Result<void> postParseChardevs(DomainDef& def, ErrorDomain d);  // domain_def_chardev.cpp
Result<void> assignDriveAddress(DiskDef& disk, ErrorDomain d);
void postParseDisk(DiskDef& disk);  // bus from the target name, driver name/format
void postParseNet(NetDef& net);     // MAC generated, default NIC model
Result<void> validateDisk(const DiskDef& disk, ErrorDomain d);  // domain_def_validate.cpp
Result<void> assignAddresses(DomainDef& def, ErrorDomain d);
bool isI440fx(const DomainDef& def);
bool isQ35(const DomainDef& def);

// ---- bitmaps ("0-3,^2,5"), libvirt's virBitmapParse/virBitmapFormat ----
Result<std::vector<unsigned>> parseBitmap(std::string_view s);
std::string formatBitmap(const std::vector<unsigned>& bits);

}  // namespace splitvirt::conf::detail
