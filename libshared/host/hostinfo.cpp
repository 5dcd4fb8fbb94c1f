// Host facts, following libvirt 9.0's virhostcpu.c, virhostmem.c, virnuma.c,
// capabilities.c (caches, NUMA) and cpu_x86.c (host CPU model decoding).
#include "host/hostinfo.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

extern char** environ;

namespace splitvirt::host {
namespace {

std::string path(std::string_view root, std::string_view p) {
  std::string r(root);
  r += p;
  return r;
}

std::optional<std::string> readFile(const std::string& p, size_t maxBytes = 1 << 20) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return std::nullopt;
  std::string s;
  s.resize(maxBytes);
  f.read(s.data(), static_cast<std::streamsize>(maxBytes));
  s.resize(static_cast<size_t>(f.gcount()));
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

template <class T>
std::optional<T> toNum(std::string_view s, int base = 10) {
  s = trim(s);
  if (base == 0) {
    base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      s.remove_prefix(2);
    }
  }
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

template <class T>
std::optional<T> readNum(const std::string& p) {
  auto s = readFile(p, 4096);
  if (!s) return std::nullopt;
  return toNum<T>(*s);
}

bool isDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Numeric suffixes of entries named `prefix<N>` in dir, ascending.
std::vector<unsigned> listNumbered(const std::string& dir, std::string_view prefix) {
  std::vector<unsigned> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n.substr(0, prefix.size()) != prefix) continue;
    if (auto v = toNum<unsigned>(n.substr(prefix.size()))) out.push_back(*v);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string hostArch() {
  struct utsname u;
  if (::uname(&u) != 0) return "x86_64";
  std::string m = u.machine;
  if (m == "i386" || m == "i486" || m == "i586") return "i686";
  if (m == "amd64") return "x86_64";
  return m;
}

// ---- NUMA (libnuma semantics) -------------------------------------------------

bool numaAvailable(std::string_view root) {
  if (root.empty()) {
    // numa_available(): get_mempolicy() must not fail with ENOSYS.
    if (::syscall(SYS_get_mempolicy, nullptr, nullptr, 0UL, nullptr, 0UL) < 0 && errno == ENOSYS)
      return false;
  }
  return !listNumbered(path(root, "/sys/devices/system/node"), "node").empty();
}

std::vector<unsigned> numaNodes(std::string_view root) {
  return listNumbered(path(root, "/sys/devices/system/node"), "node");
}

struct MemPair {
  uint64_t totalKiB = 0, freeKiB = 0;
};

std::optional<MemPair> nodeMemory(std::string_view root, unsigned node) {
  auto s = readFile(path(root, "/sys/devices/system/node/node" + std::to_string(node) + "/meminfo"));
  if (!s) return std::nullopt;
  auto t = parseMeminfoField(*s, "MemTotal");
  auto f = parseMeminfoField(*s, "MemFree");
  if (!t || !f) return std::nullopt;
  return MemPair{*t, *f};
}

// virHostMemGetInfo: NUMA nodes summed, else physmem (here: /proc/meminfo).
MemPair hostMemory(std::string_view root) {
  MemPair m;
  if (numaAvailable(root)) {
    bool any = false;
    for (unsigned n : numaNodes(root)) {
      if (auto nm = nodeMemory(root, n)) {
        m.totalKiB += nm->totalKiB;
        m.freeKiB += nm->freeKiB;
        any = true;
      }
    }
    if (any) return m;
  }
  if (root.empty()) {
    long pages = ::sysconf(_SC_PHYS_PAGES), avail = ::sysconf(_SC_AVPHYS_PAGES), ps = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && ps > 0) {
      m.totalKiB = static_cast<uint64_t>(pages) * static_cast<uint64_t>(ps) / 1024;
      m.freeKiB = avail > 0 ? static_cast<uint64_t>(avail) * static_cast<uint64_t>(ps) / 1024 : 0;
      return m;
    }
  }
  if (auto s = readFile(path(root, "/proc/meminfo"))) {
    m.totalKiB = parseMeminfoField(*s, "MemTotal").value_or(0);
    m.freeKiB = parseMeminfoField(*s, "MemFree").value_or(0);
  }
  return m;
}

std::vector<unsigned> readCpuListFile(const std::string& p) {
  auto s = readFile(p, 65536);
  if (!s) return {};
  return parseCpuList(*s).value_or(std::vector<unsigned>{});
}

std::string cpuDir(std::string_view root, unsigned cpu) {
  return path(root, "/sys/devices/system/cpu/cpu" + std::to_string(cpu));
}

int topoValue(std::string_view root, unsigned cpu, const char* file) {
  auto v = readNum<long>(cpuDir(root, cpu) + "/topology/" + file);
  if (!v || *v < 0) return 0;
  return static_cast<int>(*v);
}

int threadSiblings(std::string_view root, unsigned cpu) {
  auto s = readFile(cpuDir(root, cpu) + "/topology/thread_siblings_list", 65536);
  if (!s) return 1;
  auto l = parseCpuList(*s);
  return l && !l->empty() ? static_cast<int>(l->size()) : 1;
}

std::vector<unsigned> presentCpus(std::string_view root) {
  auto v = readCpuListFile(path(root, "/sys/devices/system/cpu/present"));
  if (v.empty()) {
    long n = ::sysconf(_SC_NPROCESSORS_CONF);
    for (long i = 0; i < std::max(n, 1L); ++i) v.push_back(static_cast<unsigned>(i));
  }
  return v;
}

struct NodeParse {
  int cpus = 0, sockets = 0, cores = 0, threads = 0, offline = 0;
};

// virHostCPUParseNode over the cpuN entries of `dir`.
NodeParse parseNode(std::string_view root, const std::string& dir, const std::set<unsigned>& present,
                    const std::set<unsigned>& online) {
  NodeParse r;
  std::set<unsigned> nodeCpus;
  std::set<int> sockets;
  for (unsigned cpu : listNumbered(dir, "cpu")) {
    if (!present.count(cpu)) continue;
    nodeCpus.insert(cpu);
    if (!online.count(cpu)) continue;
    sockets.insert(topoValue(root, cpu, "physical_package_id"));
  }
  std::map<int, std::set<int>> cores;
  for (unsigned cpu : nodeCpus) {
    if (!online.count(cpu)) {
      r.offline++;
      continue;
    }
    r.cpus++;
    cores[topoValue(root, cpu, "physical_package_id")].insert(topoValue(root, cpu, "core_id"));
    r.threads = std::max(r.threads, threadSiblings(root, cpu));
  }
  r.sockets = static_cast<int>(sockets.size());
  for (auto& [s, c] : cores) r.cores = std::max(r.cores, static_cast<int>(c.size()));
  return r;
}

// ---- a tiny subprocess helper ---------------------------------------------------

struct RunResult {
  int status = -1;
  std::string out;
};

std::optional<RunResult> runCapture(const std::vector<std::string>& argv, int timeoutMs) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return std::nullopt;
  }
  RunResult res;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  bool timedOut = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    struct pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    res.out.append(buf, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  if (timedOut) ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) return std::nullopt;
  res.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return res;
}

bool inPath(const std::string& prog) {
  const char* p = ::getenv("PATH");
  std::string_view sv = p ? p : "/usr/sbin:/usr/bin:/sbin:/bin";
  while (!sv.empty()) {
    auto c = sv.find(':');
    std::string dir(sv.substr(0, c));
    if (!dir.empty() && ::access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
    if (c == std::string_view::npos) break;
    sv.remove_prefix(c + 1);
  }
  return false;
}

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

// ---- parsers ----------------------------------------------------------------------

CpuInfoFacts parseCpuInfo(std::string_view text) {
  CpuInfoFacts f;
  // virHostCPUGetMicrocodeVersion reads only the first 4 KiB.
  std::string_view head = text.substr(0, 4096);
  if (auto p = head.find("microcode"); p != std::string_view::npos) {
    auto c = head.find(':', p);
    if (c != std::string_view::npos) {
      auto line = head.substr(c + 1);
      line = line.substr(0, line.find('\n'));
      f.microcode = toNum<unsigned>(line, 0).value_or(0);
    }
  }
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, colon));
    std::string_view val = trim(line.substr(colon + 1));
    if (key == "cpu MHz" && line.substr(0, 7) == "cpu MHz") {
      // virHostCPUParseFrequencyString: integer part; the last line wins.
      size_t n = 0;
      while (n < val.size() && std::isdigit(static_cast<unsigned char>(val[n]))) ++n;
      if (n > 0 && (n == val.size() || val[n] == '.' || std::isspace(static_cast<unsigned char>(val[n]))))
        f.mhz = toNum<int>(val.substr(0, n)).value_or(f.mhz);
    } else if (key == "address sizes" && f.physAddrBits < 0) {
      size_t n = 0;
      while (n < val.size() && std::isdigit(static_cast<unsigned char>(val[n]))) ++n;
      if (n > 0 && val.substr(n).find("bits physical") != std::string_view::npos)
        f.physAddrBits = toNum<int>(val.substr(0, n)).value_or(-1);
    }
  }
  return f;
}

std::optional<std::vector<unsigned>> parseCpuList(std::string_view text) {
  text = trim(text);
  std::vector<unsigned> out;
  if (text.empty()) return out;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto dash = item.find('-');
    auto a = toNum<unsigned>(item.substr(0, dash));
    if (!a) return std::nullopt;
    unsigned b = *a;
    if (dash != std::string_view::npos) {
      auto bb = toNum<unsigned>(item.substr(dash + 1));
      if (!bb || *bb < *a) return std::nullopt;
      b = *bb;
    }
    for (unsigned i = *a; i <= b; ++i) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string formatCpuList(const std::vector<unsigned>& idsIn) {
  std::vector<unsigned> ids = idsIn;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::string out;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::optional<uint64_t> parseMeminfoField(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    // Per-node files prefix every line with "Node N ".
    if (line.substr(0, 5) == "Node ") {
      auto sp = line.find(' ', 5);
      if (sp == std::string_view::npos) continue;
      line = trim(line.substr(sp + 1));
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || trim(line.substr(0, colon)) != key) continue;
    std::string_view val = trim(line.substr(colon + 1));
    size_t n = 0;
    while (n < val.size() && std::isdigit(static_cast<unsigned char>(val[n]))) ++n;
    return toNum<uint64_t>(val.substr(0, n));
  }
  return std::nullopt;
}

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

// ---- node info / memory -----------------------------------------------------------

NodeInfo readNodeInfo(std::string_view root) {
  NodeInfo ni;
  ni.model = hostArch();
  ni.memoryKiB = hostMemory(root).totalKiB;
  if (auto ci = readFile(path(root, "/proc/cpuinfo"), 4 << 20)) ni.mhz = parseCpuInfo(*ci).mhz;

  auto pv = presentCpus(root);
  auto ov = readCpuListFile(path(root, "/sys/devices/system/cpu/online"));
  if (ov.empty()) ov = pv;
  std::set<unsigned> present(pv.begin(), pv.end()), online(ov.begin(), ov.end());

  int offline = 0;
  bool done = false;
  std::string nodeRoot = path(root, "/sys/devices/system/node");
  if (isDir(nodeRoot)) {
    for (unsigned n : listNumbered(nodeRoot, "node")) {
      ni.nodes++;
      auto r = parseNode(root, nodeRoot + "/node" + std::to_string(n), present, online);
      offline += r.offline;
      if (!r.cpus) continue;
      ni.cpus += r.cpus;
      ni.sockets = std::max(ni.sockets, r.sockets);
      ni.cores = std::max(ni.cores, r.cores);
      ni.threads = std::max(ni.threads, r.threads);
    }
    done = ni.cpus && ni.nodes;
  }
  if (!done) {
    offline = 0;
    auto r = parseNode(root, path(root, "/sys/devices/system/cpu"), present, online);
    ni.nodes = 1;
    ni.cpus = r.cpus;
    ni.sockets = r.sockets;
    ni.cores = r.cores;
    ni.threads = r.threads;
    offline = r.offline;
  }
  if (ni.cpus == 0) {  // libvirt errors out; report something sane instead
    ni.cpus = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  }
  if (ni.nodes * ni.sockets * ni.cores * ni.threads != ni.cpus + offline) {
    ni.nodes = 1;
    ni.sockets = 1;
    ni.cores = ni.cpus + offline;
    ni.threads = 1;
  }
  return ni;
}

std::string hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  std::string h = buf;
  if (h.rfind("localhost", 0) == 0 || h.find('.') != std::string::npos) return h;
  struct addrinfo hints{};
  hints.ai_flags = AI_CANONNAME | AI_CANONIDN;
  hints.ai_family = AF_UNSPEC;
  struct addrinfo* info = nullptr;
  if (::getaddrinfo(h.c_str(), nullptr, &hints, &info) != 0 || !info) return h;
  std::string out = h;
  if (info->ai_canonname && std::string_view(info->ai_canonname).rfind("localhost", 0) != 0)
    out = info->ai_canonname;
  ::freeaddrinfo(info);
  return out;
}

uint64_t freeMemoryBytes(std::string_view root) { return hostMemory(root).freeKiB * 1024; }

std::vector<uint64_t> cellsFreeMemory(int start, int max, std::string_view root) {
  std::vector<uint64_t> out;
  if (start < 0 || max <= 0) return out;
  if (!numaAvailable(root)) {
    if (start == 0) out.push_back(freeMemoryBytes(root));
    return out;
  }
  auto nodes = numaNodes(root);
  int maxNode = nodes.empty() ? 0 : static_cast<int>(nodes.back());
  for (int n = start; n <= maxNode && static_cast<int>(out.size()) < max; ++n) {
    auto m = nodeMemory(root, static_cast<unsigned>(n));
    out.push_back(m ? m->freeKiB * 1024 : 0);
  }
  return out;
}

std::optional<MemoryStats> readMemoryStats(int cell, std::string_view root) {
  std::optional<std::string> text;
  if (cell == -1) {
    text = readFile(path(root, "/proc/meminfo"));
  } else {
    if (cell < 0) return std::nullopt;
    text = readFile(path(root, "/sys/devices/system/node/node" + std::to_string(cell) + "/meminfo"));
  }
  if (!text) return std::nullopt;
  MemoryStats s;
  s.totalKiB = parseMeminfoField(*text, "MemTotal").value_or(0);
  s.freeKiB = parseMeminfoField(*text, "MemFree").value_or(0);
  s.buffersKiB = parseMeminfoField(*text, "Buffers").value_or(0);
  s.cachedKiB = parseMeminfoField(*text, "Cached").value_or(0);
  return s;
}

int hostCpuCount(std::string_view root) {
  auto p = readCpuListFile(path(root, "/sys/devices/system/cpu/present"));
  if (!p.empty()) return static_cast<int>(p.back()) + 1;
  return static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_CONF)));
}

std::vector<unsigned> onlineCpus(std::string_view root) {
  return readCpuListFile(path(root, "/sys/devices/system/cpu/online"));
}

int kvmMaxVcpus() {
  int fd = ::open("/dev/kvm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = ::ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (r <= 0) r = ::ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
  if (r <= 0) r = 4;
  ::close(fd);
  return r;
}

bool kvmAvailable() { return ::access("/dev/kvm", R_OK | W_OK) == 0; }

// ---- host CPU -----------------------------------------------------------------------

std::vector<unsigned> pageSizesKiB(std::string_view root) {
  std::vector<unsigned> out;
  long ps = ::sysconf(_SC_PAGESIZE);
  unsigned sys = ps > 0 ? static_cast<unsigned>(ps / 1024) : 4;
  std::vector<unsigned> huge;
  if (DIR* d = ::opendir(path(root, "/sys/kernel/mm/hugepages").c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string_view n(e->d_name);
      if (n.rfind("hugepages-", 0) != 0 || n.size() < 13 || n.substr(n.size() - 2) != "kB") continue;
      if (auto v = toNum<unsigned>(n.substr(10, n.size() - 12))) huge.push_back(*v);
    }
    ::closedir(d);
  }
  std::sort(huge.begin(), huge.end());
  out.push_back(sys);
  for (unsigned h : huge)
    if (h != sys) out.push_back(h);
  return out;
}

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

// ---- NUMA topology / caches / misc ------------------------------------------------------

std::vector<NumaCell> readNumaTopology(std::string_view root) {
  std::vector<NumaCell> cells;
  auto pv = presentCpus(root);
  auto ov = readCpuListFile(path(root, "/sys/devices/system/cpu/online"));
  std::set<unsigned> online(ov.begin(), ov.end());
  auto fillCpu = [&](unsigned id) {
    NumaCpu cpu;
    cpu.id = id;
    cpu.online = online.empty() || online.count(id);
    if (cpu.online) {
      cpu.socketId = topoValue(root, id, "physical_package_id");
      cpu.dieId = topoValue(root, id, "die_id");
      cpu.coreId = topoValue(root, id, "core_id");
      auto sib = readCpuListFile(cpuDir(root, id) + "/topology/thread_siblings_list");
      cpu.siblings = formatCpuList(sib.empty() ? std::vector<unsigned>{id} : sib);
    }
    return cpu;
  };
  auto pages = pageSizesKiB(root);
  unsigned sysPage = pages.empty() ? 4 : pages.front();

  if (!numaAvailable(root)) {  // virCapabilitiesHostNUMAInitFake
    NumaCell cell;
    cell.memoryKiB = hostMemory(root).totalKiB;
    for (unsigned id : ov.empty() ? pv : ov) cell.cpus.push_back(fillCpu(id));
    cells.push_back(std::move(cell));
    return cells;
  }
  auto nodes = numaNodes(root);
  for (unsigned n : nodes) {
    std::string nd = path(root, "/sys/devices/system/node/node" + std::to_string(n));
    NumaCell cell;
    cell.id = static_cast<int>(n);
    auto mem = nodeMemory(root, n);
    cell.memoryKiB = mem ? mem->totalKiB : 0;
    for (unsigned ps : pages) {
      NumaPages p;
      p.sizeKiB = ps;
      if (ps == sysPage) {
        p.count = cell.memoryKiB / ps;
      } else {
        p.count = readNum<uint64_t>(nd + "/hugepages/hugepages-" + std::to_string(ps) + "kB/nr_hugepages").value_or(0);
      }
      cell.pages.push_back(p);
    }
    if (auto dist = readFile(nd + "/distance")) {
      std::istringstream is(*dist);
      int v;
      size_t i = 0;
      while (is >> v && i < nodes.size()) {
        if (v) cell.distances.push_back({static_cast<int>(nodes[i]), v});
        ++i;
      }
    }
    std::vector<unsigned> ids = readCpuListFile(nd + "/cpulist");
    if (ids.empty()) ids = listNumbered(nd, "cpu");
    for (unsigned id : ids) cell.cpus.push_back(fillCpu(id));
    cells.push_back(std::move(cell));
  }
  return cells;
}

std::vector<CacheBank> readCacheBanks(std::string_view root) {
  std::vector<CacheBank> banks;
  auto online = readCpuListFile(path(root, "/sys/devices/system/cpu/online"));
  for (unsigned cpu : online) {
    std::string dir = cpuDir(root, cpu) + "/cache";
    for (unsigned idx : listNumbered(dir, "index")) {
      std::string d = dir + "/index" + std::to_string(idx);
      auto level = readNum<unsigned>(d + "/level");
      if (!level || *level < 3) continue;
      CacheBank b;
      b.level = *level;
      auto id = readNum<unsigned>(d + "/id");
      if (!id) continue;
      b.id = *id;
      std::string type(trim(readFile(d + "/type", 64).value_or("")));
      if (type == "Unified")
        b.type = "both";
      else if (type == "Data")
        b.type = "data";
      else if (type == "Instruction")
        b.type = "code";
      else
        continue;
      std::string size(trim(readFile(d + "/size", 64).value_or("")));
      uint64_t mult = 1;
      if (!size.empty() && std::string("KkMmGg").find(size.back()) != std::string::npos) {
        char u = static_cast<char>(std::toupper(static_cast<unsigned char>(size.back())));
        mult = u == 'K' ? 1024ULL : u == 'M' ? 1024ULL * 1024 : 1024ULL * 1024 * 1024;
        size.pop_back();
      }
      b.sizeBytes = toNum<uint64_t>(size).value_or(0) * mult;
      b.cpus = formatCpuList(readCpuListFile(d + "/shared_cpu_list"));
      bool dup = std::any_of(banks.begin(), banks.end(), [&](const CacheBank& o) {
        return o.level == b.level && o.id == b.id && o.type == b.type && o.sizeBytes == b.sizeBytes &&
               o.cpus == b.cpus;
      });
      if (!dup) banks.push_back(std::move(b));
    }
  }
  std::stable_sort(banks.begin(), banks.end(), [](const CacheBank& a, const CacheBank& b) {
    if (a.level != b.level) return a.level < b.level;
    return a.id < b.id;
  });
  return banks;
}

bool hasIommu(std::string_view root) {
  DIR* d = ::opendir(path(root, "/sys/kernel/iommu_groups/").c_str());
  if (!d) return false;
  bool any = false;
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      any = true;
      break;
    }
  }
  ::closedir(d);
  return any;
}

std::vector<std::string> powerManagementTargets() {
  struct Target {
    const char* name;
    const char* logind;
    const char* pmutils;
  };
  static const Target targets[] = {{"suspend_mem", "CanSuspend", "--suspend"},
                                   {"suspend_disk", "CanHibernate", "--hibernate"},
                                   {"suspend_hybrid", "CanHybridSleep", "--suspend-hybrid"}};
  std::vector<std::string> out;
  // systemd-logind first (virSystemdCanSuspend & co), needs a system bus.
  bool logind = ::access("/run/dbus/system_bus_socket", F_OK) == 0 && inPath("busctl");
  if (logind) {
    bool answered = false;
    for (auto& t : targets) {
      auto r = runCapture({"busctl", "--system", "call", "org.freedesktop.login1", "/org/freedesktop/login1",
                           "org.freedesktop.login1.Manager", t.logind},
                          2000);
      if (!r || r->status != 0) continue;
      answered = true;
      if (r->out.find("\"yes\"") != std::string::npos) out.push_back(t.name);
    }
    if (answered) return out;
  }
  if (inPath("pm-is-supported")) {
    for (auto& t : targets) {
      auto r = runCapture({"pm-is-supported", t.pmutils}, 2000);
      if (r && r->status == 0) out.push_back(t.name);
    }
  }
  return out;
}

std::string hostUuid(std::string_view root) {
  auto valid = [](const std::array<unsigned char, 16>& u) {
    return !std::all_of(u.begin(), u.end(), [&](unsigned char c) { return c == u[0]; });
  };
  auto format = [](const std::array<unsigned char, 16>& u) {
    char buf[37];
    std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                  u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    return std::string(buf);
  };
  for (const char* p : {"/sys/devices/virtual/dmi/id/product_uuid", "/sys/class/dmi/id/product_uuid"}) {
    auto s = readFile(path(root, p), 36);
    if (!s || s->size() != 36) continue;
    std::array<unsigned char, 16> u{};
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; i < s->size() && ok; ++i) {
      char ch = (*s)[i];
      if (ch == '-') continue;
      if (!std::isxdigit(static_cast<unsigned char>(ch)) || n >= 32) {
        ok = false;
        break;
      }
      unsigned v = static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0'
                                                                                     : (std::tolower(ch) - 'a' + 10));
      u[n / 2] = static_cast<unsigned char>(n % 2 ? (u[n / 2] | v) : (v << 4));
      ++n;
    }
    if (ok && n == 32 && valid(u)) return format(u);
  }
  // virUUIDGenerate: random, RFC 4122 version 4; once per process.
  static std::once_flag once;
  static std::string generated;
  std::call_once(once, [&] {
    std::array<unsigned char, 16> u{};
    std::random_device rd;
    for (auto& b : u) b = static_cast<unsigned char>(rd() & 0xff);
    u[6] = static_cast<unsigned char>((u[6] & 0x0f) | 0x40);
    u[8] = static_cast<unsigned char>((u[8] & 0x3f) | 0x80);
    generated = format(u);
  });
  return generated;
}

}  // namespace splitvirt::host
