// Block jobs a user starts on a running guest (virsh blockcommit, blockpull,
// blockjob): QEMU runs them (block-commit / block-stream, auto-dismissed);
// QEMU's BLOCK_JOB_* events finish them here: the definitions follow an
// active commit's pivot, and clients get BLOCK_JOB / BLOCK_JOB_2 events with
// libvirt's types and statuses. Checks and texts follow libvirt's
// qemuBlockCommit / qemuDomainBlockPullCommon / qemuDomainBlockJobAbort.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_jobs.hpp"
#include "protocol/blockjob_procs.hpp"
#include "qemu_driver.hpp"
#include "snapshot/image_graph.hpp"
#include "util/log.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainView;
using rpc::ConnContext;

namespace {

// VIR_DOMAIN_BLOCK_JOB_TYPE_* and VIR_DOMAIN_BLOCK_JOB_* statuses.
constexpr int kJobPull = 1, kJobCommit = 3, kJobActiveCommit = 4;
constexpr int kStatusCompleted = 0, kStatusFailed = 1, kStatusCanceled = 2, kStatusReady = 3;
// VIR_DOMAIN_BLOCK_COMMIT_*
constexpr uint32_t kCommitShallow = 1, kCommitDelete = 2, kCommitActive = 4, kCommitRelative = 8,
                   kCommitBytes = 16;

const conf::DiskDef* diskByName(const conf::DomainDef& def, const std::string& name) {
  for (auto& d : def.disks)
    if (d.targetDev == name || (d.sourcePath && *d.sourcePath == name)) return &d;
  return nullptr;
}

Error diskNotFound(const std::string& name) { return Error::invalidArg(kErr, "disk '" + name + "' not found in domain"); }

Result<uint64_t> bandwidthBytes(uint64_t bandwidth, bool bytes) {
  if (bytes) return bandwidth;
  constexpr uint64_t kMax = UINT64_MAX >> 20;
  if (bandwidth > kMax)
    return Error::make(static_cast<ErrorCode>(82), kErr, "numerical overflow: %s", "numerical overflow",
                       "bandwidth must be less than " + std::to_string(kMax));
  return bandwidth << 20;
}

// The image chain of `top` as qemu-img sees it: top first.
std::vector<std::string> chainOf(const std::string& top) {
  std::vector<std::string> chain;
  auto graph = scanImages({top});
  if (!graph) return chain;
  for (std::optional<std::string> f = top; f && graph->has(*f); f = graph->backingOf(*f)) chain.push_back(*f);
  return chain;
}

}  // namespace

void QemuDriver::handleBlockJobEvent(const conf::Uuid& uuid, Runtime& rt, const std::string& name,
                                     const std::string& dataJson) {
  boost::system::error_code ec;
  auto v = boost::json::parse(dataJson, ec);
  const auto* o = ec ? nullptr : v.if_object();
  if (!o) return;
  std::string jobId;
  if (auto* d = o->if_contains("device"); d && d->is_string()) jobId = std::string(d->get_string());
  const bool failed = o->if_contains("error") != nullptr;

  Runtime::BlockJob job;
  int status = -1;
  {
    std::lock_guard lk(rt.blockJobsMutex);
    auto it = rt.blockJobs.begin();
    while (it != rt.blockJobs.end() && it->second.jobId != jobId) ++it;
    if (it == rt.blockJobs.end()) return;  // one of our snapshot jobs
    if (name == "BLOCK_JOB_READY") {
      it->second.ready = true;
      job = it->second;
      status = kStatusReady;
    } else {
      job = it->second;
      status = failed ? kStatusFailed : (job.abort || name == "BLOCK_JOB_CANCELLED") ? kStatusCanceled
                                                                                      : kStatusCompleted;
      rt.blockJobs.erase(it);
    }
  }
  // An active commit that pivoted: the guest now writes the base image.
  if (status == kStatusCompleted && job.type == kJobActiveCommit && job.pivot) {
    auto retarget = [&](const conf::DomainDef& d) {
      auto copy = std::make_shared<conf::DomainDef>(d);
      for (auto& disk : copy->disks)
        if (disk.targetDev == job.target && disk.sourcePath == job.path) {
          disk.sourcePath = job.baseFile;
          disk.driverType = job.baseFormat;
        }
      return copy;
    };
    auto cur = domains_.findByUuid(uuid);
    if (cur) {
      auto nv = domains_.update(uuid, [&](DomainView& d) { d.def = retarget(*d.def); });
      if (nv) (void)saveStatus(*nv, rt);
      if (cur->persistent) (void)savePersistentDef(uuid, retarget(*cur->persistentDef()));
    }
  }
  // BLOCK_JOB names the disk by its source: after a pivot, the new one.
  const std::string& path = status == kStatusCompleted && job.pivot ? job.baseFile : job.path;
  if (auto cur = domains_.findByUuid(uuid)) events_->domainBlockJob(handleOf(*cur), path, job.target, job.type, status);
  rt.blockJobsCv.notify_all();
}

std::shared_ptr<const conf::DomainDef> QemuDriver::liveDefWithBlockState(const DomainView& v) {
  auto rt = v.active() ? runtime(v.def->uuid) : nullptr;
  if (!rt || !rt->mon) return v.def;
  auto blocks = queryBlock(*rt->mon);
  if (!blocks) return v.def;
  auto def = std::make_shared<conf::DomainDef>(*v.def);
  std::map<std::string, Runtime::BlockJob> jobs;
  {
    std::lock_guard lk(rt->blockJobsMutex);
    jobs = rt->blockJobs;
  }
  for (auto& disk : def->disks) {
    if (!disk.sourcePath || disk.type != conf::DiskType::File) continue;
    for (auto& b : *blocks) {
      if (b.file != *disk.sourcePath) continue;
      disk.backingChainKnown = true;
      for (auto& [file, format] : b.backingChain) disk.backingChain.push_back({file, format});
    }
    if (auto it = jobs.find(disk.targetDev); it != jobs.end() && it->second.type == kJobActiveCommit)
      disk.mirror = conf::DiskDef::Mirror{"active-commit", it->second.baseFile, it->second.baseFormat,
                                          it->second.ready};
  }
  return def;
}

void QemuDriver::bindBlockJobs(rpc::Program& p) {
  // Common start: the running guest, its disk, no job on it yet.
  struct Start {
    std::shared_ptr<Runtime> rt;
    conf::DiskDef disk;
  };
  // The running guest's QEMU and the disk named by target or source path
  // (a copy: the definition may change while a job runs).
  auto locate = [this](const NonnullDomain& dom,
                       const std::string& path) -> Result<std::pair<std::shared_ptr<Runtime>, conf::DiskDef>> {
    auto v = fromHandle(domains_, dom);
    if (!v) return v.error();
    auto rt = runtime(dom.uuid);
    if (!v->active() || !rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    const conf::DiskDef* disk = diskByName(*v->def, path);
    if (!disk) return diskNotFound(path);
    return std::make_pair(rt, *disk);
  };
  auto begin = [locate](const NonnullDomain& dom, const std::string& path) -> Result<Start> {
    auto found = locate(dom, path);
    if (!found) return found.error();
    auto& [rt, disk] = *found;
    std::lock_guard lk(rt->blockJobsMutex);
    if (rt->blockJobs.count(disk.targetDev))
      return Error::operationUnsupported(kErr, "disk '" + disk.targetDev + "' already in active block job");
    return Start{rt, disk};
  };
  auto startJob = [](Start& s, Runtime::BlockJob job, std::string_view cmd, const std::string& args) -> Result<void> {
    {
      std::lock_guard lk(s.rt->blockJobsMutex);
      s.rt->blockJobs[job.target] = job;  // before QEMU can report on it
    }
    auto r = s.rt->mon->execute(cmd, args);
    if (!r) {
      std::lock_guard lk(s.rt->blockJobsMutex);
      s.rt->blockJobs.erase(job.target);
      return r.error();
    }
    return {};
  };

  p.bind(kDomainBlockCommit, [this, begin, startJob](ConnContext&, BlockCommitArgs&& a) -> Result<Void> {
    if (a.flags & ~(kCommitShallow | kCommitDelete | kCommitActive | kCommitRelative | kCommitBytes))
      return Error::unsupportedFlags(kErr, a.flags & ~0x1fu, "qemuDomainBlockCommit");
    if (a.flags & (kCommitDelete | kCommitRelative))
      return Error::argumentUnsupported(kErr, "deleting committed images and relative backing names are not "
                                              "supported");
    auto speed = bandwidthBytes(a.bandwidth, a.flags & kCommitBytes);
    if (!speed) return speed.error();
    if (!domains_.findByUuid(a.dom.uuid)) return noDomainByHandle(a.dom);
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    auto s = begin(a.dom, a.disk);
    if (!s) return s.error();
    const conf::DiskDef& disk = s->disk;
    if (!disk.sourcePath)
      return Error::configUnsupported(kErr, "disk " + disk.targetDev + " has no source file to be committed");
    const std::string active = *disk.sourcePath;
    auto chain = chainOf(active);
    auto find = [&](const std::string& f) { return std::find(chain.begin(), chain.end(), f); };
    const std::string top = a.top ? *a.top : active;
    auto topIt = find(top);
    if (topIt == chain.end())
      return Error::invalidArg(ErrorDomain::Storage, "could not find image '" + top + "' in chain for '" + disk.targetDev + "'");
    // libvirt looks the base up first: nothing below top is "no base".
    if (topIt + 1 == chain.end())
      return Error::invalidArg(ErrorDomain::Storage, "could not find base image in chain for '" + disk.targetDev + "'");
    if (top == active && !(a.flags & kCommitActive))
      return Error::invalidArg(kErr, "commit of '" + disk.targetDev + "' active layer requires active flag");
    if (top != active && (a.flags & kCommitActive))
      return Error::invalidArg(kErr, "active commit requested but '" + top + "' is not active");
    std::string base = (a.flags & kCommitShallow) ? *(topIt + 1) : chain.back();
    if (a.base) {
      auto baseIt = find(*a.base);
      if (baseIt == chain.end() || baseIt <= topIt)
        return Error::invalidArg(ErrorDomain::Storage, "could not find base image in chain for '" + disk.targetDev + "'");
      if ((a.flags & kCommitShallow) && baseIt != topIt + 1)
        return Error::invalidArg(kErr, "base '" + *a.base + "' is not immediately below '" + top + "' in chain for '" +
                                           active + "'");
      base = *a.base;
    }
    auto activeNode = formatNodeOf(*s->rt->mon, active);
    auto topNode = formatNodeOf(*s->rt->mon, top);
    auto baseNode = formatNodeOf(*s->rt->mon, base);
    if (!activeNode || !topNode || !baseNode)
      return Error::operationFailed(kErr, "failed to find the block nodes of the chain of '" + disk.targetDev + "'");
    Runtime::BlockJob job;
    job.jobId = "commit-" + disk.targetDev;
    job.target = disk.targetDev;
    job.path = active;
    job.type = top == active ? kJobActiveCommit : kJobCommit;
    job.baseFile = base;
    auto graph = scanImages({base});
    job.baseFormat = graph ? graph->formatOf(base) : "qcow2";
    auto args = JsonArgs().str("job-id", job.jobId).str("device", *activeNode).str("base-node", *baseNode);
    if (top != active) args.str("top-node", *topNode);
    if (*speed) args.num("speed", static_cast<int64_t>(*speed));
    SV_TRY_VOID(startJob(*s, job, "block-commit", args.json()));
    return Void{};
  });

  auto pull = [this, begin, startJob](const NonnullDomain& dom, const std::string& path, const OptString& base,
                                      uint64_t bandwidth, bool bytes) -> Result<Void> {
    auto speed = bandwidthBytes(bandwidth, bytes);
    if (!speed) return speed.error();
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    auto s = begin(dom, path);
    if (!s) return s.error();
    const conf::DiskDef& disk = s->disk;
    if (!disk.sourcePath) return Error::configUnsupported(kErr, "disk " + disk.targetDev + " has no source file");
    const std::string active = *disk.sourcePath;
    auto activeNode = formatNodeOf(*s->rt->mon, active);
    if (!activeNode) return activeNode.error();
    auto args = JsonArgs().str("job-id", "pull-" + disk.targetDev).str("device", *activeNode);
    if (base) {
      auto chain = chainOf(active);
      if (std::find(chain.begin() + 1, chain.end(), *base) == chain.end())
        return Error::invalidArg(ErrorDomain::Storage, "could not find base image in chain for '" + disk.targetDev + "'");
      auto baseNode = formatNodeOf(*s->rt->mon, *base);
      if (!baseNode) return baseNode.error();
      args.str("base-node", *baseNode);
    }
    if (*speed) args.num("speed", static_cast<int64_t>(*speed));
    Runtime::BlockJob job;
    job.jobId = "pull-" + disk.targetDev;
    job.target = disk.targetDev;
    job.path = active;
    job.type = kJobPull;
    SV_TRY_VOID(startJob(*s, job, "block-stream", args.json()));
    return Void{};
  };
  p.bind(kDomainBlockPull, [pull](ConnContext&, BlockPullArgs&& a) -> Result<Void> {
    // VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES
    if (a.flags & ~64u) return Error::unsupportedFlags(kErr, a.flags & ~64u, "qemuDomainBlockPull");
    return pull(a.dom, a.path, std::nullopt, a.bandwidth, a.flags & 64u);
  });
  p.bind(kDomainBlockRebase, [pull](ConnContext&, BlockRebaseArgs&& a) -> Result<Void> {
    // Only the pull form (no COPY): SHALLOW 1 and REUSE_EXT 2 mean nothing
    // without COPY; BANDWIDTH_BYTES 64.
    if (a.flags & 8u /* COPY */)
      return Error::argumentUnsupported(kErr, "block copy is not supported");
    if (a.flags & ~(1u | 2u | 64u)) return Error::unsupportedFlags(kErr, a.flags & ~(1u | 2u | 64u), "qemuDomainBlockRebase");
    return pull(a.dom, a.path, a.base, a.bandwidth, a.flags & 64u);
  });

  p.bind(kDomainGetBlockJobInfo, [this, locate](ConnContext&, BlockJobPathArgs&& a) -> Result<BlockJobInfoRet> {
    // VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "qemuDomainGetBlockJobInfo");
    auto found = locate(a.dom, a.path);
    if (!found) return found.error();
    auto& [rt, disk] = *found;
    Runtime::BlockJob job;
    {
      std::lock_guard lk(rt->blockJobsMutex);
      auto it = rt->blockJobs.find(disk.targetDev);
      if (it == rt->blockJobs.end()) return BlockJobInfoRet{};  // no job: found 0
      job = it->second;
    }
    auto r = rt->mon->execute("query-block-jobs", "{}");
    if (!r) return r.error();
    boost::system::error_code ec;
    auto jv = boost::json::parse(*r, ec);
    const auto* arr = ec ? nullptr : jv.if_array();
    BlockJobInfoRet ret;
    for (auto& e : arr ? *arr : boost::json::array{}) {
      const auto* o = e.if_object();
      if (!o || !o->if_contains("device") || o->at("device") != job.jobId.c_str()) continue;
      auto num = [&](const char* k) -> uint64_t {
        auto* x = o->if_contains(k);
        return x && x->is_number() ? x->to_number<uint64_t>() : 0;
      };
      ret.found = 1;
      ret.type = job.type;
      ret.bandwidth = (a.flags & 1u) ? num("speed") : num("speed") >> 20;
      ret.cur = num("offset");
      ret.end = num("len");
      // libvirt shows a job that can pivot as complete.
      if (job.ready && ret.cur != ret.end) ret.cur = ret.end;
    }
    return ret;
  });

  p.bind(kDomainBlockJobSetSpeed, [this, locate](ConnContext&, BlockJobSetSpeedArgs&& a) -> Result<Void> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "qemuDomainBlockJobSetSpeed");
    auto speed = bandwidthBytes(a.bandwidth, a.flags & 1u);
    if (!speed) return speed.error();
    auto found = locate(a.dom, a.path);
    if (!found) return found.error();
    auto& [rt, disk] = *found;
    std::string jobId;
    {
      std::lock_guard lk(rt->blockJobsMutex);
      auto it = rt->blockJobs.find(disk.targetDev);
      if (it == rt->blockJobs.end())
        return Error::invalidArg(kErr, "disk " + disk.targetDev + " does not have an active block job");
      jobId = it->second.jobId;
    }
    auto r = rt->mon->execute("block-job-set-speed",
                              JsonArgs().str("device", jobId).num("speed", static_cast<int64_t>(*speed)).json());
    if (!r) return r.error();
    return Void{};
  });

  p.bind(kDomainBlockJobAbort, [this, locate](ConnContext&, BlockJobPathArgs&& a) -> Result<Void> {
    // VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC 1 | PIVOT 2
    if (a.flags & ~3u) return Error::unsupportedFlags(kErr, a.flags & ~3u, "qemuDomainBlockJobAbort");
    if (!domains_.findByUuid(a.dom.uuid)) return noDomainByHandle(a.dom);
    auto lock = jobLock(a.dom.uuid);
    std::unique_lock jl(*lock);
    auto found = locate(a.dom, a.path);
    if (!found) return found.error();
    auto& [rt, disk] = *found;
    const std::string target = disk.targetDev;
    std::string jobId;
    const bool pivot = a.flags & 2u;
    {
      std::lock_guard lk(rt->blockJobsMutex);
      auto it = rt->blockJobs.find(target);
      if (it == rt->blockJobs.end())
        return Error::invalidArg(kErr, "disk " + target + " does not have an active block job");
      if (pivot && !it->second.ready)
        return Error::make(static_cast<ErrorCode>(83) /* VIR_ERR_BLOCK_COPY_ACTIVE */, kErr,
                           "block copy still active: %s", "block copy still active",
                           "block job '" + it->second.jobId + "' not ready for pivot yet");
      (pivot ? it->second.pivot : it->second.abort) = true;
      jobId = it->second.jobId;
    }
    auto r = pivot ? rt->mon->execute("job-complete", JsonArgs().str("id", jobId).json())
                   : rt->mon->execute("block-job-cancel", JsonArgs().str("device", jobId).json());
    if (!r) {
      std::lock_guard lk(rt->blockJobsMutex);
      if (auto it = rt->blockJobs.find(target); it != rt->blockJobs.end()) it->second.pivot = it->second.abort = false;
      return r.error();
    }
    if (a.flags & 1u) return Void{};
    // Synchronous: the job is over once QEMU said so (the event handler
    // removes it). The domain's lock is not held meanwhile: monitor events
    // queued before that one may need it.
    jl.unlock();
    std::unique_lock lk(rt->blockJobsMutex);
    if (!rt->blockJobsCv.wait_for(lk, std::chrono::minutes(5), [&] { return !rt->blockJobs.count(target); }))
      return Error::make(ErrorCode::OperationTimeout, kErr, "operation timed out: %s", "operation timed out",
                         "block job '" + target + "' did not end");
    return Void{};
  });
}

}  // namespace splitvirt::qemu
