// Host CPU model decoding, following libvirt 9.0's cpu_x86.c (x86Decode
// against the cpu_map XML files) and virhostcpu.c (CPUID, MSRs, TSC).
#include "host/hostinfo.hpp"
#include "host/sysfs_util.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

namespace splitvirt::host {
namespace {

using detail::hostArch;
using detail::readFile;
using detail::toNum;
using detail::trim;

// ---- CPUID / cpu_map ------------------------------------------------------------

using DataKey = std::tuple<int, uint32_t, uint32_t>;  // (0=cpuid/1=msr, eax_in|index, ecx_in)
using Regs = std::array<uint32_t, 4>;                 // eax ebx ecx edx (msr: eax edx 0 0)
using CpuData = std::map<DataKey, Regs>;

bool isZero(const Regs& r) { return r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0; }

bool isSubset(const CpuData& data, const CpuData& sub) {
  for (auto& [k, m] : sub) {
    if (isZero(m)) continue;
    auto it = data.find(k);
    if (it == data.end()) return false;
    for (int i = 0; i < 4; ++i)
      if ((it->second[i] & m[i]) != m[i]) return false;
  }
  return true;
}

void subtract(CpuData& data, const CpuData& sub) {
  for (auto& [k, r] : data) {
    auto it = sub.find(k);
    if (it == sub.end()) continue;
    for (int i = 0; i < 4; ++i) r[i] &= ~it->second[i];
  }
}

void addData(CpuData& data, const CpuData& add) {
  for (auto& [k, r] : add) {
    auto& d = data[k];
    for (int i = 0; i < 4; ++i) d[i] |= r[i];
  }
}

struct XmlTag {
  enum Kind { Open, Close, Empty } kind = Open;
  std::string name;
  std::map<std::string, std::string> attrs;
};

// Enough XML for libvirt's cpu_map files: tags and attributes, no text.
std::vector<XmlTag> scanTags(std::string_view s) {
  std::vector<XmlTag> out;
  size_t i = 0;
  while ((i = s.find('<', i)) != std::string_view::npos) {
    if (s.substr(i, 4) == "<!--") {
      auto e = s.find("-->", i);
      if (e == std::string_view::npos) break;
      i = e + 3;
      continue;
    }
    if (s.substr(i, 2) == "<?" || s.substr(i, 2) == "<!") {
      auto e = s.find('>', i);
      if (e == std::string_view::npos) break;
      i = e + 1;
      continue;
    }
    auto e = s.find('>', i);
    if (e == std::string_view::npos) break;
    std::string_view body = s.substr(i + 1, e - i - 1);
    i = e + 1;
    XmlTag t;
    if (!body.empty() && body.front() == '/') {
      t.kind = XmlTag::Close;
      body.remove_prefix(1);
    } else if (!body.empty() && body.back() == '/') {
      t.kind = XmlTag::Empty;
      body.remove_suffix(1);
    }
    size_t p = 0;
    while (p < body.size() && !std::isspace(static_cast<unsigned char>(body[p]))) ++p;
    t.name = std::string(body.substr(0, p));
    while (p < body.size()) {
      while (p < body.size() && std::isspace(static_cast<unsigned char>(body[p]))) ++p;
      auto eq = body.find('=', p);
      if (eq == std::string_view::npos) break;
      std::string key(trim(body.substr(p, eq - p)));
      p = eq + 1;
      while (p < body.size() && std::isspace(static_cast<unsigned char>(body[p]))) ++p;
      if (p >= body.size()) break;
      char q = body[p];
      auto end = body.find(q, p + 1);
      if (end == std::string_view::npos) break;
      t.attrs[key] = std::string(body.substr(p + 1, end - p - 1));
      p = end + 1;
    }
    out.push_back(std::move(t));
  }
  return out;
}

struct Signature {
  unsigned family = 0, model = 0;
  std::vector<unsigned> steppings;  // empty: any
};

struct CpuModel {
  std::string name;
  std::string vendor;
  bool decodeHost = true;
  std::vector<Signature> signatures;
  CpuData data;
};

struct CpuMap {
  std::vector<std::pair<std::string, CpuData>> vendors;  // name -> leaf 0 data
  std::vector<std::pair<std::string, CpuData>> features;
  std::vector<CpuModel> models;

  const CpuData* feature(const std::string& n) const {
    for (auto& [fn, d] : features)
      if (fn == n) return &d;
    return nullptr;
  }
};

uint32_t hexAttr(const std::map<std::string, std::string>& a, const char* k) {
  auto it = a.find(k);
  if (it == a.end()) return 0;
  return toNum<uint32_t>(it->second, 0).value_or(0);
}

void loadMapFile(const std::string& file, CpuMap& map) {
  auto text = readFile(file, 4 << 20);
  if (!text) return;
  auto tags = scanTags(*text);
  CpuModel* model = nullptr;
  CpuData* feature = nullptr;
  for (auto& t : tags) {
    if (t.kind == XmlTag::Close) {
      if (t.name == "model") model = nullptr;
      if (t.name == "feature") feature = nullptr;
      continue;
    }
    auto attr = [&](const char* k) {
      auto it = t.attrs.find(k);
      return it == t.attrs.end() ? std::string() : it->second;
    };
    if (model) {
      if (t.name == "model") {  // inherit from a parent model
        for (auto& m : map.models)
          if (m.name == attr("name")) {
            model->vendor = m.vendor;
            model->signatures = m.signatures;
            model->data = m.data;
          }
      } else if (t.name == "decode") {
        model->decodeHost = attr("host") != "off";
      } else if (t.name == "vendor") {
        model->vendor = attr("name");
      } else if (t.name == "signature") {
        Signature s;
        s.family = toNum<unsigned>(attr("family")).value_or(0);
        s.model = toNum<unsigned>(attr("model")).value_or(0);
        if (t.attrs.count("stepping"))
          s.steppings = parseCpuList(attr("stepping")).value_or(std::vector<unsigned>{});
        model->signatures.push_back(std::move(s));
      } else if (t.name == "feature") {
        if (auto* f = map.feature(attr("name"))) addData(model->data, *f);
      }
      continue;
    }
    if (feature) {
      if (t.name == "cpuid") {
        Regs r{hexAttr(t.attrs, "eax"), hexAttr(t.attrs, "ebx"), hexAttr(t.attrs, "ecx"), hexAttr(t.attrs, "edx")};
        addData(*feature, {{{0, hexAttr(t.attrs, "eax_in"), hexAttr(t.attrs, "ecx_in")}, r}});
      } else if (t.name == "msr") {
        Regs r{hexAttr(t.attrs, "eax"), hexAttr(t.attrs, "edx"), 0, 0};
        addData(*feature, {{{1, hexAttr(t.attrs, "index"), 0}, r}});
      }
      continue;
    }
    if (t.name == "vendor") {
      std::string s = attr("string");
      if (s.size() != 12) continue;
      auto word = [&](size_t off) {
        uint32_t w = 0;
        for (int b = 3; b >= 0; --b) w = (w << 8) | static_cast<unsigned char>(s[off + static_cast<size_t>(b)]);
        return w;
      };
      // CPUID 0: vendor string in EBX, EDX, ECX.
      map.vendors.push_back({attr("name"), {{{0, 0, 0}, Regs{0, word(0), word(8), word(4)}}}});
    } else if (t.name == "feature" && t.kind == XmlTag::Open) {
      map.features.push_back({attr("name"), {}});
      feature = &map.features.back().second;
    } else if (t.name == "model" && t.kind == XmlTag::Open) {
      map.models.push_back(CpuModel{});
      model = &map.models.back();
      model->name = attr("name");
    }
  }
}

std::optional<CpuMap> loadCpuMap(const std::string& dir) {
  auto index = readFile(dir + "/index.xml");
  if (!index) return std::nullopt;
  CpuMap map;
  bool inX86 = false;
  for (auto& t : scanTags(*index)) {
    if (t.name == "arch") {
      inX86 = t.kind == XmlTag::Open && t.attrs["name"] == "x86";
      continue;
    }
    if (inX86 && t.name == "include") {
      // Pointers into features/models are taken while loading one file only,
      // so reallocation between files is harmless.
      loadMapFile(dir + "/" + t.attrs["filename"], map);
    }
  }
  if (map.models.empty()) return std::nullopt;
  return map;
}

std::vector<std::string> toFeatures(CpuData& data, const CpuMap& map) {
  std::vector<std::string> out;
  for (auto& [name, fd] : map.features) {
    bool nonEmpty = std::any_of(fd.begin(), fd.end(), [](auto& kv) { return !isZero(kv.second); });
    if (nonEmpty && isSubset(data, fd)) {
      subtract(data, fd);
      out.push_back(name);
    }
  }
  return out;
}

bool hasSignature(const CpuModel& m, unsigned family, unsigned model, unsigned stepping) {
  for (auto& s : m.signatures)
    if (s.family == family && s.model == model &&
        (s.steppings.empty() || std::find(s.steppings.begin(), s.steppings.end(), stepping) != s.steppings.end()))
      return true;
  return false;
}

#if defined(__x86_64__) || defined(__i386__)
Regs cpuid(uint32_t leaf, uint32_t sub) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(leaf, sub, a, b, c, d);
  return {a, b, c, d};
}

// The CPUID leaves libvirt's cpuidSet() collects, restricted to the ones its
// map refers to (the others cannot influence decoding).
std::vector<CpuidLeaf> collectCpuid(const CpuMap* map) {
  std::set<std::pair<uint32_t, uint32_t>> wanted{{0, 0}, {1, 0}, {0x80000000, 0}};
  if (map)
    for (auto& [n, fd] : map->features)
      for (auto& [k, r] : fd)
        if (std::get<0>(k) == 0) wanted.insert({std::get<1>(k), std::get<2>(k)});
  uint32_t maxBasic = cpuid(0, 0)[0];
  uint32_t maxExt = cpuid(0x80000000, 0)[0];
  uint32_t max7 = maxBasic >= 7 ? cpuid(7, 0)[0] : 0;
  Regs l7 = maxBasic >= 7 ? cpuid(7, 0) : Regs{};
  std::vector<CpuidLeaf> out;
  for (auto [leaf, sub] : wanted) {
    bool ok = leaf < 0x80000000 ? leaf <= maxBasic && leaf < 0x40000000 : leaf <= maxExt;
    if (leaf == 7 && sub > max7) ok = false;
    if (leaf == 0x12 && !(l7[1] & (1u << 2))) ok = false;   // sgx
    if (leaf == 0x14 && !(l7[1] & (1u << 25))) ok = false;  // intel-pt
    if (leaf == 0xf && sub > 0 && !(cpuid(0xf, 0)[3] & (1u << 1))) ok = false;
    if (!ok) continue;
    Regs r = cpuid(leaf, sub);
    out.push_back({leaf, sub, r[0], r[1], r[2], r[3]});
  }
  return out;
}
#else
std::vector<CpuidLeaf> collectCpuid(const CpuMap*) { return {}; }
#endif

std::optional<uint64_t> readMsr(uint32_t index) {
  int fd = ::open("/dev/cpu/0/msr", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    uint64_t v = 0;
    ssize_t rc = ::pread(fd, &v, sizeof v, index);
    int err = errno;
    ::close(fd);
    if (rc == sizeof v) return v;
    if (rc < 0 && err == EIO) return std::nullopt;
  }
  fd = ::open("/dev/kvm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // struct kvm_msrs ends in a flexible array: lay out header + one entry by hand.
  alignas(struct kvm_msrs) unsigned char buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)] = {};
  auto* msrs = reinterpret_cast<struct kvm_msrs*>(buf);
  auto* entry = reinterpret_cast<struct kvm_msr_entry*>(buf + sizeof(struct kvm_msrs));
  msrs->nmsrs = 1;
  entry->index = index;
  int rc = ::ioctl(fd, KVM_GET_MSRS, buf);
  ::close(fd);
  if (rc != 1) return std::nullopt;
  return entry->data;
}

struct Tsc {
  uint64_t hz = 0;
  bool scaling = false;
};

std::optional<Tsc> kvmTsc() {
  int kvm = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) return std::nullopt;
  std::optional<Tsc> out;
  int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm >= 0) {
    int vcpu = ::ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu >= 0) {
      int khz = ::ioctl(vcpu, KVM_GET_TSC_KHZ);
      int sc = ::ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL);
      if (khz > 0 && sc >= 0) out = Tsc{static_cast<uint64_t>(khz) * 1000ULL, sc > 0};
      ::close(vcpu);
    }
    ::close(vm);
  }
  ::close(kvm);
  return out;
}

}  // namespace

// ---- decoding ---------------------------------------------------------------------

std::optional<DecodedCpu> decodeX86Cpu(const std::vector<CpuidLeaf>& cpuidData, const std::vector<MsrValue>& msrs,
                                       const std::string& cpuMapDir) {
  auto map = loadCpuMap(cpuMapDir);
  if (!map) return std::nullopt;
  CpuData data;
  for (auto& l : cpuidData) data[{0, l.eaxIn, l.ecxIn}] = Regs{l.eax, l.ebx, l.ecx, l.edx};
  for (auto& m : msrs) data[{1, m.index, 0}] = Regs{m.eax, m.edx, 0, 0};

  DecodedCpu out;
  // x86DataToVendor: match and clear the vendor bits.
  for (auto& [name, vd] : map->vendors) {
    if (isSubset(data, vd)) {
      out.vendor = name;
      subtract(data, vd);
      break;
    }
  }
  if (auto it = data.find({0, 1, 0}); it != data.end()) {
    uint32_t eax = it->second[0];
    out.family = ((eax >> 20) & 0xff) + ((eax >> 8) & 0xf);
    out.modelNumber = ((eax >> 12) & 0xf0) + ((eax >> 4) & 0xf);
    out.stepping = eax & 0xf;
  }
  // x86DataFilterTSX: broken TSX on some Intel parts.
  if (out.vendor == "Intel" && out.family == 6 &&
      ((out.modelNumber == 63 && out.stepping < 4) || out.modelNumber == 60 || out.modelNumber == 69 ||
       out.modelNumber == 70)) {
    for (const char* f : {"hle", "rtm"})
      if (auto* fd = map->feature(f)) subtract(data, *fd);
  }

  const CpuModel* best = nullptr;
  std::vector<std::string> bestFeatures;
  for (auto it = map->models.rbegin(); it != map->models.rend(); ++it) {
    const CpuModel& cand = *it;
    if (!out.vendor.empty() && !cand.vendor.empty() && out.vendor != cand.vendor) continue;
    if (!cand.decodeHost) continue;
    CpuData extra = data, missing = cand.data;
    subtract(extra, cand.data);
    subtract(missing, data);
    auto required = toFeatures(extra, *map);
    auto disabled = toFeatures(missing, *map);
    if (!disabled.empty()) continue;  // a host CPU model may not need disabled features
    bool take = false;
    if (!best) {
      take = true;
    } else {
      bool curSig = hasSignature(*best, out.family, out.modelNumber, out.stepping);
      bool candSig = hasSignature(cand, out.family, out.modelNumber, out.stepping);
      if (curSig && !candSig)
        take = false;
      else if (bestFeatures.size() > required.size())
        take = true;
      else if (candSig && !curSig)
        take = true;
    }
    if (take) {
      best = &cand;
      bestFeatures = std::move(required);
    }
  }
  if (!best) return std::nullopt;
  out.model = best->name;
  out.features = std::move(bestFeatures);
  return out;
}

// ---- host CPU -----------------------------------------------------------------------

HostCpu readHostCpu() {
  HostCpu c;
  c.arch = hostArch();
  NodeInfo ni = readNodeInfo();
  c.sockets = ni.sockets;
  c.dies = 1;
  c.cores = ni.cores;
  c.threads = ni.threads;
  c.pageSizesKiB = pageSizesKiB();
  if (c.arch != "x86_64" && c.arch != "i686") return c;

  auto ci = readFile("/proc/cpuinfo", 4 << 20).value_or("");
  auto facts = parseCpuInfo(ci);
  c.microcode = facts.microcode;
  c.physAddrBits = facts.physAddrBits;

  auto map = loadCpuMap("/usr/share/libvirt/cpu_map");
  auto leaves = collectCpuid(map ? &*map : nullptr);
  std::vector<MsrValue> msrs;
  for (auto& l : leaves)
    if (l.eaxIn == 7 && l.ecxIn == 0 && (l.edx & (1u << 29)))  // arch-capabilities
      if (auto v = readMsr(0x10a))
        msrs.push_back({0x10a, static_cast<uint32_t>(*v & 0xffffffffu), static_cast<uint32_t>(*v >> 32)});
  if (auto d = decodeX86Cpu(leaves, msrs)) {
    c.vendor = d->vendor;
    c.model = d->model;
    c.family = d->family;
    c.modelNumber = d->modelNumber;
    c.stepping = d->stepping;
    c.features = d->features;
  } else {  // no cpu_map: at least vendor and signature
    for (auto& l : leaves) {
      if (l.eaxIn == 0 && l.ecxIn == 0) {
        char v[13] = {};
        std::memcpy(v, &l.ebx, 4);
        std::memcpy(v + 4, &l.edx, 4);
        std::memcpy(v + 8, &l.ecx, 4);
        std::string_view vs(v, 12);
        c.vendor = vs == "GenuineIntel" ? "Intel" : vs == "AuthenticAMD" ? "AMD" : vs == "HygonGenuine" ? "Hygon" : "";
      }
      if (l.eaxIn == 1 && l.ecxIn == 0) {
        c.family = ((l.eax >> 20) & 0xff) + ((l.eax >> 8) & 0xf);
        c.modelNumber = ((l.eax >> 12) & 0xf0) + ((l.eax >> 4) & 0xf);
        c.stepping = l.eax & 0xf;
      }
    }
  }
  bool invtsc = std::any_of(leaves.begin(), leaves.end(),
                            [](auto& l) { return l.eaxIn == 0x80000007 && (l.edx & (1u << 8)); });
  if (invtsc)
    if (auto t = kvmTsc()) {
      c.tscFrequency = t->hz;
      c.tscScaling = t->scaling;
    }
  return c;
}

}  // namespace splitvirt::host
