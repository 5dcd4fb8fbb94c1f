// Snapshot procedures: create / revert / delete (domain/snapshot_ops.cpp)
// and the lookups and lists virsh snapshot-* use.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_jobs.hpp"
#include "protocol/snapshot_procs.hpp"
#include "qemu_driver.hpp"
#include "util/log.hpp"

namespace splitvirt::qemu {

using namespace protocol;
using rpc::ConnContext;

void QemuDriver::loadSnapshots() {
  snapStore_ = std::make_unique<objects::SnapshotStore>(paths_.stateDir + "/qemu/snapshot", kErr);
  std::lock_guard lk(snapMutex_);
  size_t n = 0;
  for (auto& v : domains_.all()) {
    auto tree = snapStore_->load(v.def->name);
    n += tree.size();
    if (!tree.empty()) snapTrees_[v.def->uuid] = std::move(tree);
  }
  if (n) log::info("loaded %zu snapshots", n);
}

// A daemon that died in the middle of a snapshot delete finishes it now:
// QEMU's block jobs of that delete are settled first, then the delete runs
// again (each of its steps can be repeated).
void QemuDriver::resumeSnapshotDeletes() {
  std::vector<std::pair<conf::Uuid, std::string>> pending;
  {
    std::lock_guard lk(snapMutex_);
    for (auto& [uuid, tree] : snapTrees_)
      for (auto& n : tree.topological())
        if (auto s = tree.find(n))
          for (auto& d : s->disks)
            if (d.deleteInProgress) {
              pending.emplace_back(uuid, n);
              break;
            }
  }
  for (auto& v : domains_.all()) {
    resumeSnapshotRevert(v.def->uuid, v.def->name);
    finishPendingUnlinks(v.def->uuid, v.def->name);
  }
  for (auto& [uuid, name] : pending) {
    auto lock = jobLock(uuid);
    std::lock_guard jl(*lock);
    if (auto rt = runtime(uuid); rt && rt->mon) settleBlockJobs(*rt->mon);
    log::warn("finishing the interrupted delete of snapshot '%s'", name.c_str());
    if (auto r = deleteSnapshot(uuid, name, 0); !r)
      log::error("cannot finish deleting snapshot '%s': %s", name.c_str(), r.error().message.c_str());
  }
}

void QemuDriver::bindSnapshots(rpc::Program& p) {
  // The domain and a consistent copy of its tree (definitions are shared).
  struct Found {
    objects::DomainView dom;
    objects::SnapshotTree tree;
  };
  auto lookup = [this](const NonnullDomain& h) -> Result<Found> {
    auto v = fromHandle(domains_, h);
    if (!v) return v.error();
    std::lock_guard lk(snapMutex_);
    auto it = snapTrees_.find(v->def->uuid);
    return Found{*v, it == snapTrees_.end() ? objects::SnapshotTree{} : it->second};
  };
  auto lookupSnap = [lookup](const NonnullDomainSnapshot& s) -> Result<std::pair<Found, objects::SnapshotDefPtr>> {
    auto f = lookup(s.dom);
    if (!f) return f.error();
    auto def = f->tree.find(s.name);
    if (!def) return objects::noDomainSnapshot(kErr, s.name);
    return std::make_pair(std::move(*f), def);
  };
  auto snapHandle = [](const Found& f, const std::string& name) {
    return NonnullDomainSnapshot{name, handleOf(f.dom)};
  };
  auto checkListFlags = [](uint32_t flags, unsigned allowed, const char* fn) -> Result<void> {
    if (flags & ~allowed) return Error::unsupportedFlags(kErr, flags & ~allowed, fn);
    return {};
  };
  auto names = [](const std::vector<std::string>& all, int32_t maxnames) -> Result<SnapNamesRet> {
    if (maxnames < 0 || static_cast<uint32_t>(maxnames) > kDomainSnapshotListMax)
      return Error::rpc(ErrorDomain::Rpc, "maxnames > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX");
    SnapNamesRet r;
    for (auto& n : all)
      if (r.names.size() < static_cast<size_t>(maxnames)) r.names.push_back(n);
    return r;
  };

  // ---- changes (job lock) ----
  p.bind(kDomainSnapshotCreateXml, [this](ConnContext&, SnapCreateXmlArgs&& a) -> Result<SnapRet> {
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto lock = jobLock(v->def->uuid);
    std::lock_guard jl(*lock);
    auto name = createSnapshot(v->def->uuid, a.xml_desc, a.flags);
    if (!name) return name.error();
    auto now = domains_.findByUuid(v->def->uuid);
    return SnapRet{{*name, handleOf(now ? *now : *v)}};
  });
  p.bind(kDomainRevertToSnapshot, [this](ConnContext&, SnapFlagsArg&& a) -> Result<Void> {
    auto v = fromHandle(domains_, a.snap.dom);
    if (!v) return v.error();
    auto lock = jobLock(v->def->uuid);
    std::lock_guard jl(*lock);
    SV_TRY_VOID(revertToSnapshot(v->def->uuid, a.snap.name, a.flags));
    // As libvirt: the configuration came back from the snapshot, last.
    if (auto now = domains_.findByUuid(v->def->uuid); now && now->persistent)
      events_->domainLifecycle(handleOf(*now), kEvDefined, kDetailDefinedFromSnapshot);
    return Void{};
  });
  p.bind(kDomainSnapshotDelete, [this](ConnContext&, SnapFlagsArg&& a) -> Result<Void> {
    auto v = fromHandle(domains_, a.snap.dom);
    if (!v) return v.error();
    auto lock = jobLock(v->def->uuid);
    std::lock_guard jl(*lock);
    SV_TRY_VOID(deleteSnapshot(v->def->uuid, a.snap.name, a.flags));
    return Void{};
  });

  // ---- domain-level queries ----
  p.bind(kDomainSnapshotNum, [lookup, checkListFlags](ConnContext&, SnapDomFlagsArg&& a) -> Result<IntRet> {
    SV_TRY_VOID(checkListFlags(a.flags, objects::kSnapListDomainFlags, "qemuDomainSnapshotNum"));
    auto f = lookup(a.dom);
    if (!f) return f.error();
    return IntRet{f->tree.count(nullptr, a.flags)};
  });
  p.bind(kDomainSnapshotListNames, [lookup, checkListFlags, names](ConnContext&,
                                                                   SnapListNamesArgs&& a) -> Result<SnapNamesRet> {
    SV_TRY_VOID(checkListFlags(a.flags, objects::kSnapListDomainFlags, "qemuDomainSnapshotListNames"));
    auto f = lookup(a.dom);
    if (!f) return f.error();
    return names(f->tree.list(nullptr, a.flags), a.maxnames);
  });
  p.bind(kDomainListAllSnapshots, [lookup, checkListFlags, snapHandle](ConnContext&,
                                                                       ListAllSnapshotsArgs&& a) -> Result<SnapListRet> {
    SV_TRY_VOID(checkListFlags(a.flags, objects::kSnapListDomainFlags, "qemuDomainListAllSnapshots"));
    auto f = lookup(a.dom);
    if (!f) return f.error();
    SnapListRet r;
    auto all = f->tree.list(nullptr, a.flags);
    if (a.need_results)
      for (auto& n : all) r.snapshots.push_back(snapHandle(*f, n));
    r.ret = static_cast<int32_t>(all.size());
    return r;
  });
  p.bind(kDomainSnapshotLookupByName, [lookup, snapHandle](ConnContext&, SnapLookupByNameArgs&& a) -> Result<SnapRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainSnapshotLookupByName");
    auto f = lookup(a.dom);
    if (!f) return f.error();
    if (!f->tree.contains(a.name)) return objects::noDomainSnapshot(kErr, a.name);
    return SnapRet{snapHandle(*f, a.name)};
  });
  p.bind(kDomainHasCurrentSnapshot, [lookup](ConnContext&, SnapDomFlagsArg&& a) -> Result<IntRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainHasCurrentSnapshot");
    auto f = lookup(a.dom);
    if (!f) return f.error();
    return IntRet{f->tree.current() ? 1 : 0};
  });
  p.bind(kDomainSnapshotCurrent, [lookup, snapHandle](ConnContext&, SnapDomFlagsArg&& a) -> Result<SnapRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainSnapshotCurrent");
    auto f = lookup(a.dom);
    if (!f) return f.error();
    if (!f->tree.current())
      return Error::make(ErrorCode::NoDomainSnapshot, kErr, "Domain snapshot not found: %s",
                         "Domain snapshot not found", "the domain does not have a current snapshot");
    return SnapRet{snapHandle(*f, *f->tree.current())};
  });

  // ---- snapshot-level queries ----
  p.bind(kDomainSnapshotGetXmlDesc, [lookupSnap](ConnContext&, SnapFlagsArg&& a) -> Result<StringRet> {
    if (a.flags & ~conf::kSnapshotXmlSecure) return Error::unsupportedFlags(kErr, a.flags & ~conf::kSnapshotXmlSecure, "qemuDomainSnapshotGetXMLDesc");
    auto s = lookupSnap(a.snap);
    if (!s) return s.error();
    return StringRet{conf::formatSnapshotDef(*s->second, conf::snapshotFormatFlagsFromXmlFlags(a.flags),
                                             &s->first.dom.def->uuid)};
  });
  p.bind(kDomainSnapshotGetParent, [lookupSnap, snapHandle](ConnContext&, SnapFlagsArg&& a) -> Result<SnapRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainSnapshotGetParent");
    auto s = lookupSnap(a.snap);
    if (!s) return s.error();
    if (!s->second->parentName)
      return Error::make(ErrorCode::NoDomainSnapshot, kErr, "Domain snapshot not found: %s",
                         "Domain snapshot not found", "snapshot '" + a.snap.name + "' does not have a parent");
    return SnapRet{snapHandle(s->first, *s->second->parentName)};
  });
  p.bind(kDomainSnapshotNumChildren, [lookupSnap, checkListFlags](ConnContext&, SnapFlagsArg&& a) -> Result<IntRet> {
    SV_TRY_VOID(checkListFlags(a.flags, objects::kSnapListChildrenFlags, "qemuDomainSnapshotNumChildren"));
    auto s = lookupSnap(a.snap);
    if (!s) return s.error();
    return IntRet{s->first.tree.count(&a.snap.name, a.flags)};
  });
  p.bind(kDomainSnapshotListChildrenNames, [lookupSnap, checkListFlags, names](
                                               ConnContext&, SnapChildrenNamesArgs&& a) -> Result<SnapNamesRet> {
    SV_TRY_VOID(checkListFlags(a.flags, objects::kSnapListChildrenFlags, "qemuDomainSnapshotListChildrenNames"));
    auto s = lookupSnap(a.snap);
    if (!s) return s.error();
    return names(s->first.tree.list(&a.snap.name, a.flags), a.maxnames);
  });
  p.bind(kDomainSnapshotListAllChildren, [lookupSnap, checkListFlags, snapHandle](
                                             ConnContext&, SnapListAllChildrenArgs&& a) -> Result<SnapListRet> {
    SV_TRY_VOID(checkListFlags(a.flags, objects::kSnapListChildrenFlags, "qemuDomainSnapshotListAllChildren"));
    auto s = lookupSnap(a.snapshot);
    if (!s) return s.error();
    SnapListRet r;
    auto all = s->first.tree.list(&a.snapshot.name, a.flags);
    if (a.need_results)
      for (auto& n : all) r.snapshots.push_back(snapHandle(s->first, n));
    r.ret = static_cast<int32_t>(all.size());
    return r;
  });
  p.bind(kDomainSnapshotIsCurrent, [lookupSnap](ConnContext&, SnapFlagsArg&& a) -> Result<IntRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainSnapshotIsCurrent");
    auto s = lookupSnap(a.snap);
    if (!s) return s.error();
    return IntRet{s->first.tree.isCurrent(a.snap.name) ? 1 : 0};
  });
  // Every snapshot we list has metadata (NO_METADATA snapshots are not kept).
  p.bind(kDomainSnapshotHasMetadata, [lookupSnap](ConnContext&, SnapFlagsArg&& a) -> Result<IntRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainSnapshotHasMetadata");
    auto s = lookupSnap(a.snap);
    if (!s) return s.error();
    return IntRet{1};
  });
}

}  // namespace splitvirt::qemu
