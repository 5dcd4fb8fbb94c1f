// Post-parse defaults: what libvirt's virDomainDefPostParse plus the qemu
// driver's callbacks add to a freshly parsed definition (x86_64 guests).
// The order of the steps matters for the order devices appear in the output.
#include "conf/domain_def_detail.hpp"

#include <algorithm>

namespace splitvirt::conf {

using namespace detail;

namespace {

constexpr std::string_view kDefaultEmulator = "/usr/bin/qemu-system-x86_64";
constexpr std::string_view kDefaultMachineI440fx = "pc-i440fx-7.2";
constexpr std::string_view kDefaultMachineQ35 = "pc-q35-7.2";
constexpr std::string_view kDefaultCpuModel = "qemu64";
constexpr std::string_view kDefaultNicModel = "rtl8139";

bool isX86(const DomainDef& def) { return def.arch == "x86_64" || def.arch == "i686"; }

bool hasController(const DomainDef& def, ControllerType t, int index) {
  return std::any_of(def.controllers.begin(), def.controllers.end(),
                     [&](const ControllerDef& c) { return c.type == t && c.index == index; });
}

void addController(DomainDef& def, ControllerType t, int index, std::optional<std::string> model) {
  ControllerDef c;
  c.type = t;
  c.index = index;
  c.model = std::move(model);
  def.controllers.push_back(std::move(c));  // virDomainDefAddController appends
}

std::string defaultUsbModel(const DomainDef& def) { return isQ35(def) ? "qemu-xhci" : "piix3-uhci"; }

void applyControllerDefaults(DomainDef& def, ControllerDef& c) {
  if (c.type == ControllerType::Usb && !c.model) c.model = defaultUsbModel(def);
  if (c.type == ControllerType::Scsi && (!c.model || *c.model == "auto")) c.model = "lsilogic";
  if (c.type == ControllerType::Pci && c.model == "pci-bridge") {
    if (!c.pciModelName) c.pciModelName = "pci-bridge";
    if (!c.pciChassisNr) c.pciChassisNr = static_cast<unsigned>(c.index);
  }
}

void postParseCpu(DomainDef& def) {
  if (!isX86(def)) return;
  if (!def.cpu) def.cpu.emplace();
  CpuDef& cpu = *def.cpu;
  if (cpu.mode == "custom") {
    if (!cpu.model) {
      cpu.model = std::string(kDefaultCpuModel);
      cpu.fallback = "forbid";
      if (!cpu.check) cpu.check = "none";
    }
    if (!cpu.match) cpu.match = "exact";
    if (!cpu.fallback) cpu.fallback = "allow";
    if (!cpu.check) cpu.check = def.type == "kvm" ? "partial" : "none";
  } else if (cpu.mode == "host-model") {
    if (!cpu.check) cpu.check = "partial";
  } else {
    if (!cpu.check) cpu.check = "none";
    if (cpu.mode == "host-passthrough" && !cpu.migratable) cpu.migratable = true;
  }
}

unsigned roundUpPowerOfTwo(unsigned v) {
  unsigned p = 1;
  while (p < v && p < (1u << 31)) p <<= 1;
  return p;
}

void applyVideoDefaults(VideoDef& v) {
  if (v.model == "default") v.model = "cirrus";
  const std::string& m = v.model;
  if (m == "none") return;
  if (v.vram == 0u) v.vram.reset();  // 0 means "use the default"
  if (v.ram == 0u) v.ram.reset();
  if (v.vgamem == 0u) v.vgamem.reset();
  if (v.vram) v.vram = roundUpPowerOfTwo(*v.vram);
  if (v.ram) v.ram = roundUpPowerOfTwo(*v.ram);
  if (!v.vram) {
    if (m == "vga" || m == "cirrus" || m == "vmvga" || m == "bochs") v.vram = 16384;
    else if (m == "xen") v.vram = 4096;
    else if (m == "qxl") v.vram = 65536;
  }
  if (m == "qxl") {
    if (!v.ram) v.ram = 65536;
    if (!v.vgamem) v.vgamem = 16384;
  }
  if (!v.heads) v.heads = 1;
}

// virDomainDefAddDiskControllersForType
void addDiskControllers(DomainDef& def, ControllerType ct, DiskBus bus) {
  int maxController = -1;
  for (const auto& d : def.disks) {
    if (d.bus != bus || d.info.addressType != AddressType::Drive) continue;
    maxController = std::max(maxController, static_cast<int>(d.info.drive.controller));
  }
  for (int i = 0; i <= maxController; i++)
    if (!hasController(def, ct, i)) {
      ControllerDef c;
      c.type = ct;
      c.index = i;
      applyControllerDefaults(def, c);
      def.controllers.push_back(std::move(c));
    }
}

}  // namespace

void detail::postParseDisk(DiskDef& disk) {
  if (disk.bus == DiskBus::None) {
    disk.bus = DiskBus::Ide;
    if (disk.device == DiskDevice::Floppy) {
      disk.bus = DiskBus::Fdc;
    } else {
      const std::string& t = disk.targetDev;
      if (t.starts_with("hd")) disk.bus = DiskBus::Ide;
      else if (t.starts_with("sd")) disk.bus = DiskBus::Scsi;
      else if (t.starts_with("vd")) disk.bus = DiskBus::Virtio;
      else if (t.starts_with("xvd")) disk.bus = DiskBus::Xen;
      else if (t.starts_with("ubd")) disk.bus = DiskBus::Uml;
    }
  }
  if (!disk.driverName) disk.driverName = "qemu";
  if (!disk.driverType && (disk.type == DiskType::File || disk.type == DiskType::Block)) disk.driverType = "raw";
}

void detail::postParseNet(NetDef& net) {
  if (!net.mac) net.mac = generateMac();
  if (!net.model && net.type != NetType::Hostdev) net.model = std::string(kDefaultNicModel);
}

bool detail::isI440fx(const DomainDef& def) {
  return def.machine == "pc" || def.machine.starts_with("pc-i440fx-") || def.machine.starts_with("pc-0.") ||
         def.machine.starts_with("pc-1.");
}

bool detail::isQ35(const DomainDef& def) { return def.machine == "q35" || def.machine.starts_with("pc-q35-"); }

Result<void> detail::postParseDomainDef(DomainDef& def, ErrorDomain d) {
  // --- the qemu driver's basic callback ---
  if (!def.emulator) def.emulator = std::string(kDefaultEmulator);
  if (def.arch.empty() && def.osType == "hvm") def.arch = "x86_64";

  // --- the qemu driver's domain callback ---
  if (isX86(def) && def.osType == "hvm") {
    if (def.machine.empty() || def.machine == "pc") def.machine = std::string(kDefaultMachineI440fx);
    else if (def.machine == "q35") def.machine = std::string(kDefaultMachineQ35);
  }
  const bool i440fx = isI440fx(def), q35 = isQ35(def);
  if (i440fx || q35) {
    // qemuDomainDefAddDefaultDevices
    if (!hasController(def, ControllerType::Usb, 0)) addController(def, ControllerType::Usb, 0, defaultUsbModel(def));
    if (q35 && !hasController(def, ControllerType::Sata, 0)) addController(def, ControllerType::Sata, 0, std::nullopt);
    const char* rootModel = q35 ? "pcie-root" : "pci-root";
    auto root = std::find_if(def.controllers.begin(), def.controllers.end(), [](const ControllerDef& c) {
      return c.type == ControllerType::Pci && c.index == 0;
    });
    if (root == def.controllers.end()) {
      addController(def, ControllerType::Pci, 0, rootModel);
    } else if (root->model != rootModel) {
      return xmlErr(ErrorDomain::Qemu, std::string("The PCI controller with index='0' must be model='") + rootModel +
                                           "' for this machine type, but model='" +
                                           root->model.value_or("(null)") + "' was found instead");
    }
  }
  if (!def.memballoon) def.memballoon.emplace();
  postParseCpu(def);
  if (def.audios.empty()) {
    // qemuDomainDefAddDefaultAudioBackend: the last <graphics> decides
    bool spice = !def.graphics.empty() && def.graphics.back().type == GraphicsType::Spice;
    def.audios.push_back(AudioDef{1, spice ? "spice" : "none"});
  }

  // --- per-device callbacks ---
  for (auto& disk : def.disks) {
    postParseDisk(disk);
    if (disk.info.addressType == AddressType::None) SV_TRY_VOID(assignDriveAddress(disk, d));
  }
  for (auto& c : def.controllers) applyControllerDefaults(def, c);
  for (auto& net : def.nets) postParseNet(net);
  for (auto& in : def.inputs) {
    if (in.bus == InputBus::Default)
      in.bus = (in.type == InputType::Mouse || in.type == InputType::Keyboard) && isX86(def) ? InputBus::Ps2
                                                                                            : InputBus::Usb;
  }
  SV_TRY_VOID(postParseChardevs(def, d));
  for (auto& v : def.videos) applyVideoDefaults(v);

  // --- virDomainDefPostParseCommon ---
  if (def.maxMemoryKiB == 0)
    return xmlErr(d, "Memory size must be specified via <memory> or in the <numa> configuration");
  if (def.currentMemoryKiB == 0 || def.currentMemoryKiB > def.maxMemoryKiB) def.currentMemoryKiB = def.maxMemoryKiB;

  if (def.osType == "hvm") {
    bool deviceBoot = std::any_of(def.disks.begin(), def.disks.end(), [](auto& x) { return x.info.bootOrder.has_value(); }) ||
                      std::any_of(def.nets.begin(), def.nets.end(), [](auto& x) { return x.info.bootOrder.has_value(); });
    if (deviceBoot && !def.bootDevs.empty())
      return cfgErr(d, "per-device boot elements cannot be used together with os/boot elements");
    if (!deviceBoot && def.bootDevs.empty()) def.bootDevs.push_back("hd");
  }

  // virDomainDefAddImplicitControllers
  addDiskControllers(def, ControllerType::Scsi, DiskBus::Scsi);
  addDiskControllers(def, ControllerType::Fdc, DiskBus::Fdc);
  addDiskControllers(def, ControllerType::Ide, DiskBus::Ide);
  addDiskControllers(def, ControllerType::Sata, DiskBus::Sata);
  bool virtioConsole = std::any_of(def.consoles.begin(), def.consoles.end(),
                                   [](const ChrDef& c) { return c.targetType == "virtio"; });
  if (virtioConsole && !hasController(def, ControllerType::VirtioSerial, 0))
    addController(def, ControllerType::VirtioSerial, 0, std::nullopt);

  // virDomainDefAddImplicitVideo
  if (def.videos.empty() && !def.graphics.empty()) {
    VideoDef v;
    applyVideoDefaults(v);
    def.videos.push_back(std::move(v));
  }
  if (!def.videos.empty() && def.videos[0].model != "none") def.videos[0].primary = true;

  // qemuDomainDefAddImplicitInputDevice
  if (isX86(def) && (i440fx || q35)) {
    for (InputType t : {InputType::Mouse, InputType::Keyboard}) {
      bool have = std::any_of(def.inputs.begin(), def.inputs.end(),
                              [&](const InputDef& in) { return in.type == t && in.bus == InputBus::Ps2; });
      if (!have) def.inputs.push_back(InputDef{t, InputBus::Ps2, {}});
    }
  }

  return assignAddresses(def, d);
}

}  // namespace splitvirt::conf
