// The QEMU command line builder: controllers, disks, interfaces and
// character devices, in libvirt 9.0's order and spelling
// (qemuBuildControllersCommandLine, qemuBuildDisksCommandLine,
// qemuBuildNetCommandLine, qemuBuildSerialCommandLine, ...).
#include "process/command_builder_detail.hpp"

#include <algorithm>
#include <array>

namespace splitvirt::qemu::cmd {

using namespace conf;

namespace {

// virDiskNameToIndex: vda -> 0, vdb -> 1, vdaa -> 26

// qemuProcessPrepareDeviceBootorder: <os><boot dev=.../> becomes the boot
// index of the first disk of each kind and of the first interface; a
// per-device <boot order='N'/> is used as it is.
struct BootIndices {
  std::vector<unsigned> disks, nets;
};

BootIndices bootIndices(const DomainDef& def) {
  BootIndices bi;
  bi.disks.assign(def.disks.size(), 0);
  bi.nets.assign(def.nets.size(), 0);
  unsigned cd = 0, fd = 0, hd = 0, net = 0;
  for (size_t i = 0; i < def.bootDevs.size(); i++) {
    const auto n = static_cast<unsigned>(i + 1);
    const std::string& d = def.bootDevs[i];
    if (d == "cdrom") cd = n;
    else if (d == "fd") fd = n;
    else if (d == "hd") hd = n;
    else if (d == "network") net = n;
  }
  for (size_t i = 0; i < def.disks.size(); i++) {
    const DiskDef& disk = def.disks[i];
    if (disk.info.bootOrder) {
      bi.disks[i] = *disk.info.bootOrder;
      continue;
    }
    unsigned* slot = disk.device == DiskDevice::Cdrom    ? &cd
                     : disk.device == DiskDevice::Floppy ? &fd
                                                         : &hd;
    bi.disks[i] = *slot;
    *slot = 0;
  }
  for (size_t i = 0; i < def.nets.size(); i++) {
    if (def.nets[i].info.bootOrder) bi.nets[i] = *def.nets[i].info.bootOrder;
  }
  if (!def.nets.empty() && net) bi.nets[0] = net;
  return bi;
}

// ---------------- controllers ----------------

Result<std::string> usbDriver(const std::string& model) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kMap{{
      {"piix3-uhci", "piix3-usb-uhci"},
      {"piix4-uhci", "piix4-usb-uhci"},
      {"ehci", "usb-ehci"},
      {"ich9-ehci1", "ich9-usb-ehci1"},
      {"ich9-uhci1", "ich9-usb-uhci1"},
      {"ich9-uhci2", "ich9-usb-uhci2"},
      {"ich9-uhci3", "ich9-usb-uhci3"},
      {"vt82c686b-uhci", "vt82c686b-usb-uhci"},
      {"pci-ohci", "pci-ohci"},
      {"nec-xhci", "nec-usb-xhci"},
      {"qemu-xhci", "qemu-xhci"},
  }};
  for (const auto& [from, to] : kMap)
    if (model == from) return std::string(to);
  return cfgErr("USB controller model '" + model + "' is not supported");
}

Result<std::string> scsiDriver(const std::string& model) {
  if (model == "lsilogic") return std::string("lsi");
  if (model == "virtio-scsi") return std::string("virtio-scsi-pci");
  if (model == "lsisas1068") return std::string("mptsas1068");
  if (model == "lsisas1078") return std::string("megasas");
  if (model == "vmpvscsi") return std::string("pvscsi");
  if (model == "am53c974") return std::string("am53c974");
  if (model == "dc390") return std::string("dc390");
  return cfgErr("Unsupported controller model: " + model);
}

}  // namespace

Result<void> Builder::buildControllers() {
  static constexpr std::array<ControllerType, 8> kOrder{ControllerType::Pci,  ControllerType::Usb,
                                                        ControllerType::Scsi, ControllerType::Ide,
                                                        ControllerType::Sata, ControllerType::VirtioSerial,
                                                        ControllerType::Ccid, ControllerType::Isa};
  const bool q35 = isQ35();
  for (ControllerType type : kOrder) {
    for (const ControllerDef& c : def_.controllers) {
      if (c.type != type) continue;
      const std::string alias = controllerAlias(c.type, c.index);
      const std::string model = c.model.value_or("");
      JsonProps p;
      switch (c.type) {
        case ControllerType::Pci: {
          if (model == "pci-root" || model == "pcie-root") continue;
          const auto chassis = static_cast<int64_t>(c.pciChassis.value_or(static_cast<unsigned>(c.index)));
          if (model == "pci-bridge") {
            p.str("driver", c.pciModelName.value_or("pci-bridge"))
                .num("chassis_nr", static_cast<int64_t>(c.pciChassisNr.value_or(static_cast<unsigned>(c.index))));
          } else if (model == "pcie-root-port") {
            p.str("driver", c.pciModelName.value_or("pcie-root-port"))
                .num("port", static_cast<int64_t>(c.pciPort.value_or(0)))
                .num("chassis", chassis);
          } else if (model == "pcie-switch-downstream-port") {
            p.str("driver", c.pciModelName.value_or("xio3130-downstream"))
                .num("port", static_cast<int64_t>(c.pciPort.value_or(0)))
                .num("chassis", chassis);
          } else if (model == "pcie-switch-upstream-port") {
            p.str("driver", c.pciModelName.value_or("x3130-upstream"));
          } else if (model == "dmi-to-pci-bridge") {
            p.str("driver", c.pciModelName.value_or("i82801b11-bridge"));
          } else if (model == "pcie-to-pci-bridge") {
            p.str("driver", c.pciModelName.value_or("pcie-pci-bridge"));
          } else {
            return cfgErr("PCI controller model '" + model + "' is not supported");
          }
          break;
        }
        case ControllerType::Usb: {
          if (model == "none") continue;
          auto d = usbDriver(model);
          if (!d) return d.error();
          p.str("driver", *d);
          break;
        }
        case ControllerType::Scsi: {
          auto d = scsiDriver(model.empty() ? "lsilogic" : model);
          if (!d) return d.error();
          p.str("driver", *d);
          break;
        }
        case ControllerType::Ide:
          if (q35) return cfgErr("IDE controllers are unsupported for this QEMU binary or machine type");
          if (c.index == 0) continue;  // the PIIX3 IDE function is built in
          return cfgErr("Only a single IDE controller is supported for this machine type");
        case ControllerType::Sata:
          if (q35 && c.index == 0) continue;  // the ICH9 AHCI at 00:1f.2 is built in
          p.str("driver", "ahci");
          break;
        case ControllerType::VirtioSerial:
          p.str("driver", "virtio-serial-pci");
          break;
        case ControllerType::Isa:
          continue;
        default:
          return cfgErr("controller type '" + alias + "' is not supported");
      }
      p.str("id", alias);
      if (c.type == ControllerType::VirtioSerial) {
        if (c.ports) p.num("max_ports", *c.ports);
        if (c.vectors) p.num("vectors", *c.vectors);
      }
      SV_TRY_VOID(addPciAddress(p, c.info));
      addDevice(p);
    }
  }
  return {};
}

// ---------------- disks ----------------

namespace {

struct CacheMode {
  bool set = false, writeback = false, direct = false, noFlush = false;
};

// qemuDomainDiskCachemodeFlags
Result<CacheMode> cacheMode(const std::optional<std::string>& mode) {
  CacheMode c;
  if (!mode || *mode == "default") return c;
  c.set = true;
  if (*mode == "none") c.writeback = c.direct = true;
  else if (*mode == "writethrough") {}
  else if (*mode == "writeback") c.writeback = true;
  else if (*mode == "directsync") c.direct = true;
  else if (*mode == "unsafe") c.writeback = c.noFlush = true;
  else return cfgErr("disk cache mode '" + *mode + "' is not supported");
  return c;
}

bool knownFormat(const std::string& f) {
  static constexpr std::array<std::string_view, 11> kFormats{"raw", "qcow2", "qcow", "vmdk", "vdi", "vpc",
                                                             "qed", "vhdx", "parallels", "dmg", "bochs"};
  return std::find(kFormats.begin(), kFormats.end(), f) != kFormats.end();
}

}  // namespace

Result<void> Builder::buildDisks() {
  const BootIndices boot = bootIndices(def_);
  const size_t n = def_.disks.size();
  for (size_t i = 0; i < n; i++) {
    auto args = diskArgs(i, "libvirt-" + std::to_string(n - i), boot.disks[i]);
    if (!args) return args.error();
    for (auto& b : args->blockdevs) add("-blockdev", std::move(b));
    add("-device", std::move(args->device));
  }
  return {};
}

// One disk's -blockdev nodes and -device, as JSON (also what QMP
// blockdev-add / device_add take for hotplug).
Result<DiskArgs> Builder::diskArgs(size_t i, const std::string& node, unsigned bootIndex) const {
  DiskArgs out;
  {
    const DiskDef& disk = def_.disks[i];
    const DriveAddress& da = disk.info.drive;
    const std::string target = disk.targetDev;
    if (disk.type != DiskType::File && disk.type != DiskType::Block)
      return cfgErr("disk '" + target + "': only file and block disk sources are supported");
    if (disk.device == DiskDevice::Lun) return cfgErr("disk '" + target + "': device 'lun' is not supported");
    if (disk.transient) return cfgErr("transient disks are not supported");
    if (disk.readonly && disk.device == DiskDevice::Disk) {
      if (disk.bus == DiskBus::Ide) return cfgErr("readonly ide disks are not supported");
      if (disk.bus == DiskBus::Sata) return cfgErr("readonly sata disks are not supported");
    }
    // libvirt starts a shareable disk without a cache mode with cache='none'
    auto cache = cacheMode(disk.shareable && !disk.driverCache ? std::optional<std::string>("none") : disk.driverCache);
    if (!cache) return cache.error();

    // qemuAssignDeviceDiskAlias
    const auto drv = [&](const char* prefix, bool withTarget) {
      std::string s = prefix + std::to_string(da.controller) + "-" + std::to_string(da.bus) + "-";
      if (withTarget) s += std::to_string(da.target) + "-";
      return s + std::to_string(da.unit);
    };
    std::string alias;
    JsonProps dev;
    switch (disk.bus) {
      case DiskBus::Ide:
      case DiskBus::Sata:
        if (disk.info.addressType != AddressType::Drive) return intErr("disk '" + target + "' has no drive address");
        if (disk.bus == DiskBus::Ide && isQ35())
          return cfgErr("IDE controllers are unsupported for this QEMU binary or machine type");
        dev.str("driver", disk.device == DiskDevice::Cdrom ? "ide-cd" : "ide-hd");
        if (disk.bus == DiskBus::Ide) {
          alias = drv("ide", false);
          dev.str("bus", controllerAlias(ControllerType::Ide, static_cast<int>(da.controller)) + "." +
                             std::to_string(da.bus));
          dev.num("unit", da.unit);
        } else {
          if (!findController(ControllerType::Sata, static_cast<int>(da.controller)))
            return intErr("missing SATA controller for disk '" + target + "'");
          alias = drv("sata", false);
          dev.str("bus", controllerAlias(ControllerType::Sata, static_cast<int>(da.controller)) + "." +
                             std::to_string(da.unit));
        }
        break;
      case DiskBus::Scsi: {
        if (disk.info.addressType != AddressType::Drive) return intErr("disk '" + target + "' has no drive address");
        const ControllerDef* c = findController(ControllerType::Scsi, static_cast<int>(da.controller));
        if (!c) return intErr("missing SCSI controller for disk '" + target + "'");
        const bool lsi = c->model.value_or("lsilogic") == "lsilogic";
        alias = drv("scsi", !lsi);
        dev.str("driver", disk.device == DiskDevice::Cdrom ? "scsi-cd" : "scsi-hd");
        const std::string ctl = controllerAlias(ControllerType::Scsi, static_cast<int>(da.controller));
        if (lsi) {
          dev.str("bus", ctl + "." + std::to_string(da.bus)).num("scsi-id", da.unit);
        } else {
          dev.str("bus", ctl + ".0").num("channel", da.bus).num("scsi-id", da.target).num("lun", da.unit);
        }
        dev.str("device_id", disk.serial ? *disk.serial : "drive-" + aliasOr(disk.info, alias));
        break;
      }
      case DiskBus::Virtio: {
        const int idx = diskNameToIndex(target);
        if (idx < 0) return intErr("cannot convert disk '" + target + "' to bus/device index");
        alias = "virtio-disk" + std::to_string(idx);
        dev.str("driver", "virtio-blk-pci");
        SV_TRY_VOID(addPciAddress(dev, disk.info));
        break;
      }
      case DiskBus::Fdc:
        if (isQ35()) return cfgErr("floppy disks are not supported on q35 machines by this driver");
        alias = drv("fdc", false);
        dev.str("driver", "floppy").num("unit", da.unit);
        break;
      default:
        return cfgErr("disk bus of '" + target + "' is not supported");
    }
    alias = aliasOr(disk.info, alias);
    if (disk.shareable) dev.boolean("share-rw", true);

    if (disk.sourcePath) {
      const std::string fmt = disk.driverType.value_or("raw") == "iso" ? "raw" : disk.driverType.value_or("raw");
      if (!knownFormat(fmt)) return cfgErr("disk format '" + fmt + "' is not supported");
      out.nodeBase = node;
      JsonProps cacheProps;
      cacheProps.boolean("direct", cache->direct).boolean("no-flush", cache->noFlush);

      JsonProps storage;
      storage.str("driver", disk.type == DiskType::Block ? "host_device" : "file").str("filename", *disk.sourcePath);
      if (disk.driverIo) {
        if (*disk.driverIo != "native" && *disk.driverIo != "threads" && *disk.driverIo != "io_uring")
          return cfgErr("disk io mode '" + *disk.driverIo + "' is not supported");
        storage.str("aio", *disk.driverIo);
      }
      storage.str("node-name", node + "-storage");
      if (cache->set) storage.object("cache", cacheProps);
      storage.boolean("auto-read-only", true).str("discard", "unmap");
      out.blockdevs.push_back(storage.text());

      JsonProps format;
      format.str("node-name", node + "-format").boolean("read-only", disk.readonly);
      if (disk.driverDiscard) format.str("discard", *disk.driverDiscard);
      if (cache->set) format.object("cache", cacheProps);
      format.str("driver", fmt).str("file", node + "-storage");
      out.blockdevs.push_back(format.text());

      dev.str("drive", node + "-format");
    } else if (disk.device == DiskDevice::Disk) {
      return cfgErr("disk '" + target + "' has no source");
    }
    dev.str("id", alias);
    if (bootIndex) dev.num("bootindex", bootIndex);
    if (cache->set) dev.str("write-cache", cache->writeback ? "on" : "off");
    if (disk.serial) dev.str("serial", *disk.serial);
    out.device = dev.text();
    out.alias = alias;
  }
  return out;
}

// ---------------- interfaces ----------------

Result<void> Builder::buildNets() {
  const BootIndices boot = bootIndices(def_);
  size_t nextFd = 0;
  for (size_t i = 0; i < def_.nets.size(); i++) {
    const NetDef& net = def_.nets[i];
    const std::string alias = aliasOr(net.info, "net" + std::to_string(i));
    const std::string hostAlias = "host" + alias;
    if (net.driverQueues.value_or(1) > 1) return cfgErr("multiqueue interfaces are not supported");
    if (net.driverName == "vhost")
      return cfgErr("vhost-net was requested for an interface, but is unsupported");
    JsonProps netdev;
    switch (net.type) {
      case NetType::User:
        netdev.str("type", "user").str("id", hostAlias);
        break;
      case NetType::Bridge:
      case NetType::Network:
      case NetType::Ethernet:
        if (nextFd >= opts_.tapFds.size())
          return intErr("no tap file descriptor was passed for interface " + alias);
        netdev.str("type", "tap").str("fd", std::to_string(opts_.tapFds[nextFd++])).str("id", hostAlias);
        break;
      default:
        return cfgErr("interface type of " + alias + " is not supported");
    }
    add("-netdev", netdev.text());

    auto dev = netDeviceArgs(i, boot.nets[i]);
    if (!dev) return dev.error();
    add("-device", std::move(*dev));
  }
  if (nextFd != opts_.tapFds.size())
    return intErr("more tap file descriptors were passed than there are tap interfaces");
  return {};
}

// One NIC's -device object (also what QMP device_add takes for hotplug).
Result<std::string> Builder::netDeviceArgs(size_t i, unsigned bootIndex) const {
  const NetDef& net = def_.nets[i];
  const std::string alias = aliasOr(net.info, "net" + std::to_string(i));
  const std::string model = net.model.value_or("rtl8139");
  JsonProps dev;
  dev.str("driver", model == "virtio" ? "virtio-net-pci" : model)
      .str("netdev", "host" + alias)
      .str("id", alias)
      .str("mac", formatMac(net.mac.value_or(MacAddr{})));
  if (bootIndex) dev.num("bootindex", bootIndex);
  SV_TRY_VOID(addPciAddress(dev, net.info));
  return dev.text();
}

// ---------------- character devices ----------------

namespace {

// qemuBuildChrChardevStr (the legacy -chardev syntax libvirt 9.0 still uses)
Result<std::string> chardevArg(const ChrDef& c, const std::string& id) {
  const std::string path = escapeComma(c.sourcePath.value_or(""));
  auto needPath = [&]() -> Result<void> {
    if (!c.sourcePath) return cfgErr("character device " + id + " has no source path");
    return {};
  };
  const bool bind = c.sourceMode == "bind";
  switch (c.type) {
    case ChrType::Null: return "null,id=" + id;
    case ChrType::Vc: return "vc,id=" + id;
    case ChrType::Pty: return "pty,id=" + id;
    case ChrType::Stdio: return "stdio,id=" + id;
    case ChrType::Dev:
      SV_TRY_VOID(needPath());
      return "tty,id=" + id + ",path=" + path;
    case ChrType::File: {
      SV_TRY_VOID(needPath());
      std::string s = "file,id=" + id + ",path=" + path;
      if (c.sourceAppend) s += *c.sourceAppend ? ",append=on" : ",append=off";
      return s;
    }
    case ChrType::Pipe:
      SV_TRY_VOID(needPath());
      return "pipe,id=" + id + ",path=" + path;
    case ChrType::Tcp: {
      if (!c.sourceHost || !c.sourceService) return cfgErr("character device " + id + " needs a host and a service");
      std::string s = "socket,id=" + id + ",host=" + escapeComma(*c.sourceHost) + ",port=" + *c.sourceService;
      if (c.protocol == "telnet") s += ",telnet=on";
      else if (c.protocol && c.protocol != "raw") return cfgErr("chardev protocol '" + *c.protocol + "' is not supported");
      if (bind) s += ",server=on,wait=off";
      return s;
    }
    case ChrType::Unix: {
      SV_TRY_VOID(needPath());
      std::string s = "socket,id=" + id + ",path=" + path;
      if (bind) s += ",server=on,wait=off";
      return s;
    }
    default:
      return cfgErr("character device " + id + ": source type is not supported");
  }
}

}  // namespace

Result<void> Builder::buildSerials() {
  for (size_t i = 0; i < def_.serials.size(); i++) {
    const ChrDef& s = def_.serials[i];
    const std::string alias = aliasOr(s.info, "serial" + std::to_string(i));
    auto backend = chardevArg(s, "char" + alias);
    if (!backend) return backend.error();
    const std::string target = s.targetType.value_or("isa-serial");
    JsonProps dev;
    if (target == "isa-serial") {
      add("-chardev", *backend);
      dev.str("driver", "isa-serial").str("chardev", "char" + alias).str("id", alias)
          .num("index", s.targetPort.value_or(static_cast<int>(i)));
    } else if (target == "pci-serial") {
      add("-chardev", *backend);
      dev.str("driver", "pci-serial").str("chardev", "char" + alias).str("id", alias);
      SV_TRY_VOID(addPciAddress(dev, s.info));
    } else {
      return cfgErr("serial target type '" + target + "' is not supported");
    }
    addDevice(dev);
  }
  return {};
}

Result<void> Builder::buildConsoles() {
  for (size_t i = 0; i < def_.consoles.size(); i++) {
    const ChrDef& c = def_.consoles[i];
    const std::string target = c.targetType.value_or("serial");
    if (target == "serial") {
      if (i == 0 && !def_.serials.empty()) continue;  // an alias of serial0
      return cfgErr("Only the first console can be a serial port");
    }
    if (target != "virtio") return cfgErr("console target type '" + target + "' is not supported");
    const std::string alias = aliasOr(c.info, "console" + std::to_string(i));
    auto backend = chardevArg(c, "char" + alias);
    if (!backend) return backend.error();
    add("-chardev", *backend);
    addDevice(JsonProps().str("driver", "virtconsole").str("chardev", "char" + alias).str("id", alias));
  }
  return {};
}

}  // namespace splitvirt::qemu::cmd
