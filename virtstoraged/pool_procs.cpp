// Storage pool procedures: define / create / build / start / refresh /
// destroy / delete / undefine / lookups / info / XML / autostart / lists.
#include "backends/backend.hpp"
#include "protocol/storage_procs.hpp"
#include "storage_driver.hpp"

namespace splitvirt::storage {

using namespace protocol;
using rpc::ConnContext;

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Storage;

// virConnectListAllStoragePoolsFlags
constexpr uint32_t kInactive = 1, kActive = 2, kPersistent = 4, kTransient = 8, kAutostart = 16, kNoAutostart = 32;
constexpr uint32_t kTypeFlagsFirst = 64;  // DIR; then one bit per type in libvirt's order
constexpr uint32_t kAllFlags = (1u << 20) - 1;

// virStoragePoolState
constexpr uint32_t kStateInactive = 0, kStateRunning = 2;

// virStoragePoolEventLifecycleType
constexpr int kEvDefined = 0, kEvUndefined = 1, kEvStarted = 2, kEvStopped = 3, kEvCreated = 4, kEvDeleted = 5;

bool poolMatches(const Pool& p, uint32_t f) {
  auto group = [&](uint32_t a, uint32_t b, bool isA) {
    if (!(f & (a | b))) return true;
    return isA ? (f & a) != 0 : (f & b) != 0;
  };
  if (!group(kActive, kInactive, p.active)) return false;
  if (!group(kPersistent, kTransient, p.persistent)) return false;
  if (!group(kAutostart, kNoAutostart, p.autostart)) return false;
  if (uint32_t types = f & ~(kTypeFlagsFirst - 1); types) {
    // DIR FS NETFS LOGICAL DISK ISCSI SCSI MPATH RBD SHEEPDOG GLUSTER ZFS VSTORAGE ISCSI_DIRECT
    static constexpr conf::PoolType kOrder[] = {
        conf::PoolType::Dir,   conf::PoolType::Fs,   conf::PoolType::Netfs,    conf::PoolType::Logical,
        conf::PoolType::Disk,  conf::PoolType::Iscsi, conf::PoolType::Scsi,    conf::PoolType::Mpath,
        conf::PoolType::Rbd,   conf::PoolType::Sheepdog, conf::PoolType::Gluster, conf::PoolType::Zfs,
        conf::PoolType::Vstorage, conf::PoolType::IscsiDirect};
    bool any = false;
    for (size_t i = 0; i < std::size(kOrder); ++i)
      if ((types & (kTypeFlagsFirst << i)) && p.def->type == kOrder[i]) any = true;
    if (!any) return false;
  }
  return true;
}

}  // namespace

void StorageDriver::bindPools(rpc::Program& p) {
  // Shared by define and create: conflicts as virStoragePoolObjIsDuplicate.
  auto checkDuplicate = [this](const conf::StoragePoolDef& def, bool forCreate) -> Result<PoolPtr> {
    for (auto& [u, pool] : pools_) {
      if (u == def.uuid) {
        if (pool->def->name != def.name)
          return Error::operationFailed(kErr, "pool '" + pool->def->name + "' is already defined with uuid " +
                                                  conf::formatUuid(def.uuid));
        if (forCreate && pool->active)
          return Error::operationInvalid(kErr, "pool is already active as '" + pool->def->name + "'");
        return pool;
      }
      if (pool->def->name == def.name)
        return Error::operationFailed(kErr, "pool '" + def.name + "' already exists with uuid " +
                                                conf::formatUuid(pool->def->uuid));
      if (!def.targetPath.empty() && pool->def->targetPath == def.targetPath && pool->def->type == def.type)
        return Error::operationFailed(kErr, "Storage source conflict with pool: '" + pool->def->name + "'");
    }
    return PoolPtr{};
  };

  p.bind(kStoragePoolDefineXml, [this, checkDuplicate](ConnContext&, PoolXmlFlagsArg&& a) -> Result<PoolRet> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "storagePoolDefineXML");
    auto def = conf::parseStoragePoolDef(a.xml, kErr, (a.flags & 1u) ? conf::kPoolParseValidate : 0);
    if (!def) return def.error();
    std::unique_lock lk(mutex_);
    auto existing = checkDuplicate(*def, false);
    if (!existing) return existing.error();
    auto newDef = std::make_shared<const conf::StoragePoolDef>(std::move(*def));
    if (auto r = persist(*newDef); !r) return r.error();
    PoolPtr pool = *existing;
    if (!pool) {
      pool = std::make_shared<Pool>();
      pool->def = newDef;
      pools_[newDef->uuid] = pool;
    } else if (pool->active) {
      pool->newDef = newDef;
    } else {
      pool->def = newDef;
    }
    pool->persistent = true;
    events_->poolLifecycle(poolHandle(*pool), kEvDefined, 0);
    return PoolRet{poolHandle(*pool)};
  });

  p.bind(kStoragePoolCreateXml, [this, checkDuplicate](ConnContext&, PoolXmlFlagsArg&& a) -> Result<PoolRet> {
    // WITH_BUILD | WITH_BUILD_OVERWRITE | WITH_BUILD_NO_OVERWRITE
    if (a.flags & ~7u) return Error::unsupportedFlags(kErr, a.flags & ~7u, "storagePoolCreateXML");
    auto def = conf::parseStoragePoolDef(a.xml, kErr);
    if (!def) return def.error();
    std::unique_lock lk(mutex_);
    auto existing = checkDuplicate(*def, true);
    if (!existing) return existing.error();
    if (*existing) return Error::operationInvalid(kErr, "storage pool '" + def->name + "' is already defined");
    auto pool = std::make_shared<Pool>();
    pool->def = std::make_shared<const conf::StoragePoolDef>(std::move(*def));
    pool->persistent = false;
    if (a.flags & 7u)
      if (auto r = backendBuild(*pool->def, (a.flags & 2u) ? 8u : (a.flags & 4u) ? 4u : 0u); !r) return r.error();
    if (auto r = startPool(*pool); !r) return r.error();
    pools_[pool->def->uuid] = pool;
    rememberActive(*pool);
    events_->poolLifecycle(poolHandle(*pool), kEvStarted, 0);
    return PoolRet{poolHandle(*pool)};
  });

  p.bind(kStoragePoolBuild, [this](ConnContext&, PoolFlagsArg&& a) -> Result<Void> {
    if (a.flags & ~0xfu) return Error::unsupportedFlags(kErr, a.flags & ~0xfu, "storagePoolBuild");
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::unique_lock lk(mutex_);
    if ((*pool)->active) return Error::operationInvalid(kErr, "storage pool '" + a.pool.name + "' is already active");
    if (auto r = backendBuild(*(*pool)->def, a.flags); !r) return r.error();
    events_->poolLifecycle(poolHandle(**pool), kEvCreated, 0);
    return Void{};
  });

  p.bind(kStoragePoolCreate, [this](ConnContext&, PoolFlagsArg&& a) -> Result<Void> {
    if (a.flags & ~7u) return Error::unsupportedFlags(kErr, a.flags & ~7u, "storagePoolCreate");
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::unique_lock lk(mutex_);
    if ((*pool)->active) return Error::operationInvalid(kErr, "storage pool '" + a.pool.name + "' is already active");
    if (a.flags & 7u)
      if (auto r = backendBuild(*(*pool)->def, (a.flags & 2u) ? 8u : (a.flags & 4u) ? 4u : 0u); !r) return r.error();
    if (auto r = startPool(**pool); !r) return r.error();
    rememberActive(**pool);
    events_->poolLifecycle(poolHandle(**pool), kEvStarted, 0);
    return Void{};
  });

  p.bind(kStoragePoolRefresh, [this](ConnContext&, PoolFlagsArg&& a) -> Result<Void> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "storagePoolRefresh");
    auto pool = activePool(a.pool);
    if (!pool) return pool.error();
    std::unique_lock lk(mutex_);
    if (auto r = refreshPool(**pool); !r) return r.error();
    events_->poolRefresh(poolHandle(**pool));
    return Void{};
  });

  p.bind(kStoragePoolDestroy, [this](ConnContext&, PoolArg&& a) -> Result<Void> {
    auto pool = activePool(a.pool);
    if (!pool) return pool.error();
    std::unique_lock lk(mutex_);
    Pool& pl = **pool;
    if (!pl.busy.empty())
      return Error::operationInvalid(kErr, "pool '" + a.pool.name + "' has asynchronous jobs running.");
    if (auto r = backendStop(*pl.def); !r) return r.error();
    pl.active = false;
    pl.vols.clear();
    forgetActive(pl.def->name);
    if (pl.newDef) {
      pl.def = pl.newDef;
      pl.newDef = nullptr;
    }
    auto handle = poolHandle(pl);
    if (!pl.persistent) pools_.erase(pl.def->uuid);
    events_->poolLifecycle(handle, kEvStopped, 0);
    return Void{};
  });

  p.bind(kStoragePoolDelete, [this](ConnContext&, PoolFlagsArg&& a) -> Result<Void> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "storagePoolDelete");
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::unique_lock lk(mutex_);
    if ((*pool)->active) return Error::operationInvalid(kErr, "storage pool '" + a.pool.name + "' is still active");
    if (auto r = backendDelete(*(*pool)->def, a.flags); !r) return r.error();
    events_->poolLifecycle(poolHandle(**pool), kEvDeleted, 0);
    return Void{};
  });

  p.bind(kStoragePoolUndefine, [this](ConnContext&, PoolArg&& a) -> Result<Void> {
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::unique_lock lk(mutex_);
    if ((*pool)->active) return Error::operationInvalid(kErr, "storage pool '" + a.pool.name + "' is still active");
    if (!(*pool)->persistent) return Error::operationInvalid(kErr, "cannot undefine transient storage pool");
    auto ticket = store_->remove((*pool)->def->name);
    if (!ticket) return ticket.error();
    pools_.erase((*pool)->def->uuid);
    lk.unlock();
    if (auto r = store_->waitDurable(*ticket); !r) return r.error();
    events_->poolLifecycle(poolHandle(**pool), kEvUndefined, 0);
    return Void{};
  });

  p.bind(kStoragePoolLookupByName, [this](ConnContext&, PoolNameArg&& a) -> Result<PoolRet> {
    auto pool = poolByName(a.name);
    if (!pool) return pool.error();
    return PoolRet{poolHandle(**pool)};
  });
  p.bind(kStoragePoolLookupByUuid, [this](ConnContext&, PoolUuidArg&& a) -> Result<PoolRet> {
    std::shared_lock lk(mutex_);
    auto it = pools_.find(a.uuid);
    if (it == pools_.end())
      return Error::noStoragePool("no storage pool with matching uuid '" + conf::formatUuid(a.uuid) + "'");
    return PoolRet{poolHandle(*it->second)};
  });
  p.bind(kStoragePoolLookupByVolume, [this](ConnContext&, VolArg&& a) -> Result<PoolRet> {
    auto pool = poolByName(a.vol.pool);
    if (!pool) return Error::noStoragePool("no storage pool with matching name '" + a.vol.pool + "'");
    return PoolRet{poolHandle(**pool)};
  });
  p.bind(kStoragePoolLookupByTargetPath, [this](ConnContext&, PoolNameArg&& a) -> Result<PoolRet> {
    std::string path = conf::sanitizeStoragePath(a.name);
    std::shared_lock lk(mutex_);
    for (auto& [u, pool] : pools_)
      if (pool->active && pool->def->targetPath == path) return PoolRet{poolHandle(*pool)};
    return Error::noStoragePool("no storage pool with matching target path '" + a.name + "'");
  });

  p.bind(kStoragePoolGetInfo, [this](ConnContext&, PoolArg&& a) -> Result<PoolGetInfoRet> {
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    const Pool& pl = **pool;
    PoolGetInfoRet r;
    r.state = pl.active ? kStateRunning : kStateInactive;
    if (pl.active) {
      r.capacity = pl.def->capacity;
      r.allocation = pl.def->allocation;
      r.available = pl.def->available;
    }
    return r;
  });

  p.bind(kStoragePoolGetXmlDesc, [this](ConnContext&, PoolFlagsArg&& a) -> Result<StringRet> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "storagePoolGetXMLDesc");
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    const Pool& pl = **pool;
    if ((a.flags & 1u) && pl.newDef) return StringRet{conf::formatStoragePoolDef(*pl.newDef, 0)};
    return StringRet{conf::formatStoragePoolDef(*pl.def, 0)};
  });

  p.bind(kStoragePoolGetAutostart, [this](ConnContext&, PoolArg&& a) -> Result<IntRet> {
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    return IntRet{(*pool)->autostart ? 1 : 0};
  });
  p.bind(kStoragePoolSetAutostart, [this](ConnContext&, PoolIntArg&& a) -> Result<Void> {
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::unique_lock lk(mutex_);
    if (!(*pool)->persistent) return Error::invalidArg(kErr, "cannot set autostart for transient pool");
    bool on = a.value != 0;
    if (on == (*pool)->autostart) return Void{};
    auto ticket = store_->setAutostart((*pool)->def->name, on);
    if (!ticket) return ticket.error();
    (*pool)->autostart = on;
    lk.unlock();
    if (auto r = store_->waitDurable(*ticket); !r) return r.error();
    return Void{};
  });
  p.bind(kStoragePoolIsActive, [this](ConnContext&, PoolArg&& a) -> Result<IntRet> {
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    return IntRet{(*pool)->active ? 1 : 0};
  });
  p.bind(kStoragePoolIsPersistent, [this](ConnContext&, PoolArg&& a) -> Result<IntRet> {
    auto pool = poolByHandle(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    return IntRet{(*pool)->persistent ? 1 : 0};
  });

  p.bind(kConnectListAllStoragePools, [this](ConnContext&, ListAllArgs&& a) -> Result<ListAllPoolsRet> {
    if (a.flags & ~kAllFlags) return Error::unsupportedFlags(kErr, a.flags & ~kAllFlags, "storageConnectListAllStoragePools");
    std::shared_lock lk(mutex_);
    ListAllPoolsRet r;
    for (auto& [u, pool] : pools_) {
      if (!poolMatches(*pool, a.flags)) continue;
      if (a.need_results) r.pools.push_back(poolHandle(*pool));
      ++r.ret;
    }
    return r;
  });
  auto count = [this](bool active) {
    std::shared_lock lk(mutex_);
    int n = 0;
    for (auto& [u, pool] : pools_) n += pool->active == active;
    return n;
  };
  auto names = [this](bool active, int max) -> Result<NamesRet> {
    if (max < 0 || static_cast<uint32_t>(max) > kStoragePoolListMax)
      return Error::rpc(ErrorDomain::Rpc, "maxnames > REMOTE_STORAGE_POOL_LIST_MAX");
    std::shared_lock lk(mutex_);
    NamesRet r;
    for (auto& [u, pool] : pools_)
      if (pool->active == active && r.names.size() < static_cast<size_t>(max)) r.names.push_back(pool->def->name);
    return r;
  };
  p.bind(kConnectNumOfStoragePools, [count](ConnContext&, Void&&) -> Result<IntRet> { return IntRet{count(true)}; });
  p.bind(kConnectNumOfDefinedStoragePools,
         [count](ConnContext&, Void&&) -> Result<IntRet> { return IntRet{count(false)}; });
  p.bind(kConnectListStoragePools, [names](ConnContext&, PoolListNamesArg&& a) { return names(true, a.maxnames); });
  p.bind(kConnectListDefinedStoragePools,
         [names](ConnContext&, PoolListNamesArg&& a) { return names(false, a.maxnames); });
}

}  // namespace splitvirt::storage
