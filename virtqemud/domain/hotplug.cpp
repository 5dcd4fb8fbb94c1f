// Attach and detach of disks and interfaces: the persistent definition
// (--config), the running guest over QMP (--live), or both.
#include "conf/domain_device.hpp"
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_commands.hpp"
#include "process/command_builder.hpp"
#include "protocol/domain_procs.hpp"
#include "qemu_driver.hpp"
#include "util/log.hpp"

#include <chrono>

namespace splitvirt::qemu {

using namespace protocol;
using conf::DeviceScope;
using objects::DomainView;
using rpc::ConnContext;

namespace {

constexpr uint32_t kAffectLive = 1, kAffectConfig = 2;
// How long a detach waits for the guest to release the device (libvirt: 5 s);
// after that the removal completes whenever QEMU reports it.
constexpr auto kUnplugWait = std::chrono::seconds(5);

// virDomainObjUpdateModificationImpact
Result<uint32_t> resolveImpact(const DomainView& v, uint32_t flags) {
  if (!(flags & (kAffectLive | kAffectConfig))) flags |= v.active() ? kAffectLive : kAffectConfig;
  if ((flags & kAffectLive) && !v.active())
    return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
  if ((flags & kAffectConfig) && !v.persistent)
    return Error::operationInvalid(ErrorDomain::Domain, "transient domains do not have any persistent config");
  return flags;
}

std::string hostNetId(const std::string& alias) { return "host" + alias; }

}  // namespace

// A changed persistent definition: durable, then the one the next start uses.
Result<void> QemuDriver::savePersistentDef(const conf::Uuid& uuid, std::shared_ptr<const conf::DomainDef> def) {
  auto lk = domains_.writeLock();
  auto ticket = store_->save(*def);
  if (!ticket) return ticket.error();
  domains_.update(uuid, [&](DomainView& d) {
    if (d.active())
      d.newDef = def;
    else
      d.def = def;
  });
  lk.unlock();
  return store_->waitDurable(*ticket);
}

Result<void> QemuDriver::hotplugAttach(const conf::Uuid& uuid, const std::string& xml, uint32_t flags) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  auto impact = resolveImpact(*v, flags);
  if (!impact) return impact.error();
  bool live = *impact & kAffectLive, config = *impact & kAffectConfig;

  // Parsed once: with both, the same generated MAC goes to both definitions.
  auto dev = conf::parseDeviceXml(xml, ErrorDomain::Domain, conf::DeviceAction::Attach,
                                  live ? DeviceScope::Live : DeviceScope::Config);
  if (!dev) return dev.error();

  std::shared_ptr<conf::DomainDef> newPersistent;
  if (config) {
    newPersistent = std::make_shared<conf::DomainDef>(*v->persistentDef());
    if (auto r = conf::attachDevice(*newPersistent, *dev, ErrorDomain::Domain, DeviceScope::Config); !r)
      return r.error();
  }

  if (live) {
    auto rt = runtime(uuid);
    if (!rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    auto newLive = std::make_shared<conf::DomainDef>(*v->def);
    auto inserted = conf::attachDevice(*newLive, *dev, ErrorDomain::Domain, DeviceScope::Live);
    if (!inserted) return inserted.error();
    if (auto* disk = std::get_if<conf::DiskDef>(&inserted->dev)) {
      size_t idx = 0;
      while (idx < newLive->disks.size() && newLive->disks[idx].targetDev != disk->targetDev) ++idx;
      auto args = buildDiskHotplug(*newLive, idx, "libvirt-hp" + std::to_string(rt->hotplugSeq++));
      if (!args) return args.error();
      size_t added = 0;
      Result<void> r;
      for (; added < args->blockdevs.size(); ++added)
        if (!(r = blockdevAdd(*rt->mon, args->blockdevs[added]))) break;
      if (r) r = deviceAdd(*rt->mon, args->device);
      if (!r) {
        // Roll back the nodes that made it, newest first.
        static const char* kSuffix[] = {"-storage", "-format"};
        while (added-- > 0) (void)blockdevDel(*rt->mon, args->nodeBase + kSuffix[added]);
        return r.error();
      }
    } else if (auto* net = std::get_if<conf::NetDef>(&inserted->dev)) {
      if (net->type != conf::NetType::User)
        return Error::make(ErrorCode::OperationUnsupported, kErr, "Operation not supported: %s", "",
                           std::string("live attach of interfaces of this type is not supported yet"));
      const std::string alias = net->info.alias;
      if (auto r = netdevAdd(*rt->mon, "{\"type\":\"user\",\"id\":" + jsonString(hostNetId(alias)) + "}"); !r)
        return r.error();
      // The same device properties a cold start gives it.
      size_t idx = 0;
      while (idx < newLive->nets.size() && newLive->nets[idx].info.alias != alias) ++idx;
      auto devJson = buildNetHotplugDevice(*newLive, idx);
      if (!devJson) {
        (void)netdevDel(*rt->mon, hostNetId(alias));
        return devJson.error();
      }
      if (auto r = deviceAdd(*rt->mon, *devJson); !r) {
        (void)netdevDel(*rt->mon, hostNetId(alias));
        return r.error();
      }
    }
    auto nv = domains_.update(uuid, [&](DomainView& d) { d.def = newLive; });
    if (nv) (void)saveStatus(*nv, *rt);
  }

  if (config) return savePersistentDef(uuid, newPersistent);
  return {};
}

// Called once QEMU has released `alias`: drops its backends and the device
// from the live definition, and tells the clients.
void QemuDriver::completeUnplug(const conf::Uuid& uuid, Runtime& rt, const std::string& alias) {
  PendingUnplug pending;
  {
    std::lock_guard lk(rt.unplugMutex);
    auto it = rt.pendingUnplugs.find(alias);
    if (it == rt.pendingUnplugs.end()) return;
    pending = it->second;
    rt.pendingUnplugs.erase(it);
  }
  if (rt.mon) {
    if (!pending.formatNode.empty()) {
      (void)blockdevDel(*rt.mon, pending.formatNode);
      (void)blockdevDel(*rt.mon, pending.storageNode);
    }
    if (!pending.netdev.empty()) (void)netdevDel(*rt.mon, pending.netdev);
  }
  auto v = domains_.findByUuid(uuid);
  if (!v) return;
  auto newLive = std::make_shared<conf::DomainDef>(*v->def);
  auto match = conf::parseDeviceXml(pending.deviceXml, ErrorDomain::Domain, conf::DeviceAction::Detach,
                                    DeviceScope::Live);
  if (match && conf::detachDevice(*newLive, *match, ErrorDomain::Domain, DeviceScope::Live)) {
    auto nv = domains_.update(uuid, [&](DomainView& d) { d.def = newLive; });
    if (nv) (void)saveStatus(*nv, rt);
  }
  events_->domainDeviceRemoved(handleOf(*v), alias);
}

Result<void> QemuDriver::hotplugDetach(const conf::Uuid& uuid, const std::string& xml, uint32_t flags) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  auto impact = resolveImpact(*v, flags);
  if (!impact) return impact.error();
  bool live = *impact & kAffectLive, config = *impact & kAffectConfig;

  std::shared_ptr<conf::DomainDef> newPersistent;
  if (config) {
    auto match = conf::parseDeviceXml(xml, ErrorDomain::Domain, conf::DeviceAction::Detach, DeviceScope::Config);
    if (!match) return match.error();
    newPersistent = std::make_shared<conf::DomainDef>(*v->persistentDef());
    if (auto r = conf::detachDevice(*newPersistent, *match, ErrorDomain::Domain, DeviceScope::Config); !r)
      return r.error();
  }

  if (live) {
    auto rt = runtime(uuid);
    if (!rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    auto match = conf::parseDeviceXml(xml, ErrorDomain::Domain, conf::DeviceAction::Detach, DeviceScope::Live);
    if (!match) return match.error();
    auto found = conf::findDevice(*v->def, *match, ErrorDomain::Domain, DeviceScope::Live);
    if (!found) return found.error();

    PendingUnplug pending;
    std::string alias;
    if (auto* disk = std::get_if<conf::DiskDef>(&found->dev)) {
      alias = disk->info.alias;
      auto blocks = queryBlock(*rt->mon);
      if (!blocks) return blocks.error();
      for (auto& b : *blocks) {
        if (b.qdev == alias || b.qdev.find("/" + alias + "/") != std::string::npos) {
          pending.formatNode = b.nodeName;
          auto pos = b.nodeName.rfind("-format");
          pending.storageNode = pos == std::string::npos ? "" : b.nodeName.substr(0, pos) + "-storage";
        }
      }
    } else if (auto* net = std::get_if<conf::NetDef>(&found->dev)) {
      alias = net->info.alias;
      pending.netdev = hostNetId(alias);
    }
    pending.deviceXml = conf::formatDeviceXml(*found, 0);
    {
      std::lock_guard lk(rt->unplugMutex);
      rt->pendingUnplugs[alias] = pending;
    }
    if (auto r = deviceDel(*rt->mon, alias); !r) {
      std::lock_guard lk(rt->unplugMutex);
      rt->pendingUnplugs.erase(alias);
      return r.error();
    }
    // The guest has to cooperate; like libvirt, wait a while, then let the
    // DEVICE_DELETED event finish the job whenever it comes.
    bool removed;
    {
      std::unique_lock lk(rt->unplugMutex);
      rt->unplugWaiters.insert(alias);
      removed = rt->unplugCv.wait_for(lk, kUnplugWait, [&] { return rt->unplugDone.count(alias) > 0; });
      rt->unplugWaiters.erase(alias);
      rt->unplugDone.erase(alias);
    }
    if (removed)
      completeUnplug(uuid, *rt, alias);
    else
      log::info("device %s of %s not released by the guest yet; removal continues in the background",
                alias.c_str(), v->def->name.c_str());
  }

  if (config) return savePersistentDef(uuid, newPersistent);
  return {};
}

// DEVICE_DELETED from QEMU (on the work queue).
void QemuDriver::handleDeviceDeleted(const conf::Uuid& uuid, Runtime& rt, const std::string& alias) {
  {
    std::lock_guard lk(rt.unplugMutex);
    if (!rt.pendingUnplugs.count(alias)) return;
    if (rt.unplugWaiters.count(alias)) {
      rt.unplugDone.insert(alias);
      rt.unplugCv.notify_all();
      return;
    }
  }
  auto lock = jobLock(uuid);
  std::lock_guard jl(*lock);
  completeUnplug(uuid, rt, alias);
}

void QemuDriver::bindHotplug(rpc::Program& p) {
  auto attach = [this](const NonnullDomain& dom, const std::string& xml, uint32_t flags) -> Result<Void> {
    if (flags & ~(kAffectLive | kAffectConfig)) return Error::unsupportedFlags(kErr, flags & ~(kAffectLive | kAffectConfig), "qemuDomainAttachDeviceFlags");
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    if (auto r = hotplugAttach(dom.uuid, xml, flags); !r) return r.error();
    return Void{};
  };
  auto detach = [this](const NonnullDomain& dom, const std::string& xml, uint32_t flags) -> Result<Void> {
    if (flags & ~(kAffectLive | kAffectConfig)) return Error::unsupportedFlags(kErr, flags & ~(kAffectLive | kAffectConfig), "qemuDomainDetachDeviceFlags");
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    if (auto r = hotplugDetach(dom.uuid, xml, flags); !r) return r.error();
    return Void{};
  };
  // The legacy calls act on the running guest (VIR_DOMAIN_AFFECT_LIVE).
  p.bind(kDomainAttachDevice, [attach](ConnContext&, DomXmlArg&& a) { return attach(a.dom, a.xml, kAffectLive); });
  p.bind(kDomainDetachDevice, [detach](ConnContext&, DomXmlArg&& a) { return detach(a.dom, a.xml, kAffectLive); });
  p.bind(kDomainAttachDeviceFlags,
         [attach](ConnContext&, DomXmlFlagsArg&& a) { return attach(a.dom, a.xml, a.flags); });
  p.bind(kDomainDetachDeviceFlags,
         [detach](ConnContext&, DomXmlFlagsArg&& a) { return detach(a.dom, a.xml, a.flags); });
}

}  // namespace splitvirt::qemu
