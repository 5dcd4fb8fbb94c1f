// The domain XML object model: a plain value type, parsed from and formatted
// to libvirt 9.0's domain XML (the subset QEMU guests use, see below), with
// libvirt's post-parse defaults for the QEMU driver on x86_64.
//
// Three steps (architecture.md 2.7): parse (structure, types, then the
// post-parse defaults), validate (semantics), format.
//
// Post-parse defaults reproduced (what `virsh define` + `dumpxml` shows):
//   uuid generated when absent; currentMemory = memory (and capped to it);
//   vcpu placement='static'; os arch x86_64 and machine 'pc' ->
//   'pc-i440fx-7.2', 'q35' -> 'pc-q35-7.2' (pc-i440fx-7.2 when absent);
//   <boot dev='hd'/> when no boot order is given anywhere; the qemu64 CPU
//   model (or check='none'/'partial' on given CPUs); <clock offset='utc'/>;
//   <on_*> actions; emulator /usr/bin/qemu-system-x86_64; disk bus from the
//   target name, driver name='qemu' and type='raw', cdrom readonly; MAC
//   52:54:00:xx:xx:xx generated, NIC model rtl8139, generated vnet*/macvtap*
//   target names dropped; isa-serial targets and the serial<->console alias;
//   implicit USB (piix3-uhci / qemu-xhci), pci-root/pcie-root, IDE/SCSI
//   (lsilogic)/SATA/FDC/virtio-serial controllers; PS/2 mouse and keyboard;
//   input bus defaults; <audio id='1' type='none'/> (or 'spice'); video for
//   graphics (cirrus, vram/heads/primary defaults); VNC/SPICE <listen>;
//   memballoon virtio; drive addresses (ide/scsi/sata/fdc); USB ports for
//   up to the controller's port count; PCI addresses on i440fx machines in
//   libvirt's order (slot 1 PIIX3, primary video slot 2, then nets, sounds,
//   controllers, virtio disks, memballoon, other videos, virtio inputs).
//
// Post-parse defaults NOT reproduced (yet):
//   * q35: PCI addresses (libvirt auto-adds pcie-root-port controllers, one
//     per PCIe device plus a spare, and puts each device behind one); only
//     the fixed SATA 00:1f.2 is assigned. pci-bridge auto-add when i440fx
//     bus 0 is full (we fail with libvirt's "a PCI slot is needed ..." then).
//   * USB hubs when a controller runs out of ports (the device is left
//     without an address); virtio-serial addresses; <resource> (libvirt only
//     adds it on start); seclabels; firmware autoselection (firmware='efi'
//     is kept as given, as libvirt does at define time).
//   * The qemu driver's validation that needs QEMU capabilities or is
//     qemu-specific (libvirt reports these in VIR_FROM_QEMU): machine-type
//     vCPU limits, "readonly ide disks", on_* actions qemu rejects, video
//     'vga' only as primary / heads / vgamem power of two, BIOS serial
//     without a serial port, "UEFI requires ACPI", ISA serial port limit,
//     os types other than hvm.
// Deliberate deviation: a negative <vcpu> is refused ("maximum vcpus count
// must be an integer"); libvirt 9.0 wraps it to UINT_MAX and aborts.
// Elements outside the model are dropped silently, as libvirt drops unknown
// ones: channels, sound, hostdev, rng, filesystems, watchdog, tpm,
// redirdev, smartcard, hub, the hyperv/kvm/ioapic/... features, numa,
// cputune, memoryBacking, sysinfo, iothreads, <firmware> features.
#pragma once

#include "conf/mac_addr.hpp"
#include "conf/schema.hpp"
#include "conf/uuid.hpp"
#include "util/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::conf {

// Uuid, formatUuid, parseUuid, generateUuid: conf/uuid.hpp
// validateAgainstSchema: conf/schema.hpp

// MacAddr, formatMac, parseMac, generateMac: conf/mac_addr.hpp

// ---- device addresses ----

enum class AddressType : uint8_t { None, Pci, Drive, Usb };

struct PciAddress {
  unsigned domain = 0, bus = 0, slot = 0, function = 0;
  std::optional<bool> multifunction;
  bool operator==(const PciAddress&) const = default;
};
struct DriveAddress {
  unsigned controller = 0, bus = 0, target = 0, unit = 0;
};
struct UsbAddress {
  unsigned bus = 0;
  std::string port;  // "1", "1.2"
};

struct DeviceInfo {
  AddressType addressType = AddressType::None;
  PciAddress pci;
  DriveAddress drive;
  UsbAddress usb;
  std::optional<unsigned> bootOrder;  // <boot order='N'/>
  std::string alias;                  // user alias "ua-..." or the driver's
};

// ---- devices ----

enum class DiskType : uint8_t { File = 1, Block, Dir, Network, Volume, Nvme, Vhostuser };
enum class DiskDevice : uint8_t { Disk, Cdrom, Floppy, Lun };
enum class DiskBus : uint8_t { None, Ide, Fdc, Scsi, Virtio, Xen, Usb, Uml, Sata, Sd };

struct DiskDef {
  DiskType type = DiskType::File;
  DiskDevice device = DiskDevice::Disk;
  std::optional<std::string> driverName, driverType, driverCache, driverIo, driverDiscard;
  std::optional<std::string> sourcePath;  // file= or dev=
  std::optional<std::string> sourcePool, sourceVolume, sourceMode;
  std::string targetDev;
  DiskBus bus = DiskBus::None;
  std::optional<std::string> tray;
  bool readonly = false, shareable = false, transient = false;
  std::optional<std::string> serial;
  DeviceInfo info;
  // Live state, never parsed: the images QEMU reads below the source (top
  // first; known = the chain ends in <backingStore/>), and the block job
  // that mirrors into another image (<mirror>).
  struct BackingImage {
    std::string file, format;
  };
  std::vector<BackingImage> backingChain;
  bool backingChainKnown = false;
  struct Mirror {
    std::string job, file, format;
    bool ready = false;
  };
  std::optional<Mirror> mirror;
};

enum class ControllerType : uint8_t { Ide, Fdc, Scsi, Sata, VirtioSerial, Ccid, Usb, Pci, Xenbus, Isa };

struct ControllerDef {
  ControllerType type = ControllerType::Ide;
  int index = -1;  // -1 until post-parse assigns the first unused one
  std::optional<std::string> model;
  std::optional<unsigned> ports, vectors;  // virtio-serial
  std::optional<std::string> pciModelName;  // pci: <model name=.../>
  std::optional<unsigned> pciChassisNr, pciChassis, pciPort;  // pci: <target .../>
  DeviceInfo info;
};

enum class NetType : uint8_t {
  User, Ethernet, Vhostuser, Server, Client, Mcast, Network, Bridge, Internal, Direct, Hostdev, Udp,
  Vdpa, Null, Vds
};

struct NetDef {
  NetType type = NetType::User;
  std::optional<MacAddr> mac;  // always set after post-parse
  std::optional<std::string> sourceNetwork, sourcePortgroup, sourceBridge, sourceDev, sourceMode;
  // type='network' while running: the port virtnetworkd gave us (its bridge
  // is in sourceBridge). Live-only, like libvirt's portid.
  std::optional<std::string> sourcePortId;
  std::optional<std::string> targetDev;
  std::optional<bool> targetManaged;
  std::optional<std::string> model;
  std::optional<std::string> driverName;
  std::optional<unsigned> driverQueues;
  DeviceInfo info;
};

enum class ChrType : uint8_t {
  Null, Vc, Pty, Dev, File, Pipe, Stdio, Udp, Tcp, Unix, Spicevmc, Spiceport, Nmdm, QemuVdagent, Dbus
};

struct ChrDef {
  ChrType type = ChrType::Pty;
  std::optional<std::string> sourcePath;  // file/dev/pipe/unix; pty only when running
  std::optional<std::string> sourceMode, sourceHost, sourceService;
  std::optional<bool> sourceAppend;  // file
  std::optional<std::string> protocol;  // tcp: raw/telnet/telnets/tls
  std::optional<std::string> targetType;  // serial: isa-serial...; console: serial/virtio...
  std::optional<int> targetPort;
  std::optional<std::string> targetModel;  // serial <model name=.../>
  DeviceInfo info;
};

enum class InputType : uint8_t { Mouse, Tablet, Keyboard, Passthrough, Evdev };
enum class InputBus : uint8_t { Default, Ps2, Usb, Xen, Parallels, Virtio, None };

struct InputDef {
  InputType type = InputType::Mouse;
  InputBus bus = InputBus::Default;
  DeviceInfo info;
};

enum class GraphicsType : uint8_t { Sdl, Vnc, Rdp, Desktop, Spice, EglHeadless, Dbus };

struct GraphicsListen {
  std::string type;  // "address" | "network" | "socket" | "none"
  std::optional<std::string> address, network, socket;
};

struct GraphicsDef {
  GraphicsType type = GraphicsType::Vnc;
  int port = 0;                 // vnc/spice; 0 = none
  std::optional<bool> autoport;  // vnc: always set after parse
  int tlsPort = 0;              // spice
  int websocket = 0;            // vnc
  std::optional<std::string> passwd, keymap, sharePolicy;
  std::vector<GraphicsListen> listens;
};

struct AudioDef {
  unsigned id = 0;
  std::string type;  // none, alsa, pulseaudio, spice, ...
};

struct VideoDef {
  std::string model = "default";  // vga, cirrus, qxl, virtio, none, ...
  std::optional<unsigned> vram, ram, vgamem, vram64, heads;
  bool primary = false;
  DeviceInfo info;
};

struct MemballoonDef {
  std::string model = "virtio";
  std::optional<bool> autodeflate, freePageReporting;
  std::optional<int> statsPeriod;
  DeviceInfo info;
};

// ---- guest CPU, clock ----

struct CpuFeatureDef {
  std::string policy;  // force/require/optional/disable/forbid
  std::string name;
};

struct CpuDef {
  std::string mode = "custom";  // custom/host-model/host-passthrough/maximum
  std::optional<std::string> match, check;
  std::optional<bool> migratable;
  std::optional<std::string> model, fallback, vendor;
  struct Topology {
    unsigned sockets = 0, dies = 1, cores = 0, threads = 0;
  };
  std::optional<Topology> topology;
  std::vector<CpuFeatureDef> features;
  std::optional<std::string> cacheMode;
};

struct TimerDef {
  std::string name;
  std::optional<bool> present;
  std::optional<std::string> tickpolicy, track, mode;
  std::optional<uint64_t> frequency;
};

struct ClockDef {
  std::string offset = "utc";  // utc/localtime/timezone/variable/absolute
  bool utcReset = false;       // utc/localtime: adjustment='reset'
  long long adjustment = 0;    // variable
  std::string basis = "utc";   // variable: utc/localtime
  std::optional<std::string> timezone;
  uint64_t start = 0;          // absolute
  std::vector<TimerDef> timers;
};

// <features> this model keeps, in libvirt's output order.
enum class Feature : uint8_t { Acpi, Apic, Pae, Hap, Viridian, Privnet, Pvspinlock, Pmu, Vmport, Smm, Vmcoreinfo };
inline constexpr size_t kFeatureCount = 11;

struct LoaderDef {
  std::string path;
  std::optional<bool> readonly, secure;
  std::optional<std::string> type;  // rom/pflash
};

struct DomainDef {
  std::string type;  // "qemu" | "kvm" | ...
  std::string name;
  Uuid uuid{};
  std::optional<std::string> title, description;
  std::optional<std::string> metadataXml;  // <metadata> as formatted by libvirt (opaque)

  uint64_t maxMemoryKiB = 0;      // <memory>
  uint64_t currentMemoryKiB = 0;  // <currentMemory>
  unsigned vcpus = 1;     // online vCPUs: <vcpu current='N'>, else the maximum
  unsigned vcpusMax = 1;  // <vcpu>N</vcpu>
  std::string vcpuPlacement = "static";  // static/auto
  std::optional<std::string> cpuset;     // canonical bitmap string
  std::optional<std::string> numatuneMode, numatunePlacement, numatuneNodeset;

  // <os>
  std::string osType = "hvm";
  std::optional<std::string> osFirmware;  // <os firmware='bios|efi'>
  std::string arch;
  std::string machine;
  std::vector<std::string> bootDevs;  // fd/hd/cdrom/network
  std::optional<bool> bootMenu;
  std::optional<unsigned> bootMenuTimeout;
  std::optional<LoaderDef> loader;
  std::optional<std::string> nvram;
  std::optional<std::string> kernel, initrd, cmdline, dtb;
  std::optional<bool> biosUseSerial;
  std::optional<int> biosRebootTimeout;
  std::optional<std::string> smbiosMode;

  // <features>: absent / on / off per feature (flag-only ones are on or absent)
  std::array<std::optional<bool>, kFeatureCount> features{};
  std::optional<bool> apicEoi;

  std::optional<CpuDef> cpu;
  ClockDef clock;
  std::string onPoweroff = "destroy", onReboot = "restart", onCrash = "destroy";
  std::optional<bool> pmSuspendToMem, pmSuspendToDisk;

  // <devices>
  std::optional<std::string> emulator;
  std::vector<DiskDef> disks;
  std::vector<ControllerDef> controllers;
  std::vector<NetDef> nets;
  std::vector<ChrDef> serials;
  std::vector<ChrDef> consoles;  // consoles[0] may alias serials[0] (see chardev)
  std::vector<InputDef> inputs;
  std::vector<GraphicsDef> graphics;
  std::vector<AudioDef> audios;
  std::vector<VideoDef> videos;
  std::optional<MemballoonDef> memballoon;

  unsigned maxVcpus() const { return vcpusMax; }
  std::optional<bool> feature(Feature f) const { return features[static_cast<size_t>(f)]; }
};

// Flag sets are plain unsigned bit masks.
using ParseFlags = unsigned;
inline constexpr ParseFlags kParseValidateSchema = 1u << 0;  // VIR_DOMAIN_DEFINE_VALIDATE: check domain.rng

// libvirt's virDiskNameToIndex: vda -> 0, hdb -> 1, sdaa -> 26; -1 if not a disk name.
int diskNameToIndex(std::string_view name);

// Parses, applies the post-parse defaults listed above, then validates
// semantics (validateDomainDef). Errors carry libvirt's code, domain and text;
// `errDomain` is the domain libvirt's domain_conf would use (VIR_FROM_DOMAIN
// for the qemu driver), helper-level errors keep libvirt's own domains
// (VIR_FROM_XML for attribute values, VIR_FROM_NONE for units/bitmaps).
Result<DomainDef> parseDomainDef(std::string_view xml, unsigned flags, ErrorDomain errDomain);

// Semantic checks independent of the hypervisor (libvirt's virDomainDefValidate).
Result<void> validateDomainDef(const DomainDef& def, ErrorDomain errDomain);

using FormatFlags = unsigned;
inline constexpr FormatFlags kFormatSecure = 1;    // VIR_DOMAIN_XML_SECURE: include passwords
inline constexpr FormatFlags kFormatInactive = 2;  // VIR_DOMAIN_XML_INACTIVE

// `id` is the running id or -1; with id >= 0 and !inactive the root element
// gets id='N' as libvirt does.
std::string formatDomainDef(const DomainDef& def, unsigned flags, int id = -1);

// libvirt's virScaleInteger: scales `value` by the unit `suffix` ("" ->
// `scale`), failing with libvirt's errors when unknown or above `limit`.
Result<uint64_t> scaleInteger(uint64_t value, std::string_view suffix, uint64_t scale, uint64_t limit);

}  // namespace splitvirt::conf
