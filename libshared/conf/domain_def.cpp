// Top level of the domain XML: identity, memory, vcpus, lifecycle, the
// <devices> dispatch, and the overall parse -> post-parse -> validate flow.
#include "conf/domain_def_detail.hpp"
#include "conf/schema.hpp"

#include <algorithm>
#include <climits>
#include <set>

namespace splitvirt::conf {

namespace detail {

int enumIndex(const Names& names, std::string_view s) {
  for (size_t i = 0; i < names.size(); i++)
    if (names[i] == s) return static_cast<int>(i);
  return -1;
}

Error customErr(ErrorCode code, ErrorDomain d, std::string message) {
  Error e;
  e.code = code;
  e.domain = d;
  e.str1 = "%s";
  e.str2 = message;
  e.message = std::move(message);
  return e;
}

Result<std::vector<unsigned>> parseBitmap(std::string_view str) {
  constexpr unsigned kMaxBits = 1024;  // VIR_DOMAIN_CPUMASK_LEN
  auto fail = [&] { return Error::invalidArg(ErrorDomain::None, "Failed to parse bitmap '" + std::string(str) + "'"); };
  std::set<unsigned> bits;
  size_t p = 0;
  auto skipSpaces = [&] {
    while (p < str.size() && (str[p] == ' ' || str[p] == '\t' || str[p] == '\n')) p++;
  };
  auto readNum = [&](long& out) {
    size_t s = p;
    while (p < str.size() && str[p] >= '0' && str[p] <= '9') p++;
    if (s == p) return false;
    auto v = strToInt(str.substr(s, p - s));
    if (!v) return false;
    out = *v;
    return true;
  };
  skipSpaces();
  if (p >= str.size()) return fail();
  while (p < str.size()) {
    bool neg = false;
    if (str[p] == '^') {
      p++;
      neg = true;
    }
    long start = 0;
    if (!readNum(start) || start >= kMaxBits) return fail();
    skipSpaces();
    if (p >= str.size() || str[p] == ',') {
      if (neg)
        bits.erase(static_cast<unsigned>(start));
      else
        bits.insert(static_cast<unsigned>(start));
    } else if (str[p] == '-') {
      if (neg) return fail();
      p++;
      skipSpaces();
      long last = 0;
      if (!readNum(last) || last < start || last >= kMaxBits) return fail();
      for (long i = start; i <= last; i++) bits.insert(static_cast<unsigned>(i));
      skipSpaces();
    }
    if (p < str.size() && str[p] == ',') {
      p++;
      skipSpaces();
    } else if (p >= str.size()) {
      break;
    } else {
      return fail();
    }
  }
  return std::vector<unsigned>(bits.begin(), bits.end());
}

std::string formatBitmap(const std::vector<unsigned>& bits) {
  std::string out;
  for (size_t i = 0; i < bits.size();) {
    size_t j = i;
    while (j + 1 < bits.size() && bits[j + 1] == bits[j] + 1) j++;
    if (!out.empty()) out += ',';
    out += std::to_string(bits[i]);
    if (j > i) out += "-" + std::to_string(bits[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace detail

using namespace detail;

namespace {

const Names kVirtTypeNames = {"none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz",
                              "test", "vmware", "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz"};
const Names kLifecycleNames = {"destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                               "coredump-restart"};
const Names kPlacementNames = {"static", "auto"};
const Names kNumatuneModeNames = {"strict", "preferred", "interleave", "restrictive"};

constexpr uint64_t kMemoryMax = LLONG_MAX;  // virMemoryMaxValue(true) on 64-bit hosts

// virDomainParseMemory: the element's text scaled by its unit, in KiB.
Result<uint64_t> parseMemoryElement(XmlNode domain, std::string_view elem) {
  std::string xpath = "./" + std::string(elem) + "[1]";
  XmlNode node = domain.child(elem);
  if (!node) return uint64_t{0};
  std::string text = node.text();
  if (text.empty()) return uint64_t{0};
  auto bytes = strToULLp(text);
  if (!bytes)
    return Error::xmlError(kFromXml, "Invalid value '" + text + "' for element or attribute '" + xpath + "'");
  std::string unit = node.attr("unit").value_or("");
  auto scaled = scaleInteger(*bytes, unit, 1024, kMemoryMax);
  if (!scaled) return scaled.error();
  uint64_t kib = (*scaled + 1023) / 1024;
  if (kib >= (kMemoryMax + 1023) / 1024)
    return customErr(kErrOverflow, ErrorDomain::None, "numerical overflow: size value too large");
  return kib;
}

Result<void> parseVcpu(XmlNode domain, DomainDef& def, ErrorDomain d) {
  XmlNode vcpu = domain.child("vcpu");
  if (!vcpu) return {};
  std::string text = vcpu.text();
  // libvirt (virStrToLong_ui) wraps "-1" to UINT_MAX and then tries to
  // allocate that many vCPUs; refuse negative counts outright instead.
  auto n = strToUIntp(text);
  if (!n) return xmlErr(d, "maximum vcpus count must be an integer");
  def.vcpusMax = *n;
  def.vcpus = *n;
  std::optional<unsigned> current;
  SV_TRY_ASSIGN(current, propUInt(vcpu, "current"));
  std::optional<unsigned> placement;
  SV_TRY_ASSIGN(placement, propEnum(vcpu, "placement", kPlacementNames));
  if (placement) def.vcpuPlacement = std::string(kPlacementNames[*placement]);
  if (def.vcpuPlacement != "auto") {
    if (auto cpuset = vcpu.attr("cpuset")) {
      std::vector<unsigned> bits;
      SV_TRY_ASSIGN(bits, parseBitmap(*cpuset));
      if (bits.empty()) return cfgErr(d, "Invalid value of 'cpuset': " + *cpuset);
      def.cpuset = formatBitmap(bits);
    }
  }
  if (current) {
    if (*current > def.vcpusMax)
      return cfgErr(d, "maximum vCPU count must not be less than current vCPU count");
    def.vcpus = *current;
  }
  return {};
}

Result<void> parseNumatune(XmlNode domain, DomainDef& def, ErrorDomain d) {
  XmlNode mem = domain.child("numatune").child("memory");
  if (mem) {
    std::optional<unsigned> mode, placement;
    if (auto m = mem.attr("mode"); m && enumIndex(kNumatuneModeNames, *m) < 0)
      return cfgErr(d, "Unsupported NUMA memory tuning mode '" + *m + "'");
    SV_TRY_ASSIGN(mode, propEnum(mem, "mode", kNumatuneModeNames));
    SV_TRY_ASSIGN(placement, propEnum(mem, "placement", kPlacementNames));
    def.numatuneMode = std::string(kNumatuneModeNames[mode.value_or(0)]);
    if (auto nodeset = mem.attr("nodeset")) {
      std::vector<unsigned> bits;
      SV_TRY_ASSIGN(bits, parseBitmap(*nodeset));
      def.numatuneNodeset = formatBitmap(bits);
    }
    bool autoPlacement = placement ? *placement == 1 : (!def.numatuneNodeset && def.vcpuPlacement == "auto");
    if (autoPlacement) {
      def.numatunePlacement = "auto";
      def.numatuneNodeset.reset();
    }
  } else if (def.vcpuPlacement == "auto") {
    def.numatuneMode = "strict";
    def.numatunePlacement = "auto";
  }
  return {};
}

Result<void> parseLifecycle(XmlNode domain, DomainDef& def, ErrorDomain d) {
  struct Item {
    const char* elem;
    std::string* out;
    bool allowCoredump;
  } items[] = {{"on_reboot", &def.onReboot, false},
               {"on_poweroff", &def.onPoweroff, false},
               {"on_crash", &def.onCrash, true}};
  for (auto& it : items) {
    auto v = domain.childText(it.elem);
    if (!v) continue;
    int idx = enumIndex(kLifecycleNames, *v);
    if (idx < 0) return cfgErr(d, "unknown " + std::string(it.elem) + " action: " + *v);
    if (!it.allowCoredump && idx >= 4)
      return cfgErr(d, "Lifecycle event '" + std::string(it.elem + 3) + "' doesn't support '" + *v + "' action");
    *it.out = *v;
  }
  if (XmlNode pm = domain.child("pm")) {
    if (XmlNode n = pm.child("suspend-to-mem")) SV_TRY_ASSIGN(def.pmSuspendToMem, propYesNo(n, "enabled"));
    if (XmlNode n = pm.child("suspend-to-disk")) SV_TRY_ASSIGN(def.pmSuspendToDisk, propYesNo(n, "enabled"));
  }
  return {};
}

Result<void> parseDevices(XmlNode devices, DomainDef& def, ErrorDomain d) {
  if (!devices) return {};
  if (auto emu = devices.childText("emulator")) def.emulator = *emu;
  for (XmlNode n : devices.children("disk")) {
    DiskDef disk;
    SV_TRY_ASSIGN(disk, parseDisk(n, d));
    insertDisk(def.disks, std::move(disk));
  }
  bool usbNone = false, usbOther = false;
  for (XmlNode n : devices.children("controller")) {
    ControllerDef c;
    SV_TRY_ASSIGN(c, parseController(n, d));
    if (c.type == ControllerType::Usb) {
      bool none = c.model == "none";
      if ((none && usbOther) || (!none && usbNone))
        return Error::xmlDetail(d, "Can't add another USB controller: USB is disabled for this domain");
      (none ? usbNone : usbOther) = true;
    }
    insertController(def.controllers, std::move(c));
  }
  for (auto& c : def.controllers) {
    if (c.index != -1) continue;
    int idx = 0;
    while (std::any_of(def.controllers.begin(), def.controllers.end(),
                       [&](const ControllerDef& o) { return o.type == c.type && o.index == idx; }))
      idx++;
    c.index = idx;
  }
  for (XmlNode n : devices.children("interface")) {
    NetDef net;
    SV_TRY_ASSIGN(net, parseNet(n, d));
    def.nets.push_back(std::move(net));
  }
  for (XmlNode n : devices.children("serial")) {
    ChrDef chr;
    SV_TRY_ASSIGN(chr, parseChr(n, false, d));
    def.serials.push_back(std::move(chr));
  }
  for (XmlNode n : devices.children("console")) {
    ChrDef chr;
    SV_TRY_ASSIGN(chr, parseChr(n, true, d));
    chr.targetPort = static_cast<int>(def.consoles.size());  // libvirt ignores the given port here
    def.consoles.push_back(std::move(chr));
  }
  for (XmlNode n : devices.children("input")) {
    InputDef in;
    SV_TRY_ASSIGN(in, parseInput(n, d));
    def.inputs.push_back(std::move(in));
  }
  for (XmlNode n : devices.children("graphics")) {
    GraphicsDef g;
    SV_TRY_ASSIGN(g, parseGraphics(n, d));
    def.graphics.push_back(std::move(g));
  }
  for (XmlNode n : devices.children("audio")) {
    AudioDef a;
    SV_TRY_ASSIGN(a, parseAudio(n, d));
    def.audios.push_back(std::move(a));
  }
  bool havePrimary = false;
  for (XmlNode n : devices.children("video")) {
    VideoDef v;
    SV_TRY_ASSIGN(v, parseVideo(n, d));
    if (v.primary) {
      if (havePrimary) return cfgErr(d, "Only one primary video device is supported");
      havePrimary = true;
      def.videos.insert(def.videos.begin(), std::move(v));
    } else {
      def.videos.push_back(std::move(v));
    }
  }
  auto balloons = devices.children("memballoon");
  if (balloons.size() > 1) return cfgErr(d, "only a single memory balloon device is supported");
  if (!balloons.empty()) {
    MemballoonDef m;
    SV_TRY_ASSIGN(m, parseMemballoon(balloons[0], d));
    def.memballoon = std::move(m);
  }
  return {};
}

Result<void> parseDomainNode(XmlNode root, DomainDef& def, ErrorDomain d) {
  // virDomainDefParseIDs
  auto name = root.childText("name");
  if (!name) return Error::make(ErrorCode::NoName, d, "missing name information: %s", "missing name information",
                                std::nullopt);
  if (name->find('\n') != std::string::npos)
    return customErr(ErrorCode::XmlDetail, kFromXml, "invalid char in name: \n");
  def.name = *name;
  if (auto uuid = root.childText("uuid")) {
    auto u = parseUuid(*uuid);
    if (!u) return intErr(d, "malformed uuid element");
    def.uuid = *u;
  } else {
    def.uuid = generateUuid();
  }

  // virDomainDefParseCaps
  auto virtType = root.attr("type");
  if (!virtType || virtType->empty()) return intErr(d, "missing domain type attribute");
  if (enumIndex(kVirtTypeNames, *virtType) <= 0) return cfgErr(d, "invalid domain type " + *virtType);
  def.type = *virtType;
  SV_TRY_VOID(parseOs(root.child("os"), def, d));

  def.title = root.childText("title");
  if (def.title && def.title->find('\n') != std::string::npos)
    return xmlErr(d, "Domain title can't contain newlines");
  def.description = root.childText("description");
  if (XmlNode md = root.child("metadata")) def.metadataXml = md.dumpFormatted(1, true);

  SV_TRY_ASSIGN(def.maxMemoryKiB, parseMemoryElement(root, "memory"));
  SV_TRY_ASSIGN(def.currentMemoryKiB, parseMemoryElement(root, "currentMemory"));
  SV_TRY_VOID(parseVcpu(root, def, d));
  SV_TRY_VOID(parseNumatune(root, def, d));
  if (XmlNode f = root.child("features")) SV_TRY_VOID(parseFeatures(f, def, d));
  SV_TRY_VOID(parseLifecycle(root, def, d));
  if (XmlNode c = root.child("clock")) SV_TRY_VOID(parseClock(c, def, d));
  SV_TRY_VOID(parseOsBoot(root.child("os"), def, d));
  SV_TRY_VOID(parseDevices(root.child("devices"), def, d));
  if (XmlNode c = root.child("cpu")) SV_TRY_VOID(parseCpu(c, def, d));
  return {};
}

void formatDevices(XmlWriter& w, const DomainDef& def, unsigned flags) {
  w.open("devices");
  w.textElementIf("emulator", def.emulator);
  for (const auto& x : def.disks) formatDisk(w, x, flags);
  for (const auto& x : def.controllers) formatController(w, x, flags);
  for (const auto& x : def.nets) formatNet(w, x, flags);
  for (const auto& x : def.serials) formatSerial(w, x, flags);
  formatConsoles(w, def, flags);
  for (const auto& x : def.inputs) formatInput(w, x, flags);
  for (const auto& x : def.graphics) formatGraphics(w, x, flags);
  for (const auto& x : def.audios) formatAudio(w, x);
  for (const auto& x : def.videos) formatVideo(w, x, flags);
  if (def.memballoon) formatMemballoon(w, *def.memballoon, flags);
  w.close();
}

}  // namespace

Result<uint64_t> scaleInteger(uint64_t value, std::string_view suffix, uint64_t scale, uint64_t limit) {
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  auto ieq = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++)
      if (lower(a[i]) != lower(b[i])) return false;
    return true;
  };
  auto unknown = [&] {
    return Error::invalidArg(ErrorDomain::None, "unknown suffix '" + std::string(suffix) + "'");
  };
  if (suffix.empty()) {
    if (!scale) return Error::internal(ErrorDomain::None, "invalid scale " + std::to_string(scale));
  } else if (ieq(suffix, "b") || ieq(suffix, "byte") || ieq(suffix, "bytes")) {
    scale = 1;
  } else {
    uint64_t base;
    if (suffix.size() == 1 || ieq(suffix.substr(1), "iB"))
      base = 1024;
    else if (suffix.size() == 2 && lower(suffix[1]) == 'b')
      base = 1000;
    else
      return unknown();
    static constexpr std::string_view kOrder = "kmgtpe";
    auto pos = kOrder.find(lower(suffix[0]));
    if (pos == std::string_view::npos) return unknown();
    scale = 1;
    for (size_t i = 0; i <= pos; i++) scale *= base;
  }
  if (value && value > limit / scale)
    return customErr(kErrOverflow, ErrorDomain::None,
                     "numerical overflow: value too large: " + std::to_string(value) + std::string(suffix));
  return value * scale;
}

Result<DomainDef> parseDomainDef(std::string_view xml, unsigned flags, ErrorDomain errDomain) {
  auto doc = XmlDoc::parse(xml, "(domain_definition)", "domain", errDomain);
  if (!doc) return doc.error();
  if (flags & kParseValidateSchema) SV_TRY_VOID(validateDocAgainstSchema(*doc, kDomainSchemaPath));
  DomainDef def;
  SV_TRY_VOID(parseDomainNode(doc->root(), def, errDomain));
  SV_TRY_VOID(postParseDomainDef(def, errDomain));
  SV_TRY_VOID(validateDomainDef(def, errDomain));
  return def;
}

std::string formatDomainDef(const DomainDef& def, unsigned flags, int id) {
  XmlWriter w;
  w.open("domain").attr("type", def.type);
  if (id >= 0 && !(flags & kFormatInactive)) w.attr("id", id);
  w.textElement("name", def.name);
  w.textElement("uuid", formatUuid(def.uuid));
  w.textElementIf("title", def.title);
  w.textElementIf("description", def.description);
  if (def.metadataXml) w.raw(*def.metadataXml);
  w.open("memory").attr("unit", "KiB").text(std::to_string(def.maxMemoryKiB)).close();
  w.open("currentMemory").attr("unit", "KiB").text(std::to_string(def.currentMemoryKiB)).close();
  w.open("vcpu").attr("placement", def.vcpuPlacement);
  w.attrIf("cpuset", def.cpuset);
  if (def.vcpus != def.vcpusMax) w.attr("current", def.vcpus);
  w.text(std::to_string(def.vcpusMax)).close();
  if (def.numatuneMode) {
    w.open("numatune").open("memory").attr("mode", *def.numatuneMode);
    if (def.numatunePlacement == "auto")
      w.attr("placement", "auto");
    else
      w.attrIf("nodeset", def.numatuneNodeset);
    w.close().close();
  }
  formatOs(w, def);
  formatFeatures(w, def);
  formatCpu(w, def);
  formatClock(w, def);
  w.textElement("on_poweroff", def.onPoweroff);
  w.textElement("on_reboot", def.onReboot);
  w.textElement("on_crash", def.onCrash);
  if (def.pmSuspendToMem || def.pmSuspendToDisk) {
    w.open("pm");
    if (def.pmSuspendToMem) w.open("suspend-to-mem").attrYesNo("enabled", def.pmSuspendToMem).close();
    if (def.pmSuspendToDisk) w.open("suspend-to-disk").attrYesNo("enabled", def.pmSuspendToDisk).close();
    w.close();
  }
  formatDevices(w, def, flags);
  w.close();
  return w.take();
}

}  // namespace splitvirt::conf
