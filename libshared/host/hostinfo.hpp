// Host facts as libvirt 9.0 reports them: virNodeGetInfo, hostname, free
// memory, NUMA topology, caches, host CPU (decoded with libvirt's CPU map),
// host UUID.  Every reader that touches /proc or /sys takes a `root` prefix
// ("" = the real host) so tests can point it at a fixture tree.  The text
// parsers are separate pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::host {

// ---- virNodeGetInfo -------------------------------------------------------

struct NodeInfo {
  std::string model;        // host arch, "x86_64"
  uint64_t memoryKiB = 0;   // sum of NUMA node MemTotal (or /proc/meminfo)
  int cpus = 0, mhz = 0, nodes = 0, sockets = 0, cores = 0, threads = 0;
};

// What virNodeGetInfo reports (virCapabilitiesGetNodeInfo).
NodeInfo readNodeInfo(std::string_view root = "");

// virConnectGetHostname: gethostname(), canonicalised via getaddrinfo
// (AI_CANONNAME) unless it starts with "localhost" or already has a dot.
std::string hostname();

// virNodeGetFreeMemory: sum of the NUMA nodes' MemFree, in bytes.
uint64_t freeMemoryBytes(std::string_view root = "");

// virNodeGetCellsFreeMemory for cells [start, start+max): bytes per cell.
// Cells that do not exist are left out (the caller reports the error).
std::vector<uint64_t> cellsFreeMemory(int start, int max, std::string_view root = "");

// virNodeGetMemoryStats (cell = -1: whole host from /proc/meminfo; else the
// node's meminfo). nullopt if the cell does not exist.
struct MemoryStats {
  uint64_t totalKiB = 0, freeKiB = 0, buffersKiB = 0, cachedKiB = 0;
};
std::optional<MemoryStats> readMemoryStats(int cell = -1, std::string_view root = "");

// virHostCPUGetCount: highest present CPU + 1.
int hostCpuCount(std::string_view root = "");
// /sys/devices/system/cpu/online as a list of ids (nodecpumap).
std::vector<unsigned> onlineCpus(std::string_view root = "");

// virHostCPUGetKVMMaxVCPUs: KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4;
// -1 when /dev/kvm cannot be opened.
int kvmMaxVcpus();
// /dev/kvm exists and is read/write accessible.
bool kvmAvailable();

// ---- host CPU (capabilities <host><cpu>) -----------------------------------

struct HostCpu {
  std::string arch;                 // "x86_64"
  std::string vendor;               // "AMD", "Intel" (libvirt's cpu_map vendor name)
  std::string model;                // cpu_map model libvirt would pick, "" if unknown
  unsigned microcode = 0;           // /proc/cpuinfo "microcode"
  unsigned family = 0, modelNumber = 0, stepping = 0;  // CPUID signature (0 = unknown)
  uint64_t tscFrequency = 0;        // Hz, via KVM_GET_TSC_KHZ when invtsc is present
  std::optional<bool> tscScaling;   // KVM_CAP_TSC_CONTROL
  int sockets = 0, dies = 0, cores = 0, threads = 0;
  int physAddrBits = -1;            // "address sizes: N bits physical"
  std::vector<std::string> features;   // in cpu_map order, beyond the model
  std::vector<unsigned> pageSizesKiB;  // system page + hugepage sizes, ascending
};
HostCpu readHostCpu();

// ---- NUMA / caches / misc ---------------------------------------------------

struct NumaCpu {
  unsigned id = 0;
  bool online = true;               // offline CPUs print only id
  int socketId = 0, dieId = 0, coreId = 0;
  std::string siblings;             // "0-1,4"
};
struct NumaPages {
  unsigned sizeKiB = 0;
  uint64_t count = 0;
};
struct NumaCell {
  int id = 0;
  uint64_t memoryKiB = 0;
  std::vector<NumaPages> pages;
  std::vector<std::pair<int, int>> distances;  // (sibling id, value)
  std::vector<NumaCpu> cpus;
};
std::vector<NumaCell> readNumaTopology(std::string_view root = "");

struct CacheBank {
  unsigned id = 0, level = 0;
  std::string type;        // "both", "data", "code"
  uint64_t sizeBytes = 0;
  std::string cpus;        // "0-1"
};
// Level >= 3 caches of online CPUs, merged and sorted as libvirt does.
std::vector<CacheBank> readCacheBanks(std::string_view root = "");

// virHostHasIOMMU: /sys/kernel/iommu_groups has an entry.
bool hasIommu(std::string_view root = "");

// Supported suspend targets ("suspend_mem", "suspend_disk", "suspend_hybrid"),
// asked of systemd-logind (busctl) and then pm-is-supported; empty if neither.
std::vector<std::string> powerManagementTargets();

// Page sizes (KiB) the host offers: system page first, then hugepages.
std::vector<unsigned> pageSizesKiB(std::string_view root = "");

// libvirt's host UUID: SMBIOS product_uuid if readable and valid, else a
// random v4 UUID generated once per process (as libvirt does).
std::string hostUuid(std::string_view root = "");

// ---- pure parsers (exposed for tests) ---------------------------------------

struct CpuInfoFacts {
  int mhz = 0;                   // last "cpu MHz" line, integer part
  unsigned microcode = 0;        // first "microcode" within the first 4 KiB
  int physAddrBits = -1;         // first "address sizes"
};
CpuInfoFacts parseCpuInfo(std::string_view text);

// "0-3,5,7-8" -> {0,1,2,3,5,7,8}; nullopt when malformed.
std::optional<std::vector<unsigned>> parseCpuList(std::string_view text);
// {0,1,2,5} -> "0-2,5" (virBitmapFormat).
std::string formatCpuList(const std::vector<unsigned>& ids);
// "Node 0 MemTotal:  5466316 kB" / "MemTotal: ..." -> KiB for `key`.
std::optional<uint64_t> parseMeminfoField(std::string_view text, std::string_view key);

// One CPUID leaf as libvirt's cpu map describes it.
struct CpuidLeaf {
  uint32_t eaxIn = 0, ecxIn = 0;
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};
struct MsrValue {
  uint32_t index = 0;
  uint32_t eax = 0, edx = 0;
};
struct DecodedCpu {
  std::string vendor, model;
  unsigned family = 0, modelNumber = 0, stepping = 0;
  std::vector<std::string> features;  // present in data, not in the model
};
// libvirt's x86Decode for a host CPU, against the cpu_map directory
// (index.xml, x86_*.xml).  nullopt when the map is missing or no model fits.
std::optional<DecodedCpu> decodeX86Cpu(const std::vector<CpuidLeaf>& cpuid,
                                       const std::vector<MsrValue>& msrs,
                                       const std::string& cpuMapDir = "/usr/share/libvirt/cpu_map");

}  // namespace splitvirt::host
