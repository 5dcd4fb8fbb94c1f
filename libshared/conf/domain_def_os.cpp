// <os>, <features>, <cpu> and <clock>.
#include "conf/domain_def_detail.hpp"

namespace splitvirt::conf {

using namespace detail;

namespace {

const Names kOsTypeNames = {"hvm", "xen", "linux", "exe", "uml", "xenpvh"};
const Names kArchNames = {"alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64",
                          "lm32", "m68k", "microblaze", "microblazeel", "mips", "mipsel", "mips64",
                          "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppcle", "ppc64", "ppc64le",
                          "ppcemb", "riscv32", "riscv64", "s390", "s390x", "sh4", "sh4eb", "sparc",
                          "sparc64", "unicore32", "x86_64", "xtensa", "xtensaeb"};
const Names kBootDevNames = {"fd", "cdrom", "hd", "network"};
const Names kLoaderTypeNames = {"none", "rom", "pflash"};
const Names kSmbiosNames = {"none", "emulate", "host", "sysinfo"};
// Every <features> child libvirt 9.0 knows; the ones outside kFeatureNames
// are accepted and dropped.
const Names kAllFeatureNames = {"acpi", "apic", "pae", "hap", "viridian", "privnet", "hyperv", "kvm",
                                "pvspinlock", "capabilities", "pmu", "vmport", "gic", "smm", "ioapic",
                                "hpt", "vmcoreinfo", "htm", "nested-hv", "msrs", "ccf-assist", "xen",
                                "cfpc", "sbbc", "ibs", "tcg"};
const Names kCpuModeNames = {"custom", "host-model", "host-passthrough", "maximum"};
const Names kCpuMatchNames = {"minimum", "exact", "strict"};
const Names kCpuCheckNames = {"default", "none", "partial", "full"};
const Names kCpuFallbackNames = {"allow", "forbid"};
const Names kCpuPolicyNames = {"force", "require", "optional", "disable", "forbid"};
const Names kCpuCacheModeNames = {"emulate", "passthrough", "disable"};
const Names kClockOffsetNames = {"utc", "localtime", "variable", "timezone", "absolute"};
const Names kClockBasisNames = {"utc", "localtime"};
const Names kTimerNames = {"platform", "pit", "rtc", "hpet", "tsc", "kvmclock", "hypervclock", "armvtimer"};
const Names kTickpolicyNames = {"delay", "catchup", "merge", "discard"};
const Names kTrackNames = {"boot", "guest", "wall", "realtime"};
const Names kTimerModeNames = {"auto", "native", "emulate", "paravirt", "smpsafe"};

std::optional<std::string> nonEmpty(std::optional<std::string> s) {
  if (s && s->empty()) return std::nullopt;
  return s;
}

template <class T>
std::optional<std::string> enumStr(const Names& names, const std::optional<T>& idx) {
  if (!idx) return std::nullopt;
  return std::string(names[*idx]);
}

}  // namespace

// ---------------- <os> ----------------

Result<void> detail::parseOs(XmlNode os, DomainDef& def, ErrorDomain d) {
  XmlNode type = os.child("type");
  std::string ostype = type ? type.text() : std::string();
  if (ostype.empty()) return xmlErr(d, "an os <type> must be specified");
  if (enumIndex(kOsTypeNames, ostype) < 0) return cfgErr(d, "unknown OS type '" + ostype + "'");
  def.osType = ostype == "linux" ? "xen" : ostype;
  if (auto arch = nonEmpty(type.attr("arch"))) {
    if (enumIndex(kArchNames, *arch) < 0) return cfgErr(d, "Unknown architecture " + *arch);
    def.arch = *arch;
  }
  if (auto machine = nonEmpty(type.attr("machine"))) def.machine = *machine;
  return {};
}

Result<void> detail::parseOsBoot(XmlNode os, DomainDef& def, ErrorDomain d) {
  if (auto fw = nonEmpty(os.attr("firmware"))) {
    if (*fw != "bios" && *fw != "efi") return xmlErr(d, "unknown firmware value " + *fw);
    def.osFirmware = *fw;
  }
  def.kernel = os.childText("kernel");
  def.initrd = os.childText("initrd");
  def.cmdline = os.childText("cmdline");
  def.dtb = os.childText("dtb");
  if (XmlNode loader = os.child("loader")) {
    LoaderDef l;
    SV_TRY_ASSIGN(l.readonly, propYesNo(loader, "readonly"));
    SV_TRY_ASSIGN(l.secure, propYesNo(loader, "secure"));
    std::optional<unsigned> t;
    SV_TRY_ASSIGN(t, propEnum(loader, "type", kLoaderTypeNames, kPropNonZero));
    l.type = enumStr(kLoaderTypeNames, t);
    l.path = loader.text();
    if (!l.type && !l.path.empty()) l.type = "rom";  // libvirt's default for a given loader
    def.loader = std::move(l);
  }
  def.nvram = os.childText("nvram");

  auto boots = os.children("boot");
  for (size_t i = 0; i < boots.size() && i < 4; i++) {
    std::optional<unsigned> dev;
    SV_TRY_ASSIGN(dev, propEnum(boots[i], "dev", kBootDevNames, kPropRequired));
    def.bootDevs.emplace_back(kBootDevNames[*dev]);
  }
  if (XmlNode menu = os.child("bootmenu")) {
    SV_TRY_ASSIGN(def.bootMenu, propYesNo(menu, "enable"));
    if (def.bootMenu == true) {
      std::optional<unsigned> t;
      SV_TRY_ASSIGN(t, propUInt(menu, "timeout"));
      if (t && *t > 65535) return cfgErr(d, "invalid value for boot menu timeout, must be in range [0,65535]");
      def.bootMenuTimeout = t;
    }
  }
  if (XmlNode bios = os.child("bios")) {
    if (auto us = bios.attr("useserial")) def.biosUseSerial = *us == "yes";  // libvirt: STREQ "yes"
    std::optional<int> t;
    SV_TRY_ASSIGN(t, propInt(bios, "rebootTimeout"));
    if (t) {
      if (*t < -1 || *t > 65535) return cfgErr(d, "invalid value for rebootTimeout, must be in range [-1,65535]");
      def.biosRebootTimeout = *t;
    }
  }
  if (XmlNode smbios = os.child("smbios")) {
    if (auto mode = nonEmpty(smbios.attr("mode"))) {
      if (enumIndex(kSmbiosNames, *mode) <= 0) return cfgErr(d, "unknown smbios mode '" + *mode + "'");
      def.smbiosMode = *mode;
    }
  }
  return {};
}

void detail::formatOs(XmlWriter& w, const DomainDef& def) {
  w.open("os").attrIf("firmware", def.osFirmware);
  w.open("type");
  if (!def.arch.empty()) w.attr("arch", def.arch);
  if (!def.machine.empty()) w.attr("machine", def.machine);
  w.text(def.osType).close();
  if (def.loader) {
    w.open("loader").attrYesNo("readonly", def.loader->readonly).attrYesNo("secure", def.loader->secure);
    w.attrIf("type", def.loader->type);
    if (!def.loader->path.empty()) w.text(def.loader->path);
    w.close();
  }
  w.textElementIf("nvram", def.nvram);
  w.textElementIf("kernel", def.kernel);
  w.textElementIf("initrd", def.initrd);
  w.textElementIf("cmdline", def.cmdline);
  w.textElementIf("dtb", def.dtb);
  for (const auto& b : def.bootDevs) w.open("boot").attr("dev", b).close();
  if (def.bootMenu) {
    w.open("bootmenu").attrYesNo("enable", def.bootMenu);
    w.attrIf("timeout", def.bootMenuTimeout);
    w.close();
  }
  if (def.biosUseSerial || def.biosRebootTimeout) {
    w.open("bios").attrYesNo("useserial", def.biosUseSerial);
    w.attrIf("rebootTimeout", def.biosRebootTimeout);
    w.close();
  }
  if (def.smbiosMode) w.open("smbios").attr("mode", *def.smbiosMode).close();
  w.close();
}

// ---------------- <features> ----------------

Result<void> detail::parseFeatures(XmlNode features, DomainDef& def, ErrorDomain d) {
  for (XmlNode n : features.children()) {
    std::string_view name = n.name();
    if (enumIndex(kAllFeatureNames, name) < 0) return cfgErr(d, "unexpected feature '" + std::string(name) + "'");
    int idx = enumIndex(kFeatureNames, name);
    if (idx < 0) continue;  // known to libvirt, not kept by this model
    auto f = static_cast<Feature>(idx);
    switch (f) {
      case Feature::Acpi:
      case Feature::Pae:
      case Feature::Viridian:
      case Feature::Privnet:
        def.features[idx] = true;
        break;
      case Feature::Apic:
        SV_TRY_ASSIGN(def.apicEoi, propOnOff(n, "eoi"));
        def.features[idx] = true;
        break;
      case Feature::Hap:
      case Feature::Pvspinlock:
      case Feature::Pmu:
      case Feature::Vmport:
      case Feature::Smm:
      case Feature::Vmcoreinfo: {
        std::optional<bool> state;
        SV_TRY_ASSIGN(state, propOnOff(n, "state"));
        def.features[idx] = state.value_or(true);
        break;
      }
    }
  }
  return {};
}

void detail::formatFeatures(XmlWriter& w, const DomainDef& def) {
  bool any = false;
  for (const auto& f : def.features) any = any || f.has_value();
  if (!any) return;
  w.open("features");
  for (size_t i = 0; i < kFeatureCount; i++) {
    const auto& v = def.features[i];
    if (!v) continue;
    auto f = static_cast<Feature>(i);
    switch (f) {
      case Feature::Acpi:
      case Feature::Pae:
      case Feature::Viridian:
      case Feature::Privnet:
        if (*v) w.empty(kFeatureNames[i]);
        break;
      case Feature::Apic:
        if (*v) w.open("apic").attrOnOff("eoi", def.apicEoi).close();
        break;
      default:
        w.open(kFeatureNames[i]).attrOnOff("state", v).close();
        break;
    }
  }
  w.close();
}

// ---------------- <cpu> ----------------

Result<void> detail::parseCpu(XmlNode node, DomainDef& def, ErrorDomain d) {
  CpuDef cpu;
  if (auto mode = node.attr("mode")) {
    if (enumIndex(kCpuModeNames, *mode) < 0) return cfgErr(kFromCpu, "Invalid mode attribute '" + *mode + "'");
    cpu.mode = *mode;
  }
  std::optional<unsigned> idx;
  if (cpu.mode == "custom") {
    SV_TRY_ASSIGN(idx, propEnum(node, "match", kCpuMatchNames));
    cpu.match = enumStr(kCpuMatchNames, idx);
  }
  SV_TRY_ASSIGN(idx, propEnum(node, "check", kCpuCheckNames, kPropNonZero));
  cpu.check = enumStr(kCpuCheckNames, idx);
  if (cpu.mode == "host-passthrough" || cpu.mode == "maximum") SV_TRY_ASSIGN(cpu.migratable, propOnOff(node, "migratable"));

  if (XmlNode model = node.child("model")) {
    std::string text = model.text();
    if (!text.empty()) cpu.model = text;
    if (auto fb = model.attr("fallback")) {
      if (enumIndex(kCpuFallbackNames, *fb) < 0) return cfgErr(kFromCpu, "Invalid fallback attribute");
      cpu.fallback = *fb;
    }
  }
  cpu.vendor = node.childText("vendor");
  if (cpu.vendor && !cpu.model) return xmlErr(kFromCpu, "CPU vendor specified without CPU model");

  if (XmlNode topo = node.child("topology")) {
    CpuDef::Topology t;
    std::optional<unsigned> v;
    SV_TRY_ASSIGN(v, propUInt(topo, "sockets", 10, kPropRequired | kPropNonZero));
    t.sockets = *v;
    SV_TRY_ASSIGN(v, propUInt(topo, "dies", 10, kPropNonZero));
    t.dies = v.value_or(1);
    SV_TRY_ASSIGN(v, propUInt(topo, "cores", 10, kPropRequired | kPropNonZero));
    t.cores = *v;
    SV_TRY_ASSIGN(v, propUInt(topo, "threads", 10, kPropRequired | kPropNonZero));
    t.threads = *v;
    cpu.topology = t;
  }
  if (XmlNode cache = node.child("cache")) {
    SV_TRY_ASSIGN(idx, propEnum(cache, "mode", kCpuCacheModeNames, kPropRequired));
    cpu.cacheMode = enumStr(kCpuCacheModeNames, idx);
  }
  for (XmlNode f : node.children("feature")) {
    CpuFeatureDef feat;
    feat.policy = "require";
    if (auto p = f.attr("policy")) {
      if (enumIndex(kCpuPolicyNames, *p) < 0) return cfgErr(kFromCpu, "Invalid CPU feature policy");
      feat.policy = *p;
    }
    auto name = f.attr("name");
    if (!name || name->empty()) return xmlErr(kFromCpu, "Invalid CPU feature name");
    feat.name = *name;
    cpu.features.push_back(std::move(feat));
  }
  def.cpu = std::move(cpu);
  return {};
}

void detail::formatCpu(XmlWriter& w, const DomainDef& def) {
  if (!def.cpu) return;
  const CpuDef& c = *def.cpu;
  w.open("cpu").attr("mode", c.mode);
  if (c.mode == "custom") w.attrIf("match", c.match);
  w.attrIf("check", c.check);
  w.attrOnOff("migratable", c.migratable);
  if (c.model) {
    w.open("model");
    if (c.mode == "custom") w.attrIf("fallback", c.fallback);
    w.text(*c.model).close();
  }
  w.textElementIf("vendor", c.vendor);
  if (c.topology) {
    w.open("topology")
        .attr("sockets", c.topology->sockets)
        .attr("dies", c.topology->dies)
        .attr("cores", c.topology->cores)
        .attr("threads", c.topology->threads)
        .close();
  }
  if (c.cacheMode) w.open("cache").attr("mode", *c.cacheMode).close();
  for (const auto& f : c.features) w.open("feature").attr("policy", f.policy).attr("name", f.name).close();
  w.close();
}

// ---------------- <clock> ----------------

Result<void> detail::parseClock(XmlNode node, DomainDef& def, ErrorDomain d) {
  ClockDef& c = def.clock;
  if (auto off = node.attr("offset"); off && !off->empty()) {
    if (enumIndex(kClockOffsetNames, *off) < 0) return cfgErr(d, "unknown clock offset '" + *off + "'");
    c.offset = *off;
  }
  auto adj = nonEmpty(node.attr("adjustment"));
  if (c.offset == "utc" || c.offset == "localtime") {
    if (adj) {
      if (*adj == "reset") {
        c.utcReset = true;
      } else {
        auto v = strToLL(*adj);
        if (!v) return xmlErr(d, "unknown clock adjustment '" + *adj + "'");
        c.adjustment = *v;
        c.basis = c.offset;
        c.offset = "variable";
      }
    }
  } else if (c.offset == "variable") {
    // XPath number(): anything unparsable counts as 0.
    auto v = adj ? strToLL(*adj) : std::nullopt;
    c.adjustment = v.value_or(0);
    if (auto basis = nonEmpty(node.attr("basis"))) {
      if (enumIndex(kClockBasisNames, *basis) < 0) return cfgErr(d, "unknown clock basis '" + *basis + "'");
      c.basis = *basis;
    }
  } else if (c.offset == "timezone") {
    c.timezone = nonEmpty(node.attr("timezone"));
    if (!c.timezone) return intErr(d, "missing 'timezone' attribute for clock with offset='timezone'");
  } else if (c.offset == "absolute") {
    auto start = nonEmpty(node.attr("start"));
    auto v = start ? strToULL(*start) : std::nullopt;
    if (!v) return intErr(d, "missing 'start' attribute for clock with offset='absolute'");
    c.start = *v;
  }

  for (XmlNode t : node.children("timer")) {
    TimerDef timer;
    std::optional<unsigned> idx;
    SV_TRY_ASSIGN(idx, propEnum(t, "name", kTimerNames, kPropRequired));
    timer.name = kTimerNames[*idx];
    SV_TRY_ASSIGN(timer.present, propYesNo(t, "present"));
    SV_TRY_ASSIGN(idx, propEnum(t, "tickpolicy", kTickpolicyNames));
    timer.tickpolicy = enumStr(kTickpolicyNames, idx);
    if (timer.name == "platform" || timer.name == "rtc") {
      SV_TRY_ASSIGN(idx, propEnum(t, "track", kTrackNames));
      timer.track = enumStr(kTrackNames, idx);
    }
    if (timer.name == "tsc") {
      SV_TRY_ASSIGN(timer.frequency, propULongLong(t, "frequency"));
      if (timer.frequency == 0u) timer.frequency.reset();
      SV_TRY_ASSIGN(idx, propEnum(t, "mode", kTimerModeNames));
      timer.mode = enumStr(kTimerModeNames, idx);
    }
    c.timers.push_back(std::move(timer));
  }
  return {};
}

void detail::formatClock(XmlWriter& w, const DomainDef& def) {
  const ClockDef& c = def.clock;
  w.open("clock").attr("offset", c.offset);
  if (c.offset == "utc" || c.offset == "localtime") {
    if (c.utcReset) w.attr("adjustment", "reset");
  } else if (c.offset == "variable") {
    w.attr("adjustment", c.adjustment).attr("basis", c.basis);
  } else if (c.offset == "timezone") {
    w.attrIf("timezone", c.timezone);
  } else if (c.offset == "absolute") {
    w.attr("start", static_cast<unsigned long long>(c.start));
  }
  for (const auto& t : c.timers) {
    w.open("timer").attr("name", t.name).attrYesNo("present", t.present);
    w.attrIf("tickpolicy", t.tickpolicy);
    w.attrIf("track", t.track);
    if (t.frequency) w.attr("frequency", static_cast<unsigned long long>(*t.frequency));
    w.attrIf("mode", t.mode);
    w.close();
  }
  w.close();
}

}  // namespace splitvirt::conf
