// Small queries and actions on a running guest: control info, disk I/O
// errors, job info/stats, NMI injection.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_commands.hpp"
#include "protocol/domain_misc_procs.hpp"
#include "qemu_driver.hpp"

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainView;
using rpc::ConnContext;

void QemuDriver::bindControl(rpc::Program& p) {
  auto running = [this](const NonnullDomain& dom) -> Result<std::pair<DomainView, std::shared_ptr<Runtime>>> {
    auto v = fromHandle(domains_, dom);
    if (!v) return v.error();
    auto rt = runtime(dom.uuid);
    if (!v->active() || !rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    return std::make_pair(*v, rt);
  };

  p.bind(kDomainGetControlInfo, [this, running](ConnContext&, DomFlagsArg&& a) -> Result<ControlInfoRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainGetControlInfo");
    auto r = running(a.dom);
    if (!r) return r.error();
    ControlInfoRet info;  // VIR_DOMAIN_CONTROL_OK
    if (!r->second->mon->alive()) {
      info.state = 3;    // VIR_DOMAIN_CONTROL_ERROR
      info.details = 1;  // VIR_DOMAIN_CONTROL_ERROR_REASON_MONITOR
      return info;
    }
    // A job holds the domain's lock while it talks to QEMU.
    auto lock = jobLock(a.dom.uuid);
    if (!lock->try_lock()) {
      info.state = 1;  // VIR_DOMAIN_CONTROL_JOB
      return info;
    }
    lock->unlock();
    return info;
  });

  p.bind(kDomainGetDiskErrors, [running](ConnContext&, DiskErrorsArgs&& a) -> Result<DiskErrorsRet> {
    if (a.maxerrors > kDiskErrorsMax) return Error::internal(ErrorDomain::Rpc, "maxerrors too large");
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainGetDiskErrors");
    auto r = running(a.dom);
    if (!r) return r.error();
    DiskErrorsRet ret;
    // Without room for errors the caller asks how many there could be.
    if (a.maxerrors == 0) {
      ret.nerrors = static_cast<int32_t>(r->first.def->disks.size());
      return ret;
    }
    auto blocks = queryBlock(*r->second->mon);
    if (!blocks) return blocks.error();
    for (auto& disk : r->first.def->disks) {
      for (auto& b : *blocks) {
        if (!disk.sourcePath || b.file != *disk.sourcePath) continue;
        // VIR_DOMAIN_DISK_ERROR_UNSPEC 1, _NO_SPACE 2
        int err = b.ioStatus == "failed" ? 1 : b.ioStatus == "nospace" ? 2 : 0;
        if (err && ret.errors.size() < a.maxerrors) ret.errors.push_back({disk.targetDev, err});
      }
    }
    ret.nerrors = static_cast<int32_t>(ret.errors.size());
    return ret;
  });

  // No job of ours reports progress yet: a running guest has none (NONE).
  p.bind(kDomainGetJobInfo, [running](ConnContext&, DomArg&& a) -> Result<JobInfoRet> {
    auto r = running(a.dom);
    if (!r) return r.error();
    return JobInfoRet{};
  });
  p.bind(kDomainGetJobStats, [this, running](ConnContext&, DomFlagsArg&& a) -> Result<JobStatsRet> {
    // VIR_DOMAIN_JOB_STATS_COMPLETED | KEEP_COMPLETED
    if (a.flags & ~3u) return Error::unsupportedFlags(kErr, a.flags & ~3u, "qemuDomainGetJobStats");
    if (a.flags & 1u) {
      if (!fromHandle(domains_, a.dom)) return noDomainByHandle(a.dom);
      return JobStatsRet{};
    }
    auto r = running(a.dom);
    if (!r) return r.error();
    return JobStatsRet{};
  });

  p.bind(kDomainInjectNmi, [this, running](ConnContext&, DomFlagsArg&& a) -> Result<Void> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainInjectNMI");
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    auto r = running(a.dom);
    if (!r) return r.error();
    auto res = r->second->mon->execute("inject-nmi", "{}");
    if (!res) return res.error();
    return Void{};
  });
}

}  // namespace splitvirt::qemu
