// Resizing a guest: memory and vCPU counts (virsh setmem / setmaxmem /
// setvcpus), live through the balloon and in the persistent definition with
// libvirt's rules for which definitions a call affects; and disks (virsh
// blockresize, QMP block_resize).
#include "domain/domain_common.hpp"
#include "domain/domain_stats.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_commands.hpp"
#include "protocol/domain_misc_procs.hpp"
#include "qemu_driver.hpp"

#include <cstdint>

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainView;
using rpc::ConnContext;

namespace {

constexpr uint32_t kAffectLive = 1;

}  // namespace

void QemuDriver::bindResize(rpc::Program& p) {
  // VIR_DOMAIN_AFFECT_LIVE | AFFECT_CONFIG | VIR_DOMAIN_MEM_MAXIMUM
  auto setMemory = [this](const NonnullDomain& dom, uint64_t kib, uint32_t flags) -> Result<Void> {
    if (flags & ~7u) return Error::unsupportedFlags(kErr, flags & ~7u, "qemuDomainSetMemoryFlags");
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    auto v = fromHandle(domains_, dom);
    if (!v) return v.error();
    auto which = affectedDefs(*v, flags & 3u);
    if (!which) return which.error();
    auto [live, config] = *which;
    if (flags & 4u) {
      if (live) return Error::operationInvalid(kErr, "cannot resize the maximum memory on an active domain");
      auto def = std::make_shared<conf::DomainDef>(*v->persistentDef());
      def->maxMemoryKiB = kib;
      if (def->currentMemoryKiB > kib || !def->currentMemoryKiB) def->currentMemoryKiB = kib;
      SV_TRY_VOID(savePersistentDef(dom.uuid, def));
      return Void{};
    }
    uint64_t max = live ? v->def->maxMemoryKiB : 0;
    if (config && (!live || v->persistentDef()->maxMemoryKiB < max)) max = v->persistentDef()->maxMemoryKiB;
    if (kib > max) return Error::invalidArg(kErr, "cannot set memory higher than max memory");
    if (live) {
      auto rt = runtime(dom.uuid);
      if (!rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
      if (!v->def->memballoon || v->def->memballoon->model == "none")
        return Error::operationInvalid(kErr, "Unable to change memory of active domain without the balloon device "
                                             "and guest OS balloon driver");
      // The live <currentMemory> follows QEMU's BALLOON_CHANGE, as in libvirt.
      auto r = rt->mon->execute("balloon", JsonArgs().num("value", static_cast<int64_t>(kib * 1024)).json());
      if (!r) return r.error();
    }
    if (config) {
      auto def = std::make_shared<conf::DomainDef>(*v->persistentDef());
      def->currentMemoryKiB = kib;
      SV_TRY_VOID(savePersistentDef(dom.uuid, def));
    }
    return Void{};
  };
  p.bind(kDomainSetMemoryFlags, [setMemory](ConnContext&, SetMemoryFlagsArgs&& a) {
    return setMemory(a.dom, a.memory, a.flags);
  });
  p.bind(kDomainSetMemory, [setMemory](ConnContext&, DomUlongArgs&& a) { return setMemory(a.dom, a.value, kAffectLive); });
  p.bind(kDomainSetMaxMemory, [setMemory](ConnContext&, DomUlongArgs&& a) { return setMemory(a.dom, a.value, 4u); });

  // VIR_DOMAIN_AFFECT_LIVE | AFFECT_CONFIG | VCPU_MAXIMUM 4 | VCPU_GUEST 8 | VCPU_HOTPLUGGABLE 16
  auto setVcpus = [this](const NonnullDomain& dom, uint32_t n, uint32_t flags) -> Result<Void> {
    if (flags & ~0x1fu) return Error::unsupportedFlags(kErr, flags & ~0x1fu, "qemuDomainSetVcpusFlags");
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    auto v = fromHandle(domains_, dom);
    if (!v) return v.error();
    if (flags & 8u) return Error::argumentUnsupported(kErr, "QEMU guest agent is not configured");
    auto which = affectedDefs(*v, flags & 3u);
    if (!which) return which.error();
    auto [live, config] = *which;
    if (n == 0) return Error::invalidArg(kErr, "argument unsupported: vcpus count must be greater than 0");
    if (live) {
      if (flags & 4u) return Error::operationUnsupported(kErr, "maximum vcpu count of a live domain can't be modified");
      if (n > v->def->vcpusMax)
        return Error::invalidArg(kErr, "requested vcpus is greater than max allowable vcpus for the live domain: " +
                                           std::to_string(n) + " > " + std::to_string(v->def->vcpusMax));
      if (n != v->def->vcpus)
        return Error::operationUnsupported(kErr, "changing the number of vCPUs of a running guest is not supported");
    }
    if (config) {
      auto def = std::make_shared<conf::DomainDef>(*v->persistentDef());
      if (flags & 4u) {
        def->vcpusMax = n;
        if (def->vcpus > n) def->vcpus = n;
      } else {
        if (n > def->vcpusMax)
          return Error::invalidArg(kErr, "requested vcpus is greater than max allowable vcpus for the persistent "
                                         "domain: " + std::to_string(n) + " > " + std::to_string(def->vcpusMax));
        def->vcpus = n;
      }
      SV_TRY_VOID(savePersistentDef(dom.uuid, def));
    }
    return Void{};
  };
  // VIR_DOMAIN_BLOCK_RESIZE_BYTES; the size is KiB without it.
  p.bind(kDomainBlockResize, [this](ConnContext&, BlockResizeArgs&& a) -> Result<Void> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "qemuDomainBlockResize");
    uint64_t size = a.size;
    if (!(a.flags & 1u)) {
      if (size > UINT64_MAX / 1024)
        return Error::make(static_cast<ErrorCode>(82) /* VIR_ERR_OVERFLOW */, kErr, "numerical overflow: %s", "numerical overflow",
                           "size must be less than " + std::to_string(UINT64_MAX / 1024));
      size *= 1024;
    }
    if (!domains_.findByUuid(a.dom.uuid)) return noDomainByHandle(a.dom);
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto rt = runtime(a.dom.uuid);
    if (!v->active() || !rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    const conf::DiskDef* disk = nullptr;
    for (auto& d : v->def->disks)
      if (d.targetDev == a.disk || (d.sourcePath && *d.sourcePath == a.disk)) disk = &d;
    if (!disk) return Error::invalidArg(kErr, "disk '" + a.disk + "' was not found in the domain config");
    // qcow2 sizes are whole 512-byte sectors.
    if (disk->driverType.value_or("raw") == "qcow2") size = (size + 511) / 512 * 512;
    if (!disk->sourcePath || disk->readonly)
      return Error::operationUnsupported(kErr, "can't resize empty or readonly disk '" + disk->targetDev + "'");
    auto ld = queryLiveBlocks(*rt->mon).find(*disk);
    if (!ld) return Error::internal(kErr, "cannot find the block node of disk '" + disk->targetDev + "'");
    auto r = rt->mon->execute("block_resize",
                              JsonArgs().str("node-name", ld->nodeName).num("size", static_cast<int64_t>(size)).json());
    if (!r) return r.error();
    return Void{};
  });

  p.bind(kDomainSetVcpusFlags, [setVcpus](ConnContext&, SetVcpusFlagsArgs&& a) { return setVcpus(a.dom, a.nvcpus, a.flags); });
  p.bind(kDomainSetVcpus, [setVcpus](ConnContext&, DomUintArgs&& a) { return setVcpus(a.dom, a.value, kAffectLive); });
}

}  // namespace splitvirt::qemu
