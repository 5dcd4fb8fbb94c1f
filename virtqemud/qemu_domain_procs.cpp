// Domain definition and query procedures of virtqemud (first slice:
// define/undefine/lookup/info/state/XML/autostart/list).
#include "conf/domain_def.hpp"
#include "domain/domain_common.hpp"
#include "protocol/domain_procs.hpp"
#include "process/proc_stats.hpp"
#include "process/spawn.hpp"
#include "qemu_driver.hpp"

#include <unistd.h>

#include <cerrno>
#include <functional>

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainState;
using objects::DomainView;
using rpc::ConnContext;

namespace {

// virConnectListAllDomainsFlags
constexpr uint32_t kListActive = 1, kListInactive = 2, kListPersistent = 4, kListTransient = 8,
                   kListRunning = 16, kListPaused = 32, kListShutoff = 64, kListOther = 128,
                   kListManagedSave = 256, kListNoManagedSave = 512, kListAutostart = 1024,
                   kListNoAutostart = 2048, kListHasSnapshot = 4096, kListNoSnapshot = 8192,
                   kListHasCheckpoint = 16384, kListNoCheckpoint = 32768;
constexpr uint32_t kListAll = 0xffff;


}  // namespace

// managedSave / hasSnapshots: asked only when the filter needs them (a
// file check, the snapshot trees' lock).
bool matchesListFilter(const DomainView& v, uint32_t f, const std::function<bool()>& managedSave,
                   const std::function<bool()>& hasSnapshots) {
  auto group = [&](uint32_t a, uint32_t b, bool isA) {
    if (!(f & (a | b))) return true;
    return isA ? (f & a) != 0 : (f & b) != 0;
  };
  if (!group(kListActive, kListInactive, v.active())) return false;
  if (!group(kListPersistent, kListTransient, v.persistent)) return false;
  if (f & (kListRunning | kListPaused | kListShutoff | kListOther)) {
    bool ok = (f & kListRunning && v.state == DomainState::Running) ||
              (f & kListPaused && v.state == DomainState::Paused) ||
              (f & kListShutoff && v.state == DomainState::Shutoff) ||
              (f & kListOther && v.state != DomainState::Running && v.state != DomainState::Paused &&
               v.state != DomainState::Shutoff);
    if (!ok) return false;
  }
  if ((f & (kListManagedSave | kListNoManagedSave)) &&
      !group(kListManagedSave, kListNoManagedSave, !v.active() && managedSave()))
    return false;
  if (!group(kListAutostart, kListNoAutostart, v.autostart)) return false;
  if ((f & (kListHasSnapshot | kListNoSnapshot)) && !group(kListHasSnapshot, kListNoSnapshot, hasSnapshots()))
    return false;
  if (!group(kListHasCheckpoint, kListNoCheckpoint, false)) return false;
  return true;
}

void QemuDriver::bindDomain(rpc::Program& p) {
  auto& list = domains_;
  auto define = [this](std::string_view xml, uint32_t flags) -> Result<DomRet> {
    if (flags & ~1u) return Error::unsupportedFlags(kErr, flags & ~1u, "qemuDomainDefineXMLFlags");
    // Parse errors come from the shared domain config code: error domain DOMAIN.
    auto parsed = conf::parseDomainDef(xml, (flags & 1u) ? conf::kParseValidateSchema : 0, ErrorDomain::Domain);
    if (!parsed) return parsed.error();
    auto def = std::make_shared<const conf::DomainDef>(std::move(*parsed));

    auto lk = domains_.writeLock();
    bool updated = false;
    DomainView v;
    if (auto old = domains_.findByUuid(def->uuid)) {
      if (old->def->name != def->name)
        return Error::operationFailed(ErrorDomain::Domain, "domain '" + old->def->name +
                                                               "' is already defined with uuid " +
                                                               conf::formatUuid(def->uuid));
      v = *old;
      updated = true;
    } else if (auto byName = domains_.findByName(def->name)) {
      return Error::operationFailed(ErrorDomain::Domain, "domain '" + def->name + "' already exists with uuid " +
                                                             conf::formatUuid(byName->def->uuid));
    }
    auto ticket = store_->save(*def);
    if (!ticket) return ticket.error();
    // A running guest keeps its live definition; the new one applies at the next start.
    if (v.active())
      v.newDef = def;
    else
      v.def = def;
    v.persistent = true;
    domains_.put(v);
    lk.unlock();
    // Acknowledged only once durable; concurrent defines share the flush.
    if (auto r = store_->waitDurable(*ticket); !r) return r.error();
    events_->domainLifecycle(handleOf(v), kEvDefined, updated ? kDetailUpdated : kDetailAdded);
    return DomRet{handleOf(v)};
  };
  p.bind(kDomainDefineXml, [define](ConnContext&, XmlArg&& a) { return define(a.xml, 0); });
  p.bind(kDomainDefineXmlFlags, [define](ConnContext&, XmlFlagsArg&& a) { return define(a.xml, a.flags); });

  auto undefine = [this](const NonnullDomain& dom, uint32_t flags) -> Result<Void> {
    // checkpoint metadata, nvram and tpm flags: there is nothing of those
    // to remove, so they are accepted.
    if (flags & ~0x7fu) return Error::unsupportedFlags(kErr, flags & ~0x7fu, "qemuDomainUndefineFlags");
    auto lk = domains_.writeLock();
    auto v = fromHandle(domains_, dom);
    if (!v) return v.error();
    if (!v->persistent) return Error::operationInvalid(kErr, "cannot undefine transient domain");
    if (!v->active() && hasManagedSave(v->def->name)) {
      // VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
      if (!(flags & 1u))
        return Error::operationInvalid(kErr, "Refusing to undefine while domain managed save image exists");
      const std::string image = managedSavePath(v->def->name);
      if (::unlink(image.c_str()) != 0 && errno != ENOENT)
        return Error::systemError(kErr, errno, "Failed to remove domain managed save image");
    }
    if (!v->active()) {
      std::lock_guard slk(snapMutex_);
      if (auto it = snapTrees_.find(v->def->uuid); it != snapTrees_.end() && !it->second.empty()) {
        // VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        if (!(flags & 2u))
          return Error::operationInvalid(kErr, "cannot delete inactive domain with " +
                                                   std::to_string(it->second.size()) + " snapshots");
        if (auto r = snapStore_->removeAll(v->def->name); !r) return r.error();
        snapTrees_.erase(it);
      }
    }
    auto ticket = store_->remove(v->def->name);
    if (!ticket) return ticket.error();
    if (v->active()) {
      v->persistent = false;
      v->autostart = false;
      v->newDef = nullptr;
      domains_.put(*v);
    } else {
      domains_.remove(v->def->uuid);
    }
    lk.unlock();
    if (auto r = store_->waitDurable(*ticket); !r) return r.error();
    events_->domainLifecycle(handleOf(*v), kEvUndefined, kDetailRemoved);
    return Void{};
  };
  p.bind(kDomainUndefine, [undefine](ConnContext&, DomArg&& a) { return undefine(a.dom, 0); });
  p.bind(kDomainUndefineFlags, [undefine](ConnContext&, DomFlagsArg&& a) { return undefine(a.dom, a.flags); });

  p.bind(kDomainLookupByName, [&list](ConnContext&, NameArg&& a) -> Result<DomRet> {
    auto v = list.findByName(a.name);
    if (!v) return Error::noDomain(kErr, "no domain with matching name '" + a.name + "'");
    return DomRet{handleOf(*v)};
  });
  p.bind(kDomainLookupByUuid, [&list](ConnContext&, UuidArg&& a) -> Result<DomRet> {
    auto v = list.findByUuid(a.uuid);
    if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(a.uuid) + "'");
    return DomRet{handleOf(*v)};
  });
  p.bind(kDomainLookupById, [&list](ConnContext&, IntArg&& a) -> Result<DomRet> {
    auto v = list.findById(a.value);
    if (!v) return Error::noDomain(kErr, "no domain with matching id " + std::to_string(a.value));
    return DomRet{handleOf(*v)};
  });

  p.bind(kDomainGetXmlDesc, [this, &list](ConnContext& ctx, DomFlagsArg&& a) -> Result<StringRet> {
    // SECURE | INACTIVE | UPDATE_CPU | MIGRATABLE
    if (a.flags & ~0xfu) return Error::unsupportedFlags(kErr, a.flags & ~0xfu, "qemuDomainGetXMLDesc");
    if ((a.flags & 1u) && ctx.readonly)
      return Error::operationDenied(ErrorDomain::Domain, "virDomainGetXMLDesc with secure flag");
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    unsigned f = 0;
    if (a.flags & 1u) f |= conf::kFormatSecure;
    if (a.flags & 2u) f |= conf::kFormatInactive;
    if (a.flags & 2u) return StringRet{conf::formatDomainDef(*v->persistentDef(), f, -1)};
    return StringRet{conf::formatDomainDef(*liveDefWithBlockState(*v), f, v->id)};
  });

  p.bind(kDomainGetInfo, [this, &list](ConnContext&, DomArg&& a) -> Result<DomainGetInfoRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    DomainGetInfoRet r;
    r.state = static_cast<uint32_t>(v->state);
    r.maxMem = v->def->maxMemoryKiB;
    r.memory = v->def->currentMemoryKiB;
    r.nrVirtCpu = v->def->vcpus;
    r.cpuTime = 0;
    if (v->active())
      if (auto pid = runningPid(v->def->uuid); pid > 0) r.cpuTime = processCpuTimeNs(pid);
    return r;
  });

  p.bind(kDomainGetState, [&list](ConnContext&, DomFlagsArg&& a) -> Result<DomainGetStateRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainGetState");
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return DomainGetStateRet{static_cast<int32_t>(v->state), v->reason};
  });

  p.bind(kDomainGetOsType, [&list](ConnContext&, DomArg&& a) -> Result<StringRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return StringRet{v->def->osType};
  });
  p.bind(kDomainGetMaxMemory, [&list](ConnContext&, DomArg&& a) -> Result<UHyperRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return UHyperRet{v->def->maxMemoryKiB};
  });
  p.bind(kDomainGetMaxVcpus, [&list](ConnContext&, DomArg&& a) -> Result<IntRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    if (!v->active()) return Error::operationInvalid(kErr, "domain is not running");
    return IntRet{static_cast<int32_t>(v->def->maxVcpus())};
  });
  p.bind(kDomainGetVcpusFlags, [&list](ConnContext&, DomFlagsArg&& a) -> Result<IntRet> {
    // AFFECT_LIVE 1 | AFFECT_CONFIG 2 | VCPU_MAXIMUM 4 | VCPU_GUEST 8
    if (a.flags & ~0xfu) return Error::unsupportedFlags(kErr, a.flags & ~0xfu, "qemuDomainGetVcpusFlags");
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    if ((a.flags & 3u) == 3u)
      return Error::invalidArg(ErrorDomain::Domain, "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' "
                                                    "are mutually exclusive");
    // AFFECT_CURRENT: the live definition of a running guest, else the persistent one.
    const bool live = (a.flags & 1u) || (!(a.flags & 2u) && v->active());
    if (live && !v->active()) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    if (a.flags & 8u) return Error::operationInvalid(kErr, "domain is not running");
    const conf::DomainDef& def = live ? *v->def : *v->persistentDef();
    return IntRet{static_cast<int32_t>((a.flags & 4u) ? def.maxVcpus() : def.vcpus)};
  });

  p.bind(kDomainIsActive, [&list](ConnContext&, DomArg&& a) -> Result<IntRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return IntRet{v->active() ? 1 : 0};
  });
  p.bind(kDomainIsPersistent, [&list](ConnContext&, DomArg&& a) -> Result<IntRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return IntRet{v->persistent ? 1 : 0};
  });
  p.bind(kDomainIsUpdated, [&list](ConnContext&, DomArg&& a) -> Result<IntRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return IntRet{0};
  });

  p.bind(kDomainGetAutostart, [&list](ConnContext&, DomArg&& a) -> Result<IntRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return IntRet{v->autostart ? 1 : 0};
  });
  p.bind(kDomainSetAutostart, [this](ConnContext&, DomIntArg&& a) -> Result<Void> {
    auto lk = domains_.writeLock();
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    if (!v->persistent) return Error::operationInvalid(kErr, "cannot set autostart for transient domain");
    bool on = a.value != 0;
    if (on != v->autostart) {
      auto ticket = store_->setAutostart(v->def->name, on);
      if (!ticket) return ticket.error();
      domains_.setAutostart(v->def->uuid, on);
      lk.unlock();
      if (auto r = store_->waitDurable(*ticket); !r) return r.error();
    }
    return Void{};
  });

  // The "none" security driver labels nothing: an empty label, not enforcing.
  p.bind(kDomainGetSecurityLabel, [&list](ConnContext&, DomArg&& a) -> Result<DomainGetSecurityLabelRet> {
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    DomainGetSecurityLabelRet r;
    r.label.chars = std::string(1, '\0');
    r.enforcing = 0;
    return r;
  });

  p.bind(kDomainGetMessages, [&list](ConnContext&, DomFlagsArg&& a) -> Result<DomainGetMessagesRet> {
    if (a.flags & ~3u) return Error::unsupportedFlags(kErr, a.flags & ~3u, "qemuDomainGetMessages");
    auto v = fromHandle(list, a.dom);
    if (!v) return v.error();
    return DomainGetMessagesRet{};
  });

  p.bind(kConnectListAllDomains, [this, &list](ConnContext&, ListAllArgs&& a) -> Result<ListAllDomainsRet> {
    if (a.flags & ~kListAll) return Error::unsupportedFlags(kErr, a.flags & ~kListAll, "qemuConnectListAllDomains");
    ListAllDomainsRet r;
    for (auto& v : list.all()) {
      auto managed = [&] { return hasManagedSave(v.def->name); };
      auto snapshots = [&] {
        std::lock_guard lk(snapMutex_);
        auto it = snapTrees_.find(v.def->uuid);
        return it != snapTrees_.end() && !it->second.empty();
      };
      if (!matchesListFilter(v, a.flags, managed, snapshots)) continue;
      if (a.need_results) {
        if (r.domains.size() >= kDomainListMax)
          return Error::internal(kErr, "too many domains for one reply");
        r.domains.push_back(handleOf(v));
      }
      ++r.ret;
    }
    return r;
  });
  p.bind(kConnectNumOfDomains, [&list](ConnContext&, Void&&) -> Result<IntRet> {
    int n = 0;
    for (auto& v : list.all()) n += v.active();
    return IntRet{n};
  });
  p.bind(kConnectNumOfDefinedDomains, [&list](ConnContext&, Void&&) -> Result<IntRet> {
    int n = 0;
    for (auto& v : list.all()) n += !v.active();
    return IntRet{n};
  });
  p.bind(kConnectListDomains, [&list](ConnContext&, IntArg&& a) -> Result<ListDomainsRet> {
    if (a.value < 0 || static_cast<uint32_t>(a.value) > kDomainListMax)
      return Error::rpc(ErrorDomain::Rpc, "maxids > REMOTE_DOMAIN_LIST_MAX");
    ListDomainsRet r;
    for (auto& v : list.all())
      if (v.active() && r.ids.size() < static_cast<size_t>(a.value)) r.ids.push_back(v.id);
    return r;
  });
  p.bind(kConnectListDefinedDomains, [&list](ConnContext&, IntArg&& a) -> Result<ListNamesRet> {
    if (a.value < 0 || static_cast<uint32_t>(a.value) > kDomainListMax)
      return Error::rpc(ErrorDomain::Rpc, "maxnames > REMOTE_DOMAIN_LIST_MAX");
    ListNamesRet r;
    for (auto& v : list.all())
      if (!v.active() && r.names.size() < static_cast<size_t>(a.value)) r.names.push_back(v.def->name);
    return r;
  });
}

}  // namespace splitvirt::qemu
