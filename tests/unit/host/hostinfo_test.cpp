#include "host/hostinfo.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace splitvirt;
using namespace splitvirt::host;
namespace fs = std::filesystem;

namespace {

// A throw-away directory tree standing in for / (procfs + sysfs files).
class FakeRoot {
 public:
  FakeRoot() {
    std::string tmpl = (fs::temp_directory_path() / "sv-hostinfo-XXXXXX").string();
    char* d = ::mkdtemp(tmpl.data());
    REQUIRE(d != nullptr);
    root_ = d;
  }
  ~FakeRoot() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void file(const std::string& rel, const std::string& content) {
    fs::path p = fs::path(root_) / rel.substr(1);
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  void dir(const std::string& rel) { fs::create_directories(fs::path(root_) / rel.substr(1)); }
  const std::string& path() const { return root_; }

 private:
  std::string root_;
};

// cpuN topology as sysfs shows it.
void addCpu(FakeRoot& r, unsigned id, int pkg, int core, const std::string& siblings, int node) {
  std::string d = "/sys/devices/system/cpu/cpu" + std::to_string(id) + "/topology/";
  r.file(d + "physical_package_id", std::to_string(pkg) + "\n");
  r.file(d + "core_id", std::to_string(core) + "\n");
  r.file(d + "die_id", "0\n");
  r.file(d + "thread_siblings_list", siblings + "\n");
  if (node >= 0) r.dir("/sys/devices/system/node/node" + std::to_string(node) + "/cpu" + std::to_string(id));
}

const char* kCpuInfo =
    "processor\t: 0\n"
    "vendor_id\t: AuthenticAMD\n"
    "cpu family\t: 25\n"
    "model\t\t: 17\n"
    "model name\t: AMD EPYC\n"
    "stepping\t: 1\n"
    "microcode\t: 0x1000065\n"
    "cpu MHz\t\t: 2596.138\n"
    "cache size\t: 1024 KB\n"
    "address sizes\t: 48 bits physical, 48 bits virtual\n"
    "power management:\n"
    "\n"
    "processor\t: 1\n"
    "vendor_id\t: AuthenticAMD\n"
    "microcode\t: 0x1000065\n"
    "cpu MHz\t\t: 2400.000\n"
    "address sizes\t: 48 bits physical, 48 bits virtual\n";

}  // namespace

TEST_CASE("parseCpuInfo: microcode, last cpu MHz, physical address bits") {
  auto f = parseCpuInfo(kCpuInfo);
  CHECK(f.microcode == 0x1000065u);
  CHECK(f.mhz == 2400);  // libvirt keeps the last "cpu MHz" line
  CHECK(f.physAddrBits == 48);

  auto none = parseCpuInfo("processor : 0\nflags : fpu\n");
  CHECK(none.microcode == 0);
  CHECK(none.mhz == 0);
  CHECK(none.physAddrBits == -1);
  // "cpu MHz dynamic" (s390) is not the x86 prefix... but a bad value is ignored.
  CHECK(parseCpuInfo("cpu MHz : abc\n").mhz == 0);
  CHECK(parseCpuInfo("cpu MHz : 1800\n").mhz == 1800);
}

TEST_CASE("cpu lists round-trip in virBitmapFormat style") {
  CHECK(*parseCpuList("0-3,5,7-8\n") == std::vector<unsigned>{0, 1, 2, 3, 5, 7, 8});
  CHECK(parseCpuList("")->empty());
  CHECK_FALSE(parseCpuList("3-1"));
  CHECK_FALSE(parseCpuList("x"));
  CHECK(formatCpuList({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8");
  CHECK(formatCpuList({4}) == "4");
  CHECK(formatCpuList({}) == "");
}

TEST_CASE("meminfo fields, with and without the per-node prefix") {
  CHECK(*parseMeminfoField("MemTotal:       24684084 kB\nMemFree:  1 kB\n", "MemFree") == 1u);
  CHECK(*parseMeminfoField("Node 0 MemTotal:        5466316 kB\nNode 0 MemFree:  4774448 kB\n", "MemTotal") ==
        5466316u);
  CHECK_FALSE(parseMeminfoField("MemTotal: 1 kB\n", "Buffers"));
}

TEST_CASE("node info, NUMA cells and caches from a fake sysfs tree") {
  FakeRoot r;
  r.file("/proc/cpuinfo", kCpuInfo);
  r.file("/proc/meminfo", "MemTotal: 8000000 kB\nMemFree: 7000000 kB\nBuffers: 100 kB\nCached: 200 kB\n");
  r.file("/sys/devices/system/cpu/present", "0-3\n");
  r.file("/sys/devices/system/cpu/online", "0-3\n");
  // 2 nodes, 1 socket each, 1 core with 2 threads each.
  addCpu(r, 0, 0, 0, "0-1", 0);
  addCpu(r, 1, 0, 0, "0-1", 0);
  addCpu(r, 2, 1, 0, "2-3", 1);
  addCpu(r, 3, 1, 0, "2-3", 1);
  r.file("/sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 4000000 kB\nNode 0 MemFree: 3000000 kB\n");
  r.file("/sys/devices/system/node/node1/meminfo", "Node 1 MemTotal: 4000004 kB\nNode 1 MemFree: 1000000 kB\n");
  r.file("/sys/devices/system/node/node0/cpulist", "0-1\n");
  r.file("/sys/devices/system/node/node1/cpulist", "2-3\n");
  r.file("/sys/devices/system/node/node0/distance", "10 21\n");
  r.file("/sys/devices/system/node/node1/distance", "21 10\n");
  r.file("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "16\n");
  r.file("/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
  r.dir("/sys/kernel/mm/hugepages/hugepages-2048kB");
  for (unsigned cpu = 0; cpu < 4; ++cpu) {
    std::string c = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cache/";
    r.file(c + "index0/level", "1\n");  // below libvirt's minimum level: skipped
    r.file(c + "index3/level", "3\n");
    r.file(c + "index3/id", cpu < 2 ? "0\n" : "1\n");
    r.file(c + "index3/type", "Unified\n");
    r.file(c + "index3/size", "32768K\n");
    r.file(c + "index3/shared_cpu_list", cpu < 2 ? "0-1\n" : "2-3\n");
  }

  auto ni = readNodeInfo(r.path());
  CHECK(ni.cpus == 4);
  CHECK(ni.mhz == 2400);
  CHECK(ni.nodes == 2);
  CHECK(ni.sockets == 1);
  CHECK(ni.cores == 1);
  CHECK(ni.threads == 2);
  CHECK(ni.memoryKiB == 8000004);
  CHECK(hostCpuCount(r.path()) == 4);
  CHECK(freeMemoryBytes(r.path()) == 4000000ULL * 1024);
  CHECK(cellsFreeMemory(1, 8, r.path()) == std::vector<uint64_t>{1000000ULL * 1024});

  auto stats = readMemoryStats(-1, r.path());
  REQUIRE(stats);
  CHECK(stats->totalKiB == 8000000);
  CHECK(stats->cachedKiB == 200);
  CHECK_FALSE(readMemoryStats(7, r.path()));

  auto cells = readNumaTopology(r.path());
  REQUIRE(cells.size() == 2);
  CHECK(cells[1].id == 1);
  CHECK(cells[1].memoryKiB == 4000004);
  CHECK(cells[0].distances == std::vector<std::pair<int, int>>{{0, 10}, {1, 21}});
  REQUIRE(cells[0].cpus.size() == 2);
  CHECK(cells[0].cpus[1].siblings == "0-1");
  CHECK(cells[1].cpus[0].socketId == 1);
  REQUIRE(cells[0].pages.size() >= 2);
  CHECK(cells[0].pages.back().sizeKiB == 2048);
  CHECK(cells[0].pages.back().count == 16);
  CHECK(cells[0].pages.front().count == 4000000 / cells[0].pages.front().sizeKiB);

  auto banks = readCacheBanks(r.path());
  REQUIRE(banks.size() == 2);
  CHECK(banks[0].level == 3);
  CHECK(banks[0].type == "both");
  CHECK(banks[0].sizeBytes == 32ULL * 1024 * 1024);
  CHECK(banks[1].cpus == "2-3");

  CHECK_FALSE(hasIommu(r.path()));
  r.dir("/sys/kernel/iommu_groups/0");
  CHECK(hasIommu(r.path()));
}

TEST_CASE("inconsistent topology is flattened the way libvirt lies about it") {
  FakeRoot r;
  r.file("/proc/cpuinfo", "cpu MHz : 1000.0\n");
  r.file("/proc/meminfo", "MemTotal: 1000 kB\nMemFree: 10 kB\n");
  r.file("/sys/devices/system/cpu/present", "0-2\n");
  r.file("/sys/devices/system/cpu/online", "0-2\n");
  addCpu(r, 0, 0, 0, "0-1", -1);
  addCpu(r, 1, 0, 0, "0-1", -1);
  addCpu(r, 2, 0, 1, "2", -1);  // 1 socket * 2 cores * 2 threads != 3 cpus
  auto ni = readNodeInfo(r.path());
  CHECK(ni.cpus == 3);
  CHECK(ni.nodes == 1);
  CHECK(ni.sockets == 1);
  CHECK(ni.cores == 3);
  CHECK(ni.threads == 1);
}

TEST_CASE("x86 CPU model decoding follows libvirt's cpu_map") {
  if (::access("/usr/share/libvirt/cpu_map/index.xml", R_OK) != 0) {
    MESSAGE("libvirt cpu_map not installed: skipped");
    return;
  }
  // CPUID of the reference VM (AMD EPYC family 25 model 17 under KVM), for
  // which libvirtd 9.0 reports model kvm64 with exactly these features.
  std::vector<CpuidLeaf> leaves{
      {0x0, 0, 0x0000001c, 0x68747541, 0x444d4163, 0x69746e65},
      {0x1, 0, 0x00a10f11, 0x00020800, 0xfffa3203, 0x178bfbff},
      {0x6, 0, 0x00000004, 0x00000000, 0x00000000, 0x00000000},
      {0x7, 0, 0x00000001, 0xf1bf07ab, 0x00405fc6, 0x00000010},
      {0x7, 1, 0x00000020, 0x00000000, 0x00000000, 0x00000000},
      {0xd, 1, 0x0000000f, 0x000009a8, 0x00001800, 0x00000000},
      {0x80000000, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65},
      {0x80000001, 0, 0x00a10f11, 0x40000000, 0x004003f3, 0x2fd3fbff},
      {0x80000007, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000100},
      {0x80000008, 0, 0x00303030, 0x50020005, 0x00007001, 0x00000000},
      {0x8000000a, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
  };
  auto d = decodeX86Cpu(leaves, {});
  REQUIRE(d);
  CHECK(d->vendor == "AMD");
  CHECK(d->model == "kvm64");
  CHECK(d->family == 25);
  CHECK(d->modelNumber == 17);
  CHECK(d->stepping == 1);
  const std::vector<std::string> expected{
      "vme",        "ht",         "pclmuldq",    "ssse3",      "fma",         "pcid",          "sse4.1",
      "sse4.2",     "x2apic",     "movbe",       "popcnt",     "tsc-deadline", "aes",          "xsave",
      "osxsave",    "avx",        "f16c",        "rdrand",     "hypervisor",  "arat",          "fsgsbase",
      "tsc_adjust", "bmi1",       "avx2",        "smep",       "bmi2",        "erms",          "invpcid",
      "avx512f",    "avx512dq",   "rdseed",      "adx",        "smap",        "avx512ifma",    "clflushopt",
      "clwb",       "avx512cd",   "sha-ni",      "avx512bw",   "avx512vl",    "avx512vbmi",    "umip",
      "avx512vbmi2", "gfni",      "vaes",        "vpclmulqdq", "avx512vnni",  "avx512bitalg",  "avx512-vpopcntdq",
      "rdpid",      "fsrm",       "avx512-bf16", "xsaveopt",   "xsavec",      "xgetbv1",       "xsaves",
      "mmxext",     "fxsr_opt",   "pdpe1gb",     "rdtscp",     "lahf_lm",     "cmp_legacy",    "cr8legacy",
      "abm",        "sse4a",      "misalignsse", "3dnowprefetch", "osvw",     "topoext",       "invtsc",
      "clzero",     "xsaveerptr"};
  CHECK(d->features == expected);

  CHECK_FALSE(decodeX86Cpu(leaves, {}, "/nonexistent/cpu_map"));
}

TEST_CASE("x86 decoding rules on a tiny private cpu_map") {
  FakeRoot r;
  r.file("/map/index.xml",
         "<cpus><arch name='x86'><include filename='v.xml'/><include filename='f.xml'/>"
         "<include filename='m.xml'/></arch><arch name='ppc64'><include filename='bad.xml'/></arch></cpus>");
  r.file("/map/v.xml", "<cpus><vendor name='Intel' string='GenuineIntel'/></cpus>");
  r.file("/map/f.xml",
         "<cpus>\n<!-- comment <feature name='x'> -->\n"
         "<feature name='fpu'><cpuid eax_in='0x01' edx='0x00000001'/></feature>\n"
         "<feature name='vme'><cpuid eax_in='0x01' edx='0x00000002'/></feature>\n"
         "<feature name='sse'><cpuid eax_in='0x01' edx='0x02000000'/></feature>\n"
         "<feature name='avx'><cpuid eax_in='0x01' ecx='0x10000000'/></feature>\n"
         "<feature name='hle'><cpuid eax_in='0x07' ecx_in='0x00' ebx='0x00000010'/></feature>\n"
         "</cpus>");
  r.file("/map/m.xml",
         "<cpus>"
         "<model name='base'><decode host='on' guest='on'/><feature name='fpu'/></model>"
         "<model name='big'><decode host='on' guest='on'/><model name='base'/><feature name='vme'/>"
         "<feature name='sse'/></model>"
         "<model name='sig'><decode host='on' guest='on'/><signature family='6' model='60'/>"
         "<vendor name='Intel'/><feature name='fpu'/></model>"
         "<model name='needsavx'><decode host='on' guest='on'/><model name='big'/><feature name='avx'/></model>"
         "<model name='nohost'><decode host='off' guest='on'/><model name='big'/></model>"
         "</cpus>");
  std::string map = r.path() + "/map";
  // GenuineIntel, family 6 model 60 (0x306c3), fpu vme sse, hle.
  std::vector<CpuidLeaf> leaves{{0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69},
                                {1, 0, 0x000306c3, 0, 0, 0x02000003},
                                {7, 0, 0, 0x10, 0, 0}};
  auto d = decodeX86Cpu(leaves, {}, map);
  REQUIRE(d);
  CHECK(d->vendor == "Intel");
  // needsavx would need a disabled feature, nohost is not for hosts; "sig"
  // matches the signature, so it wins over the shorter "big" list.
  CHECK(d->model == "sig");
  // hle is filtered out: family 6 model 60 has broken TSX.
  CHECK(d->features == std::vector<std::string>{"vme", "sse"});

  // Without the signature, the shortest feature list wins.
  leaves[1].eax = 0x000206a7;  // family 6 model 42
  d = decodeX86Cpu(leaves, {}, map);
  REQUIRE(d);
  CHECK(d->model == "big");
  CHECK(d->features == std::vector<std::string>{"hle"});
}

TEST_CASE("live host facts are sane") {
  auto ni = readNodeInfo();
  CHECK(ni.cpus >= 1);
  CHECK(ni.nodes >= 1);
  CHECK(ni.memoryKiB > 0);
  CHECK(ni.nodes * ni.sockets * ni.cores * ni.threads >= ni.cpus);
  CHECK_FALSE(hostname().empty());
  CHECK(hostCpuCount() >= ni.cpus);
  auto u = hostUuid();
  CHECK(u.size() == 36);
  CHECK(hostUuid() == u);  // stable within the process
  auto cpu = readHostCpu();
  CHECK_FALSE(cpu.arch.empty());
  CHECK(cpu.dies == 1);
  CHECK(cpu.sockets == ni.sockets);
  REQUIRE_FALSE(cpu.pageSizesKiB.empty());
  CHECK(std::is_sorted(cpu.pageSizesKiB.begin(), cpu.pageSizesKiB.end()));
}
