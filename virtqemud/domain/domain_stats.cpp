// The per-domain statistics that libvirt's qemu driver reports
// (qemuDomainGetStats*, qemuDomainBlockStats, qemuDomainGetBlockInfo ...),
// gathered from the same places when a guest has no cgroup: /proc for CPU
// times, the taps' counters, QMP for block I/O, balloon and dirty rate,
// and the image files for a shut-off guest's disks. Names, types and order
// of the typed parameters are libvirt 9.0's (facts checked on the reference).
#include "domain/domain_stats.hpp"

#include "monitor/qmp_client.hpp"
#include "monitor/qmp_jobs.hpp"
#include "monitor/qmp_stats.hpp"
#include "process/proc_stats.hpp"
#include "snapshot/image_graph.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace splitvirt::qemu {

using objects::DomainView;

namespace {

void addU(std::vector<xdr::TypedParam>& out, std::string name, uint64_t v) { out.push_back({std::move(name), v}); }
void addUi(std::vector<xdr::TypedParam>& out, std::string name, uint32_t v) { out.push_back({std::move(name), v}); }
void addI(std::vector<xdr::TypedParam>& out, std::string name, int32_t v) { out.push_back({std::move(name), v}); }
void addL(std::vector<xdr::TypedParam>& out, std::string name, int64_t v) { out.push_back({std::move(name), v}); }
void addS(std::vector<xdr::TypedParam>& out, std::string name, std::string v) {
  out.push_back({std::move(name), std::move(v)});
}

// se.statistics.wait_sum (ms, fractional) from /proc/<pid>/task/<tid>/sched;
// kernels without schedstats have none: 0, as libvirt reports then.
uint64_t threadWaitSumNs(pid_t pid, pid_t tid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/sched");
  for (std::string line; std::getline(f, line);) {
    if (line.find("wait_sum") == std::string::npos) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) return 0;
    try {
      return static_cast<uint64_t>(std::stod(line.substr(colon + 1)) * 1e6);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

const char* memStatName(int tag) {
  static const char* const kNames[] = {"swap_in",   "swap_out",    "major_fault", "minor_fault",   "unused",
                                       "available", "actual",      "rss",         "usable",        "last_update",
                                       "disk_caches", "hugetlb_pgalloc", "hugetlb_pgfail"};
  return tag >= 0 && tag < 13 ? kNames[tag] : "unknown";
}

}  // namespace

std::string balloonQomPath(const conf::DomainDef& def) {
  std::string alias = def.memballoon && !def.memballoon->info.alias.empty() ? def.memballoon->info.alias : "balloon0";
  return "/machine/peripheral/" + alias;
}

DiskSizes fileDiskSizes(const std::string& path) {
  DiskSizes s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return s;
  s.allocation = static_cast<uint64_t>(st.st_blocks) * 512;
  s.physical = static_cast<uint64_t>(st.st_size);
  if (auto q = readQcow2Header(path))
    s.capacity = q->virtualSize;
  else
    s.capacity = s.physical;
  s.valid = true;
  return s;
}

LiveBlockInfo queryLiveBlocks(QmpClient& mon) {
  LiveBlockInfo b;
  if (auto r = queryBlock(mon)) b.devices = std::move(*r);
  if (auto r = queryBlockstats(mon)) b.stats = std::move(*r);
  if (auto r = queryNamedBlockNodes(mon)) b.nodes = std::move(*r);
  return b;
}

std::optional<LiveDisk> LiveBlockInfo::find(const conf::DiskDef& disk) const {
  // By the image the guest runs on, as our definition keeps it current
  // through snapshots; the frontend id as a fallback.
  const QmpBlockInfo* dev = nullptr;
  for (auto& d : devices)
    if (disk.sourcePath && d.file == *disk.sourcePath) dev = &d;
  if (!dev && !disk.info.alias.empty())
    for (auto& d : devices)
      if (d.qdev == disk.info.alias || d.qdev.find("/" + disk.info.alias + "/") != std::string::npos) dev = &d;
  if (!dev) return std::nullopt;
  LiveDisk out;
  out.nodeName = dev->nodeName;
  for (auto& s : stats)
    if ((!s.nodeName.empty() && s.nodeName == dev->nodeName) || (!dev->qdev.empty() && s.qdev == dev->qdev))
      out.stats = s;
  for (auto& n : nodes)
    if (n.nodeName == dev->nodeName) {
      out.virtualSize = n.virtualSize;
      out.actualSize = n.actualSize;
    }
  // libvirt-N-format: N is libvirt's <source index='N'/> of the image.
  out.backingIndex = 1;
  if (dev->nodeName.rfind("libvirt-", 0) == 0) {
    try {
      out.backingIndex = static_cast<unsigned>(std::stoul(dev->nodeName.substr(8)));
    } catch (...) {
    }
  }
  return out;
}

std::vector<MemStatValue> memoryStats(const LiveGuest& g, const conf::DomainDef& def) {
  std::vector<MemStatValue> out;
  uint64_t actualKiB = def.currentMemoryKiB ? def.currentMemoryKiB : def.maxMemoryKiB;
  if (g.mon)
    if (auto a = queryBalloonActual(*g.mon)) actualKiB = *a / 1024;
  out.push_back({6, actualKiB});
  if (g.mon && def.memballoon && def.memballoon->model != "none")
    for (auto& st : queryBalloonGuestStats(*g.mon, balloonQomPath(def))) out.push_back({st.tag, st.value});
  if (auto ps = readProcessStat(g.pid))
    out.push_back({7, ps->rssPages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024});
  return out;
}

std::vector<xdr::TypedParam> collectDomainStats(const DomainView& v, const LiveGuest* rt, unsigned groups) {
  std::vector<xdr::TypedParam> out;
  const conf::DomainDef& def = *v.def;
  const bool live = v.active() && rt && rt->pid > 0;

  if (groups & kStatsState) {
    addI(out, "state.state", static_cast<int32_t>(v.state));
    addI(out, "state.reason", v.reason);
  }

  if ((groups & kStatsCpuTotal) && live) {
    if (auto ps = readProcessStat(rt->pid)) {
      addU(out, "cpu.time", ps->totalNs());
      addU(out, "cpu.user", ps->userNs);
      addU(out, "cpu.system", ps->systemNs);
    }
    addUi(out, "cpu.cache.monitor.count", 0);  // no resctrl monitors
    // Halt polling is a KVM feature; under TCG QEMU reports none.
    addU(out, "cpu.haltpoll.success.time", 0);
    addU(out, "cpu.haltpoll.fail.time", 0);
  }

  if (groups & kStatsBalloon) {
    const uint64_t maxKiB = def.maxMemoryKiB;
    uint64_t curKiB = def.currentMemoryKiB ? def.currentMemoryKiB : maxKiB;
    std::vector<MemStatValue> mem;
    if (live) {
      mem = memoryStats(*rt, def);
      if (!mem.empty() && mem.front().tag == 6) curKiB = mem.front().value;
    }
    addU(out, "balloon.current", curKiB);
    addU(out, "balloon.maximum", maxKiB);
    for (auto& m : mem) {
      if (m.tag == 6) continue;  // "actual" is balloon.current
      std::string name = memStatName(m.tag);
      if (m.tag == 9) name = "last-update";
      addU(out, "balloon." + name, m.value);
    }
  }

  if (groups & kStatsVcpu) {
    addUi(out, "vcpu.current", def.vcpus);
    addUi(out, "vcpu.maximum", def.vcpusMax);
    if (live && rt->mon) {
      if (auto cpus = queryCpusFast(*rt->mon)) {
        for (auto& c : *cpus) {
          const std::string p = "vcpu." + std::to_string(c.cpuIndex) + ".";
          const auto tid = static_cast<pid_t>(c.threadId);
          auto ts = readProcessStat(rt->pid, tid);
          addI(out, p + "state", 1);  // VIR_VCPU_RUNNING
          addU(out, p + "time", ts ? ts->totalNs() : 0);
          addU(out, p + "wait", threadWaitSumNs(rt->pid, tid));
          addU(out, p + "delay", readThreadWaitNs(rt->pid, tid).value_or(0));
        }
      }
    }
  }

  if ((groups & kStatsInterface) && live) {
    addUi(out, "net.count", static_cast<uint32_t>(def.nets.size()));
    for (size_t i = 0; i < def.nets.size(); ++i) {
      const auto& net = def.nets[i];
      if (!net.targetDev) continue;
      const std::string p = "net." + std::to_string(i) + ".";
      addS(out, p + "name", *net.targetDev);
      auto st = readTapStats(*net.targetDev);
      if (!st) continue;
      addU(out, p + "rx.bytes", static_cast<uint64_t>(st->rxBytes));
      addU(out, p + "rx.pkts", static_cast<uint64_t>(st->rxPackets));
      addU(out, p + "rx.errs", static_cast<uint64_t>(st->rxErrs));
      addU(out, p + "rx.drop", static_cast<uint64_t>(st->rxDrop));
      addU(out, p + "tx.bytes", static_cast<uint64_t>(st->txBytes));
      addU(out, p + "tx.pkts", static_cast<uint64_t>(st->txPackets));
      addU(out, p + "tx.errs", static_cast<uint64_t>(st->txErrs));
      addU(out, p + "tx.drop", static_cast<uint64_t>(st->txDrop));
    }
  }

  if (groups & kStatsBlock) {
    addUi(out, "block.count", static_cast<uint32_t>(def.disks.size()));
    LiveBlockInfo blocks;
    if (live && rt->mon) blocks = queryLiveBlocks(*rt->mon);
    for (size_t i = 0; i < def.disks.size(); ++i) {
      const auto& disk = def.disks[i];
      const std::string p = "block." + std::to_string(i) + ".";
      addS(out, p + "name", disk.targetDev);
      const bool local = disk.sourcePath && (disk.type == conf::DiskType::File || disk.type == conf::DiskType::Block);
      if (local) addS(out, p + "path", *disk.sourcePath);
      if (live) {
        auto ld = blocks.find(disk);
        if (!ld) continue;
        addUi(out, p + "backingIndex", ld->backingIndex);
        if (ld->stats) {
          addU(out, p + "rd.reqs", static_cast<uint64_t>(ld->stats->rdOps));
          addU(out, p + "rd.bytes", static_cast<uint64_t>(ld->stats->rdBytes));
          addU(out, p + "rd.times", static_cast<uint64_t>(ld->stats->rdTimeNs));
          addU(out, p + "wr.reqs", static_cast<uint64_t>(ld->stats->wrOps));
          addU(out, p + "wr.bytes", static_cast<uint64_t>(ld->stats->wrBytes));
          addU(out, p + "wr.times", static_cast<uint64_t>(ld->stats->wrTimeNs));
          addU(out, p + "fl.reqs", static_cast<uint64_t>(ld->stats->flushOps));
          addU(out, p + "fl.times", static_cast<uint64_t>(ld->stats->flushTimeNs));
          addU(out, p + "allocation", ld->stats->wrHighestOffset);
        }
        if (ld->virtualSize) addU(out, p + "capacity", ld->virtualSize);
        uint64_t physical = ld->actualSize ? ld->actualSize : ld->virtualSize;
        if (physical) addU(out, p + "physical", physical);
      } else if (local) {
        auto sz = fileDiskSizes(*disk.sourcePath);
        if (!sz.valid) continue;
        if (sz.allocation) addU(out, p + "allocation", sz.allocation);
        if (sz.capacity) addU(out, p + "capacity", sz.capacity);
        if (sz.physical) addU(out, p + "physical", sz.physical);
      }
    }
  }

  if ((groups & kStatsDirtyRate) && live && rt->mon) {
    if (auto d = queryDirtyRate(*rt->mon)) {
      addI(out, "dirtyrate.calc_status", d->status);
      addL(out, "dirtyrate.calc_start_time", d->startTime);
      addI(out, "dirtyrate.calc_period", d->calcTime);
      addS(out, "dirtyrate.calc_mode", d->mode.empty() ? "page-sampling" : d->mode);
      if (d->mbPerSecond) addL(out, "dirtyrate.megabytes_per_second", *d->mbPerSecond);
    }
  }
  return out;
}

}  // namespace splitvirt::qemu
