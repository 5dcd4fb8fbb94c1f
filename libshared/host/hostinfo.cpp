// Host facts, following libvirt 9.0's virhostcpu.c, virhostmem.c, virnuma.c
// and capabilities.c (caches, NUMA).  The host CPU model (cpu_x86.c) lives in
// cpu_model.cpp; the shared file/sysfs helpers in sysfs_util.hpp.
#include "host/hostinfo.hpp"
#include "host/sysfs_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

extern char** environ;

namespace splitvirt::host {
namespace {

using detail::hostArch;
using detail::isDir;
using detail::listNumbered;
using detail::path;
using detail::readFile;
using detail::readNum;
using detail::toNum;
using detail::trim;

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

// ---- page sizes ---------------------------------------------------------------------

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
