// The QEMU command line builder: the machine-wide options (name, machine,
// accelerator, CPU, memory, SMP, monitor, clock, power management, boot) and
// the overall option order of libvirt 9.0's qemuBuildCommandLine. The device
// families are in command_builder_devices.cpp.
#include "process/command_builder.hpp"
#include "process/command_builder_detail.hpp"

#include "conf/uuid.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <utility>

namespace splitvirt::qemu {

using namespace conf;
using cmd::Builder;
using cmd::cfgErr;
using cmd::intErr;
using cmd::JsonProps;

namespace cmd {

// ---------------- JSON and quoting helpers ----------------

std::string jsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string escapeComma(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

void JsonProps::key(std::string_view k) {
  if (!body_.empty()) body_ += ',';
  body_ += jsonQuote(k);
  body_ += ':';
}
JsonProps& JsonProps::str(std::string_view k, std::string_view v) {
  key(k);
  body_ += jsonQuote(v);
  return *this;
}
JsonProps& JsonProps::num(std::string_view k, int64_t v) {
  key(k);
  body_ += std::to_string(v);
  return *this;
}
JsonProps& JsonProps::boolean(std::string_view k, bool v) {
  key(k);
  body_ += v ? "true" : "false";
  return *this;
}
JsonProps& JsonProps::object(std::string_view k, const JsonProps& v) {
  key(k);
  body_ += v.text();
  return *this;
}

// ---------------- addresses ----------------

bool Builder::isQ35() const { return def_.machine == "q35" || def_.machine.starts_with("pc-q35-"); }

const ControllerDef* Builder::findController(ControllerType type, int index) const {
  for (const auto& c : def_.controllers)
    if (c.type == type && c.index == index) return &c;
  return nullptr;
}

// qemuAssignDeviceControllerAlias
std::string Builder::controllerAlias(ControllerType type, int index) const {
  const ControllerDef* c = findController(type, index);
  if (c && !c->info.alias.empty()) return c->info.alias;
  const std::string idx = std::to_string(index);
  switch (type) {
    case ControllerType::Pci:
      if (index == 0) return isQ35() ? "pcie.0" : "pci.0";
      return "pci." + idx;
    case ControllerType::Ide:
      return index == 0 ? "ide" : "ide" + idx;
    case ControllerType::Sata:
      // the q35 built-in AHCI is called "ide" by QEMU
      return index == 0 && isQ35() ? "ide" : "sata" + idx;
    case ControllerType::Usb:
      return index == 0 ? "usb" : "usb" + idx;
    case ControllerType::Scsi: return "scsi" + idx;
    case ControllerType::Fdc: return "fdc" + idx;
    case ControllerType::VirtioSerial: return "virtio-serial" + idx;
    case ControllerType::Ccid: return "ccid" + idx;
    case ControllerType::Isa: return "isa" + idx;
    case ControllerType::Xenbus: return "xenbus" + idx;
  }
  return "controller" + idx;
}

static std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

Result<void> Builder::addPciAddress(JsonProps& p, const DeviceInfo& info) const {
  if (info.addressType == AddressType::None) return {};
  if (info.addressType != AddressType::Pci)
    return cfgErr("a PCI device needs a PCI address, not the address type given");
  const PciAddress& a = info.pci;
  if (a.domain != 0) return cfgErr("Only PCI domain 0 is available");
  if (a.bus != 0 && !findController(ControllerType::Pci, static_cast<int>(a.bus))) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", a.domain, a.bus, a.slot, a.function);
    return intErr("Could not find PCI controller with index '" + std::to_string(a.bus) +
                  "' required for device at address '" + buf + "'");
  }
  p.str("bus", controllerAlias(ControllerType::Pci, static_cast<int>(a.bus)));
  if (a.multifunction) p.boolean("multifunction", *a.multifunction);
  std::string addr = hex(a.slot);
  if (a.function != 0) addr += "." + hex(a.function);
  p.str("addr", addr);
  return {};
}

}  // namespace cmd

namespace {

constexpr std::string_view kDefaultEmulator = "/usr/bin/qemu-system-x86_64";

bool isI440fx(const DomainDef& def) { return def.machine == "pc" || def.machine.starts_with("pc-i440fx-"); }

// libvirt's names of x86 CPU features that QEMU spells differently
// (virQEMUCapsCPUFeaturesX86).
std::string cpuFeatureToQemu(const std::string& name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kMap{{
      {"cmp_legacy", "cmp-legacy"},
      {"ds_cpl", "ds-cpl"},
      {"fxsr_opt", "fxsr-opt"},
      {"kvm_pv_eoi", "kvm-pv-eoi"},
      {"kvm_pv_unhalt", "kvm-pv-unhalt"},
      {"lahf_lm", "lahf-lm"},
      {"nodeid_msr", "nodeid-msr"},
      {"pclmuldq", "pclmulqdq"},
      {"perfctr_core", "perfctr-core"},
      {"perfctr_nb", "perfctr-nb"},
      {"tsc_adjust", "tsc-adjust"},
  }};
  for (const auto& [from, to] : kMap)
    if (name == from) return std::string(to);
  return name;
}

Result<void> buildName(Builder& b) {
  b.add("-name", "guest=" + cmd::escapeComma(b.def().name) + ",debug-threads=on");
  if (b.opts().startPaused) b.add("-S");
  return {};
}

Result<void> buildMachine(Builder& b) {
  const DomainDef& def = b.def();
  std::string m = cmd::escapeComma(def.machine) + ",usb=off";
  if (auto v = def.feature(Feature::Vmport)) m += *v ? ",vmport=on" : ",vmport=off";
  if (auto v = def.feature(Feature::Smm)) m += *v ? ",smm=on" : ",smm=off";
  m += ",dump-guest-core=off";
  if (def.biosUseSerial == true) m += ",graphics=off";
  m += ",memory-backend=pc.ram";
  b.add("-machine", m);
  b.add("-accel", def.type == "kvm" ? "kvm" : "tcg");
  return {};
}

Result<void> buildCpu(Builder& b) {
  const DomainDef& def = b.def();
  const bool kvm = def.type == "kvm";
  std::string arg;
  const CpuDef defaultCpu;
  const CpuDef& cpu = def.cpu ? *def.cpu : defaultCpu;
  if (cpu.mode == "host-passthrough") {
    if (!kvm)
      return cfgErr("CPU mode 'host-passthrough' for x86_64 " + def.type +
                    " domain on x86_64 host is not supported by hypervisor");
    arg = "host";
    if (cpu.migratable) arg += *cpu.migratable ? ",migratable=on" : ",migratable=off";
  } else if (cpu.mode == "host-model") {
    // libvirt expands host-model from the probed host CPU; without that probe
    // the closest QEMU spelling is the accelerator's own full model.
    arg = kvm ? "host" : "max";
  } else if (cpu.mode == "maximum") {
    arg = "max";
  } else if (cpu.mode == "custom") {
    arg = cpu.model.value_or("qemu64");
  } else {
    return cfgErr("CPU mode '" + cpu.mode + "' is not supported");
  }
  for (const auto& f : cpu.features) {
    const std::string name = cpuFeatureToQemu(f.name);
    if (f.policy == "force" || f.policy == "require") arg += "," + name + "=on";
    else if (f.policy == "disable" || f.policy == "forbid") arg += "," + name + "=off";
  }
  for (const auto& t : def.clock.timers) {
    if (t.name == "kvmclock" && t.present) arg += *t.present ? ",kvmclock=on" : ",kvmclock=off";
    else if (t.name == "hypervclock" && t.present == true) arg += ",hv-time=on";
    else if (t.name == "tsc" && t.frequency) arg += ",tsc-frequency=" + std::to_string(*t.frequency);
  }
  if (auto pmu = def.feature(Feature::Pmu)) arg += *pmu ? ",pmu=on" : ",pmu=off";
  b.add("-cpu", arg);
  return {};
}

Result<void> buildMemory(Builder& b) {
  // qemuDomainAlignMemorySizes: x86 guests get whole MiB
  const uint64_t mib = (b.def().maxMemoryKiB + 1023) / 1024;
  if (mib == 0) return cfgErr("Memory size must be specified via <memory> or in the <numa> configuration");
  b.add("-m", std::to_string(mib));
  JsonProps ram;
  ram.str("qom-type", "memory-backend-ram").str("id", "pc.ram").num("size", static_cast<int64_t>(mib * 1024 * 1024));
  b.add("-object", ram.text());
  b.add("-overcommit", "mem-lock=off");
  return {};
}

Result<void> buildSmp(Builder& b) {
  const DomainDef& def = b.def();
  if (def.vcpus == 0 || def.vcpus > def.vcpusMax) return intErr("invalid number of vCPUs");
  std::string s = std::to_string(def.vcpus);
  if (def.vcpus != def.vcpusMax) s += ",maxcpus=" + std::to_string(def.vcpusMax);
  if (def.cpu && def.cpu->topology && def.cpu->topology->sockets) {
    const auto& t = *def.cpu->topology;
    if (static_cast<uint64_t>(t.sockets) * t.dies * t.cores * t.threads != def.vcpusMax)
      return cfgErr("CPU topology doesn't match maximum vcpu count");
    s += ",sockets=" + std::to_string(t.sockets) + ",dies=" + std::to_string(t.dies) +
         ",cores=" + std::to_string(t.cores) + ",threads=" + std::to_string(t.threads);
  } else {
    s += ",sockets=" + std::to_string(def.vcpusMax) + ",cores=1,threads=1";
  }
  b.add("-smp", s);
  return {};
}

Result<void> buildMonitor(Builder& b) {
  const std::string& path = b.opts().monitorSocketPath;
  if (path.empty()) return intErr("no monitor socket path given");
  b.add("-chardev", "socket,id=charmonitor,path=" + cmd::escapeComma(path) + ",server=on,wait=off");
  b.add("-mon", "chardev=charmonitor,id=monitor,mode=control");
  if (!b.opts().pidFilePath.empty()) b.add("-pidfile", b.opts().pidFilePath);
  return {};
}

std::string formatRtcTime(int64_t t) {
  auto tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// qemuBuildClockCommandLine
Result<void> buildClock(Builder& b) {
  const ClockDef& clock = b.def().clock;
  std::string rtc;
  if (clock.offset == "utc") {
    rtc = "base=utc";
  } else if (clock.offset == "localtime") {
    rtc = "base=localtime";
  } else if (clock.offset == "variable") {
    int64_t now = b.opts().clockNow ? b.opts().clockNow : static_cast<int64_t>(time(nullptr));
    int64_t adjustment = clock.adjustment;
    if (clock.basis == "localtime") {
      auto tt = static_cast<time_t>(now);
      struct tm lt {};
      localtime_r(&tt, &lt);
      adjustment += lt.tm_gmtoff;
    }
    rtc = "base=" + formatRtcTime(now + adjustment);
  } else if (clock.offset == "absolute") {
    rtc = "base=" + formatRtcTime(static_cast<int64_t>(clock.start));
  } else {
    return cfgErr("unsupported clock offset '" + clock.offset + "'");
  }
  for (const auto& t : clock.timers) {
    if (t.name != "rtc") continue;
    if (t.track == "guest") rtc += ",clock=vm";
    else if (t.track == "wall" || t.track == "realtime") rtc += ",clock=rt";
    else if (t.track) return cfgErr("unsupported rtc timer track '" + *t.track + "'");
    if (t.tickpolicy == "catchup") rtc += ",driftfix=slew";
    else if (t.tickpolicy && t.tickpolicy != "delay")
      return cfgErr("unsupported rtc timer tickpolicy '" + *t.tickpolicy + "'");
  }
  b.add("-rtc", rtc);
  for (const auto& t : clock.timers) {
    if (t.name == "pit") {
      if (!t.tickpolicy || t.tickpolicy == "delay") b.add("-global", "kvm-pit.lost_tick_policy=delay");
      else if (t.tickpolicy == "discard") b.add("-global", "kvm-pit.lost_tick_policy=discard");
      else return cfgErr("unsupported pit tickpolicy '" + *t.tickpolicy + "'");
    } else if (t.name == "hpet") {
      if (t.present == false) b.add("-no-hpet");
    } else if (t.name == "platform") {
      return cfgErr("unsupported timer type (name) 'platform'");
    }
  }
  return {};
}

// qemuBuildPMCommandLine
Result<void> buildPm(Builder& b) {
  const DomainDef& def = b.def();
  b.add("-no-shutdown");
  if (def.feature(Feature::Acpi) != true) b.add("-no-acpi");
  const char* pm = b.isQ35() ? "ICH9-LPC" : "PIIX4_PM";
  if (def.pmSuspendToMem) b.add("-global", std::string(pm) + ".disable_s3=" + (*def.pmSuspendToMem ? "0" : "1"));
  if (def.pmSuspendToDisk) b.add("-global", std::string(pm) + ".disable_s4=" + (*def.pmSuspendToDisk ? "0" : "1"));
  return {};
}

// qemuBuildBootCommandLine
Result<void> buildBoot(Builder& b) {
  const DomainDef& def = b.def();
  std::string boot;
  if (def.bootMenu) boot += *def.bootMenu ? "menu=on," : "menu=off,";
  if (def.biosRebootTimeout) boot += "reboot-timeout=" + std::to_string(*def.biosRebootTimeout) + ",";
  if (def.bootMenuTimeout) boot += "splash-time=" + std::to_string(*def.bootMenuTimeout) + ",";
  boot += "strict=on";
  b.add("-boot", boot);
  if (def.kernel) b.add("-kernel", *def.kernel);
  if (def.initrd) b.add("-initrd", *def.initrd);
  if (def.cmdline) b.add("-append", *def.cmdline);
  if (def.dtb) b.add("-dtb", *def.dtb);
  return {};
}

// What this builder (or QEMU 7.2 here) cannot express: fail before emitting.
Result<void> checkDomain(const DomainDef& def, const CommandOptions& opts) {
  if (def.type == "kvm") {
    if (!opts.kvmAvailable)
      return cfgErr("Domain requires KVM, but it is not available. Check that virtualization is enabled in the "
                    "host BIOS, and host configuration is setup to load the kvm modules.");
  } else if (def.type != "qemu") {
    return cfgErr("Emulator '" + def.emulator.value_or(std::string(kDefaultEmulator)) +
                  "' does not support virt type '" + def.type + "'");
  }
  if (def.osType != "hvm") return cfgErr("Emulator does not support OS type '" + def.osType + "'");
  if (def.arch != "x86_64" && def.arch != "i686")
    return cfgErr("No emulator found for arch '" + def.arch + "'");
  if (!isI440fx(def) && !(def.machine == "q35" || def.machine.starts_with("pc-q35-")))
    return cfgErr("machine type '" + def.machine + "' is not supported");
  if (def.loader || def.nvram || def.osFirmware)
    return cfgErr("firmware loaders (<loader>, <nvram>, firmware autoselection) are not supported");
  if (def.clock.offset == "timezone") return cfgErr("clock offset 'timezone' is not supported");
  for (const auto& g : def.graphics)
    if (g.type != GraphicsType::Vnc) return cfgErr("only VNC graphics are supported");
  return {};
}

}  // namespace

Result<DiskArgs> buildDiskHotplug(const DomainDef& def, size_t diskIndex, const std::string& node) {
  if (diskIndex >= def.disks.size()) return intErr("no disk at index " + std::to_string(diskIndex));
  CommandOptions opts;
  Builder b(def, opts);
  return b.diskArgs(diskIndex, node, 0);
}

Result<std::string> buildNetHotplugDevice(const DomainDef& def, size_t netIndex) {
  if (netIndex >= def.nets.size()) return intErr("no interface at index " + std::to_string(netIndex));
  CommandOptions opts;
  Builder b(def, opts);
  return b.netDeviceArgs(netIndex, 0);
}

Result<std::vector<std::string>> buildCommandLine(const DomainDef& def, const CommandOptions& opts) {
  SV_TRY_VOID(checkDomain(def, opts));
  Builder b(def, opts);
  std::string emulator = opts.emulator;
  if (emulator.empty()) emulator = def.emulator.value_or(std::string(kDefaultEmulator));
  b.add(std::move(emulator));

  SV_TRY_VOID(buildName(b));
  SV_TRY_VOID(buildMachine(b));
  SV_TRY_VOID(buildCpu(b));
  SV_TRY_VOID(buildMemory(b));
  SV_TRY_VOID(buildSmp(b));
  b.add("-uuid", formatUuid(def.uuid));
  if (def.graphics.empty()) b.add("-display", "none");
  b.add("-no-user-config");
  b.add("-nodefaults");
  SV_TRY_VOID(buildMonitor(b));
  SV_TRY_VOID(buildClock(b));
  SV_TRY_VOID(buildPm(b));
  SV_TRY_VOID(buildBoot(b));
  SV_TRY_VOID(b.buildControllers());
  SV_TRY_VOID(b.buildDisks());
  SV_TRY_VOID(b.buildNets());
  SV_TRY_VOID(b.buildSerials());
  SV_TRY_VOID(b.buildConsoles());
  SV_TRY_VOID(b.buildInputs());
  SV_TRY_VOID(b.buildAudio());
  SV_TRY_VOID(b.buildGraphics());
  SV_TRY_VOID(b.buildVideos());
  // libvirt's place for it: after the devices, before the balloon.
  if (opts.incomingDefer) b.add("-incoming", "defer");
  SV_TRY_VOID(b.buildMemballoon());
  if (def.feature(Feature::Vmcoreinfo) == true) b.addDevice(JsonProps().str("driver", "vmcoreinfo"));
  b.add("-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  b.add("-msg", "timestamp=on");
  return std::move(b.argv());
}

// virCommandToStringFull with linebreaks, and virBufferEscapeShell.
std::string formatCommandLine(const std::vector<std::string>& argv) {
  auto quote = [](const std::string& s) {
    if (!s.empty() && s.find_first_of("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~") == std::string::npos) return s;
    std::string out = "'";
    for (char c : s) {
      if (c == '\'') out += "'\\''";
      else out += c;
    }
    return out + "'";
  };
  std::string out;
  bool prevOpt = false;
  for (size_t i = 0; i < argv.size(); i++) {
    const std::string& a = argv[i];
    if (i > 0) out += (!a.empty() && a[0] == '-') || !prevOpt ? " \\\n" : " ";
    out += quote(a);
    prevOpt = !a.empty() && a[0] == '-';
  }
  return out;
}

}  // namespace splitvirt::qemu
