// Statistics procedures: domstats (CONNECT_GET_ALL_DOMAIN_STATS), domblkstat,
// domifstat, dommemstat, vcpuinfo, domblkinfo, cpu-stats. The numbers come
// from domain_stats.cpp; the checks and error texts here are libvirt's
// (remote dispatcher limits first, then the driver's).
#include "conf/mac_addr.hpp"
#include "domain/domain_common.hpp"
#include "domain/domain_stats.hpp"
#include "domain/runtime.hpp"
#include "process/proc_stats.hpp"
#include "protocol/stats_procs.hpp"
#include "qemu_driver.hpp"

#include <sched.h>
#include <unistd.h>

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainState;
using objects::DomainView;
using rpc::ConnContext;

namespace {

// VIR_CONNECT_GET_ALL_DOMAINS_STATS_*: the list filters (bits 0-7, as
// virConnectListAllDomains'), NOWAIT, BACKING, ENFORCE.
constexpr uint32_t kStatsNoWait = 1u << 29, kStatsBacking = 1u << 30, kStatsEnforce = 1u << 31;
constexpr unsigned kAllGroups = 0x7ff;

Error notRunning() { return Error::operationInvalid(ErrorDomain::Domain, "domain is not running"); }

// A disk named by its target ("vda") or its source path.
const conf::DiskDef* findDisk(const conf::DomainDef& def, const std::string& path) {
  for (auto& d : def.disks)
    if (d.targetDev == path || (d.sourcePath && *d.sourcePath == path)) return &d;
  return nullptr;
}

std::string cpumapOf(pid_t tid, int maplen) {
  std::string map(static_cast<size_t>(maplen), '\0');
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(tid, sizeof set, &set) != 0) return map;
  for (int cpu = 0; cpu < maplen * 8 && cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) map[static_cast<size_t>(cpu / 8)] |= static_cast<char>(1 << (cpu % 8));
  return map;
}

// Every online host CPU: what a vCPU without pinning may run on.
std::string allCpusMap(int maplen) {
  std::string map(static_cast<size_t>(maplen), '\0');
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  for (long cpu = 0; cpu < n && cpu < maplen * 8; ++cpu)
    map[static_cast<size_t>(cpu / 8)] |= static_cast<char>(1 << (cpu % 8));
  return map;
}

}  // namespace

void QemuDriver::bindStats(rpc::Program& p) {
  auto liveOf = [this](const DomainView& v) -> std::optional<LiveGuest> {
    if (!v.active()) return std::nullopt;
    auto rt = runtime(v.def->uuid);
    if (!rt) return std::nullopt;
    return LiveGuest{rt->pid, rt->mon.get()};
  };

  p.bind(kConnectGetAllDomainStats, [this, liveOf](ConnContext&, GetAllDomainStatsArgs&& a) -> Result<GetAllDomainStatsRet> {
    if (a.flags & ~(0xffu | kStatsNoWait | kStatsBacking | kStatsEnforce)) return Error::unsupportedFlags(kErr, a.flags & ~(0xffu | kStatsNoWait | kStatsBacking | kStatsEnforce), "qemuConnectGetAllDomainStats");
    std::vector<DomainView> doms;
    if (a.doms.empty()) {
      doms = domains_.all();
    } else {
      // Stale handles are skipped, as libvirt does.
      for (auto& d : a.doms)
        if (auto v = domains_.findByUuid(d.uuid)) doms.push_back(*v);
    }
    GetAllDomainStatsRet r;
    for (auto& v : doms) {
      auto never = [] { return false; };  // not among bits 0-7
      if (!matchesListFilter(v, a.flags & 0xffu, never, never)) continue;
      // iothread, dirtyrate and vm come from a running QEMU.
      const unsigned supported = v.active() ? kAllGroups : kAllGroups & ~(kStatsIothread | kStatsDirtyRate | kStatsVm);
      unsigned groups = a.stats ? a.stats : supported;
      if ((a.flags & kStatsEnforce) && (groups & ~supported)) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%x", groups & ~supported);
        return Error::make(ErrorCode::ArgumentUnsupported, kErr, "argument unsupported: %s", "argument unsupported",
                           std::string("Stats types bits ") + hex + " are not supported by this daemon or QEMU");
      }
      groups &= supported;
      auto live = liveOf(v);
      DomainStatsRecord rec;
      rec.dom = handleOf(v);
      auto params = collectDomainStats(v, live ? &*live : nullptr, groups);
      rec.params.assign(params.begin(), params.end());
      r.retStats.push_back(std::move(rec));
      if (r.retStats.size() > kDomainListMax) return Error::internal(ErrorDomain::Rpc, "Too many records");
    }
    return r;
  });

  // domblkstat: the counters of one disk ("" = all of them).
  auto blockSample = [this, liveOf](const NonnullDomain& dom, const std::string& path) -> Result<QmpBlockStats> {
    auto v = fromHandle(domains_, dom);
    if (!v) return v.error();
    auto live = liveOf(*v);
    if (!live || !live->mon) return notRunning();
    const conf::DiskDef* disk = path.empty() ? nullptr : findDisk(*v->def, path);
    if (!path.empty() && !disk) return Error::invalidArg(kErr, "invalid path: " + path);
    auto blocks = queryLiveBlocks(*live->mon);
    QmpBlockStats sum;
    for (auto& d : v->def->disks) {
      if (disk && &d != disk) continue;
      auto ld = blocks.find(d);
      if (!ld || !ld->stats) continue;
      sum.rdOps += ld->stats->rdOps;
      sum.rdBytes += ld->stats->rdBytes;
      sum.wrOps += ld->stats->wrOps;
      sum.wrBytes += ld->stats->wrBytes;
      sum.flushOps += ld->stats->flushOps;
      sum.rdTimeNs += ld->stats->rdTimeNs;
      sum.wrTimeNs += ld->stats->wrTimeNs;
      sum.flushTimeNs += ld->stats->flushTimeNs;
    }
    return sum;
  };
  p.bind(kDomainBlockStats, [blockSample](ConnContext&, DomPathArgs&& a) -> Result<BlockStatsRet> {
    auto s = blockSample(a.dom, a.path);
    if (!s) return s.error();
    return BlockStatsRet{s->rdOps, s->rdBytes, s->wrOps, s->wrBytes, -1};
  });
  p.bind(kDomainBlockStatsFlags, [blockSample](ConnContext&, BlockStatsFlagsArgs&& a) -> Result<TypedParamsRet16> {
    if (a.nparams > static_cast<int32_t>(kBlockStatsParamsMax))
      return Error::internal(ErrorDomain::Rpc, "nparams too large");
    if (a.flags & ~4u) return Error::unsupportedFlags(kErr, a.flags & ~4u, "qemuDomainBlockStatsFlags");
    auto s = blockSample(a.dom, a.path);
    if (!s) return s.error();
    const std::vector<xdr::TypedParam> all{
        {"wr_bytes", s->wrBytes},           {"wr_operations", s->wrOps},         {"rd_bytes", s->rdBytes},
        {"rd_operations", s->rdOps},        {"flush_operations", s->flushOps},   {"wr_total_times", s->wrTimeNs},
        {"rd_total_times", s->rdTimeNs},    {"flush_total_times", s->flushTimeNs}};
    TypedParamsRet16 r;
    if (a.nparams == 0) {
      r.nparams = static_cast<int32_t>(all.size());  // the caller asks how many first
      return r;
    }
    for (size_t i = 0; i < all.size() && i < static_cast<size_t>(a.nparams); ++i) r.params.push_back(all[i]);
    r.nparams = static_cast<int32_t>(r.params.size());
    return r;
  });

  p.bind(kDomainInterfaceStats, [this](ConnContext&, DomPathArgs&& a) -> Result<InterfaceStatsRet> {
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    if (!v->active()) return notRunning();
    const conf::NetDef* net = nullptr;
    for (auto& n : v->def->nets)
      if ((n.targetDev && *n.targetDev == a.path) || (n.mac && conf::formatMac(*n.mac) == a.path)) net = &n;
    if (!net) return Error::invalidArg(ErrorDomain::Domain, "'" + a.path + "' is not a known interface");
    if (!net->targetDev) return Error::internal(ErrorDomain::None, "Interface name not provided");
    auto st = readTapStats(*net->targetDev);
    if (!st) return Error::internal(ErrorDomain::None, "/proc/net/dev: Interface not found");
    return InterfaceStatsRet{st->rxBytes, st->rxPackets, st->rxErrs, st->rxDrop,
                             st->txBytes, st->txPackets, st->txErrs, st->txDrop};
  });

  p.bind(kDomainMemoryStats, [this, liveOf](ConnContext&, MemoryStatsArgs&& a) -> Result<MemoryStatsRet> {
    if (a.maxStats > kMemoryStatsMax)
      return Error::internal(ErrorDomain::Rpc, "maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX");
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainMemoryStats");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto live = liveOf(*v);
    if (!live) return notRunning();
    MemoryStatsRet r;
    for (auto& m : memoryStats(*live, *v->def)) {
      if (r.stats.size() >= a.maxStats) break;
      r.stats.push_back({m.tag, m.value});
    }
    return r;
  });

  p.bind(kDomainSetMemoryStatsPeriod, [this](ConnContext&, SetMemoryStatsPeriodArgs&& a) -> Result<Void> {
    if (a.flags & ~3u) return Error::unsupportedFlags(kErr, a.flags & ~3u, "qemuDomainSetMemoryStatsPeriod");
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    if (a.period < 0) return Error::invalidArg(kErr, "invalid statistics period: " + std::to_string(a.period));
    // VIR_DOMAIN_AFFECT_CURRENT: the live guest when it runs, else the definition.
    const bool live = (a.flags & 1u) || (!(a.flags & 3u) && v->active());
    const bool config = (a.flags & 2u) || (!(a.flags & 3u) && !v->active());
    if (live && !v->active()) return notRunning();
    if (live) {
      auto rt = runtime(a.dom.uuid);
      if (!rt || !rt->mon) return notRunning();
      if (!v->def->memballoon || v->def->memballoon->model == "none")
        return Error::operationInvalid(kErr, "No memory balloon device configured, can not set the collection period");
      SV_TRY_VOID(rt->mon->execute("qom-set", JsonArgs()
                                                  .str("path", balloonQomPath(*v->def))
                                                  .str("property", "guest-stats-polling-interval")
                                                  .num("value", a.period)
                                                  .json()));
      auto def = std::make_shared<conf::DomainDef>(*v->def);
      def->memballoon->statsPeriod = a.period;
      auto nv = domains_.update(a.dom.uuid, [&](DomainView& d) { d.def = def; });
      if (nv) (void)saveStatus(*nv, *rt);
    }
    if (config) {
      auto persistent = v->persistentDef();
      if (!v->persistent || !persistent) return Error::operationInvalid(kErr, "cannot change persistent config of a transient domain");
      auto def = std::make_shared<conf::DomainDef>(*persistent);
      if (!def->memballoon || def->memballoon->model == "none")
        return Error::operationInvalid(kErr, "No memory balloon device configured, can not set the collection period");
      def->memballoon->statsPeriod = a.period;
      SV_TRY_VOID(savePersistentDef(a.dom.uuid, def));
    }
    return Void{};
  });

  p.bind(kDomainGetVcpus, [this](ConnContext&, GetVcpusArgs&& a) -> Result<GetVcpusRet> {
    if (a.maxinfo > static_cast<int32_t>(kVcpuinfoMax))
      return Error::internal(ErrorDomain::Rpc, "maxinfo > REMOTE_VCPUINFO_MAX");
    if (a.maplen < 0 || static_cast<int64_t>(a.maxinfo) * a.maplen > static_cast<int64_t>(kCpumapsMax))
      return Error::internal(ErrorDomain::Rpc, "maxinfo * maplen > REMOTE_CPUMAPS_MAX");
    if (a.maxinfo <= 0) return Error::invalidArg(ErrorDomain::Domain, "info in virDomainGetVcpus must not be NULL");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto rt = runtime(a.dom.uuid);
    if (!v->active() || !rt || !rt->mon)
      return Error::operationInvalid(kErr, "cannot retrieve vcpu information for inactive domain");
    auto cpus = queryCpusFast(*rt->mon);
    if (!cpus) return cpus.error();
    GetVcpusRet r;
    r.cpumaps.bytes.assign(static_cast<size_t>(a.maxinfo) * static_cast<size_t>(a.maplen), '\0');
    for (auto& c : *cpus) {
      if (static_cast<int32_t>(r.info.size()) >= a.maxinfo) break;
      const auto tid = static_cast<pid_t>(c.threadId);
      auto ts = readProcessStat(rt->pid, tid);
      r.info.push_back(VcpuInfo{static_cast<uint32_t>(c.cpuIndex), 1, ts ? ts->totalNs() : 0, ts ? ts->lastCpu : -1});
      std::string map = cpumapOf(tid, a.maplen);
      r.cpumaps.bytes.replace((r.info.size() - 1) * static_cast<size_t>(a.maplen), map.size(), map);
    }
    return r;
  });

  p.bind(kDomainGetVcpuPinInfo, [this](ConnContext&, GetVcpuPinInfoArgs&& a) -> Result<GetVcpuPinInfoRet> {
    if (a.ncpumaps > static_cast<int32_t>(kVcpuinfoMax))
      return Error::internal(ErrorDomain::Rpc, "ncpumaps > REMOTE_VCPUINFO_MAX");
    if (a.maplen < 0 || static_cast<int64_t>(a.ncpumaps) * a.maplen > static_cast<int64_t>(kCpumapsMax))
      return Error::internal(ErrorDomain::Rpc, "maxinfo * maplen > REMOTE_CPUMAPS_MAX");
    if (a.flags & ~3u) return Error::unsupportedFlags(kErr, a.flags & ~3u, "qemuDomainGetVcpuPinInfo");
    if ((a.flags & 3u) == 3u)
      return Error::invalidArgIn(ErrorDomain::Domain, "", "flags",
                                 "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    if ((a.flags & 1u) && !v->active()) return notRunning();
    const conf::DomainDef& def = (a.flags & 2u) ? *v->persistentDef() : *v->def;
    GetVcpuPinInfoRet r;
    r.cpumaps.bytes.assign(static_cast<size_t>(a.ncpumaps) * static_cast<size_t>(a.maplen), '\0');
    const int n = std::min<int>(a.ncpumaps, static_cast<int>(def.vcpusMax));
    const std::string map = allCpusMap(a.maplen);
    for (int i = 0; i < n; ++i) r.cpumaps.bytes.replace(static_cast<size_t>(i) * a.maplen, map.size(), map);
    r.num = n;
    return r;
  });

  p.bind(kDomainGetBlockInfo, [this, liveOf](ConnContext&, GetBlockInfoArgs&& a) -> Result<GetBlockInfoRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainGetBlockInfo");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    const conf::DiskDef* disk = findDisk(*v->def, a.path);
    if (!disk) return Error::invalidArg(kErr, "invalid path " + a.path + " not assigned to domain");
    if (!disk->sourcePath) return Error::operationInvalid(kErr, "disk '" + disk->targetDev + "' does not currently have a source assigned");
    auto files = fileDiskSizes(*disk->sourcePath);
    if (auto live = liveOf(*v); live && live->mon) {
      auto blocks = queryLiveBlocks(*live->mon);
      if (auto ld = blocks.find(*disk)) {
        GetBlockInfoRet r;
        r.capacity = ld->virtualSize ? ld->virtualSize : files.capacity;
        const bool qcow2 = disk->driverType.value_or("raw") == "qcow2";
        r.allocation = qcow2 ? ld->actualSize : (ld->stats ? ld->stats->wrHighestOffset : ld->actualSize);
        r.physical = ld->actualSize;
        // libvirt: when the two agree (or one is unknown), physical is the file's size.
        if (r.allocation == r.physical || !r.allocation || !r.physical) r.physical = files.physical;
        return r;
      }
    }
    if (!files.valid) return Error::systemError(kErr, ENOENT, "cannot stat file '" + *disk->sourcePath + "'");
    return GetBlockInfoRet{files.allocation, files.capacity, files.physical};
  });

  p.bind(kDomainGetCpuStats, [this](ConnContext&, GetCpuStatsArgs&& a) -> Result<GetCpuStatsRet> {
    if (a.nparams > kNodeCpuStatsMax) return Error::internal(ErrorDomain::Rpc, "nparams too large");
    if (a.ncpus > 128) return Error::internal(ErrorDomain::Rpc, "ncpus too large");
    if (a.flags & ~4u) return Error::unsupportedFlags(kErr, a.flags & ~4u, "qemuDomainGetCPUStats");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    if (!v->active()) return notRunning();
    // Per-CPU accounting needs a cpuacct cgroup; guests here run without
    // one, and libvirt answers exactly this then.
    return Error::operationInvalid(kErr, "cgroup CPUACCT controller is not mounted");
  });
}

}  // namespace splitvirt::qemu
