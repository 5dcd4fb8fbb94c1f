#include "storage_driver.hpp"

#include "backends/backend.hpp"
#include "backends/dir_backend.hpp"
#include "protocol/storage_procs.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <unistd.h>

namespace splitvirt::storage {

namespace {
constexpr ErrorDomain kErr = ErrorDomain::Storage;
}

protocol::NonnullStoragePool poolHandle(const Pool& p) { return {p.def->name, p.def->uuid}; }
protocol::NonnullStorageVol volHandle(const Pool& p, const conf::StorageVolDef& v) {
  return {p.def->name, v.name, v.key};
}

Result<void> StorageDriver::init(const daemon::DaemonPaths& paths, daemon::EventBus& events) {
  paths_ = paths;
  events_ = &events;
  stateDir_ = paths.runDir + "/storage";
  if (auto r = fs::makeDirs(stateDir_, 0755, kErr); !r) return r;
  store_ = std::make_unique<objects::DefinitionStore>(paths.configDir + "/storage", kErr);
  if (auto r = store_->prepare(); !r) return r;

  std::unique_lock lk(mutex_);
  for (auto& f : store_->loadAll()) {
    auto def = conf::parseStoragePoolDef(f.xml, kErr);
    if (!def || def->name != f.name) {
      log::warn("cannot load storage pool config %s.xml: %s", f.name.c_str(),
                def ? "name does not match the file" : def.error().message.c_str());
      continue;
    }
    auto p = std::make_shared<Pool>();
    p->def = std::make_shared<const conf::StoragePoolDef>(std::move(*def));
    p->autostart = f.autostart;
    pools_[p->def->uuid] = p;
  }
  // Pools that were active when the daemon last ran (transient ones only
  // live there), then autostart pools.
  for (auto& f : objects::DefinitionStore(stateDir_, kErr).loadAll()) {
    auto def = conf::parseStoragePoolDef(f.xml, kErr);
    if (!def) continue;
    PoolPtr p;
    if (auto it = pools_.find(def->uuid); it != pools_.end()) {
      p = it->second;
    } else {
      p = std::make_shared<Pool>();
      p->def = std::make_shared<const conf::StoragePoolDef>(std::move(*def));
      p->persistent = false;
      pools_[p->def->uuid] = p;
    }
    if (auto r = startPool(*p); !r) {
      log::warn("cannot restart storage pool '%s': %s", p->def->name.c_str(), r.error().message.c_str());
      forgetActive(p->def->name);
      if (!p->persistent) pools_.erase(p->def->uuid);
    }
  }
  for (auto& [u, p] : pools_) {
    if (!p->autostart || p->active) continue;
    if (auto r = startPool(*p); !r)
      log::warn("failed to autostart storage pool '%s': %s", p->def->name.c_str(), r.error().message.c_str());
    else
      rememberActive(*p);
  }
  log::info("loaded %zu storage pools", pools_.size());
  return {};
}

void StorageDriver::bind(rpc::Program& p) {
  bindPools(p);
  bindVolumes(p);
  bindEvents(p);
}

void StorageDriver::bindEvents(rpc::Program& p) {
  using namespace protocol;
  p.bind(kConnectStoragePoolEventRegisterAny,
         [](rpc::ConnContext& ctx, PoolEventRegisterAnyArgs&& a) -> Result<CallbackIdRet> {
           // VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, _REFRESH
           if (a.eventID < 0 || a.eventID > 1)
             return Error::invalidArg(kErr, "unsupported storage pool event ID " + std::to_string(a.eventID));
           std::lock_guard lk(ctx.eventsMutex);
           int id = ctx.nextCallbackId++;
           rpc::ObjectEventRegistration reg{a.eventID, std::nullopt};
           if (a.pool) reg.objectFilter = a.pool->uuid;
           ctx.poolEvents[id] = reg;
           return CallbackIdRet{id};
         });
  p.bind(kConnectStoragePoolEventDeregisterAny, [](rpc::ConnContext& ctx, CallbackIdArg&& a) -> Result<Void> {
    std::lock_guard lk(ctx.eventsMutex);
    if (!ctx.poolEvents.erase(a.callbackID))
      return Error::internal(ErrorDomain::Rpc, "storage pool event callback " + std::to_string(a.callbackID) + " not registered");
    return Void{};
  });
}

Result<std::string> StorageDriver::openConnection(rpc::ConnContext&, const std::string& uri, unsigned) {
  if (uri.empty()) return std::string("storage:///system");
  auto colon = uri.find(':');
  std::string scheme = colon == std::string::npos ? "" : uri.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : uri.substr(colon + 1);
  std::string path = rest.rfind("///", 0) == 0 ? rest.substr(2) : "";
  if (auto q = path.find('?'); q != std::string::npos) path = path.substr(0, q);
  if (scheme != "storage" || path.empty()) return Error::noConnect(ErrorDomain::None, uri);
  if (path != "/system")
    return Error::internal(kErr, "unexpected storage URI path '" + path + "', try storage:///system");
  return std::string("storage:///system");
}

Result<PoolPtr> StorageDriver::poolByHandle(const protocol::NonnullStoragePool& h) {
  std::shared_lock lk(mutex_);
  auto it = pools_.find(h.uuid);
  if (it == pools_.end())
    return Error::noStoragePool("no storage pool with matching uuid '" + conf::formatUuid(h.uuid) + "' (" + h.name + ")");
  return it->second;
}

Result<PoolPtr> StorageDriver::poolByName(const std::string& name) {
  std::shared_lock lk(mutex_);
  for (auto& [u, p] : pools_)
    if (p->def->name == name) return p;
  return Error::noStoragePool("no storage pool with matching name '" + name + "'");
}

Result<PoolPtr> StorageDriver::activePool(const protocol::NonnullStoragePool& h) {
  auto p = poolByHandle(h);
  if (!p) return p;
  std::shared_lock lk(mutex_);
  if (!(*p)->active) return Error::operationInvalid(kErr, "storage pool '" + h.name + "' is not active");
  return p;
}

Result<std::pair<PoolPtr, conf::StorageVolDef>> StorageDriver::volByHandle(const protocol::NonnullStorageVol& h) {
  auto p = poolByName(h.pool);
  if (!p) return p.error();
  std::shared_lock lk(mutex_);
  if (!(*p)->active) return Error::operationInvalid(kErr, "storage pool '" + h.pool + "' is not active");
  auto it = (*p)->vols.find(h.name);
  if (it == (*p)->vols.end())
    return Error::noStorageVol("no storage vol with matching name '" + h.name + "'");
  return std::make_pair(*p, it->second);
}

Result<void> StorageDriver::startPool(Pool& pool) {
  if (auto r = backendStart(*pool.def); !r) return r;
  pool.active = true;
  if (auto r = refreshPool(pool); !r) {
    pool.active = false;
    return r;
  }
  return {};
}

Result<void> StorageDriver::refreshPool(Pool& pool) {
  auto vols = dirScan(*pool.def);
  if (!vols) return vols.error();
  auto usage = dirUsage(*pool.def);
  if (!usage) return usage.error();
  std::map<std::string, conf::StorageVolDef> byName;
  for (auto& v : *vols) byName[v.name] = std::move(v);
  // Volumes being created stay listed as they are.
  for (auto& name : pool.busy)
    if (auto it = pool.vols.find(name); it != pool.vols.end()) byName[name] = it->second;
  pool.vols = std::move(byName);
  auto def = std::make_shared<conf::StoragePoolDef>(*pool.def);
  def->capacity = usage->capacity;
  def->allocation = usage->allocation;
  def->available = usage->available;
  def->targetPerms = dirPerms(*def);
  pool.def = def;
  return {};
}

Result<void> StorageDriver::persist(const conf::StoragePoolDef& def) {
  auto ticket = store_->save(def.name, objects::withGeneratedWarning("virsh pool-edit " + def.name,
                                                                     conf::formatStoragePoolDef(def, 1)));
  if (!ticket) return ticket.error();
  return store_->waitDurable(*ticket);
}

// The run dir is volatile: plain atomic writes, no journal needed.
void StorageDriver::rememberActive(const Pool& pool) {
  (void)fs::makeDirs(stateDir_, 0755, kErr);
  std::string tmp = stateDir_ + "/" + pool.def->name + ".xml" + std::string(fs::kTempSuffix);
  if (FILE* f = std::fopen(tmp.c_str(), "we")) {
    std::string xml = conf::formatStoragePoolDef(*pool.def, 1);
    bool ok = std::fwrite(xml.data(), 1, xml.size(), f) == xml.size();
    ok = std::fclose(f) == 0 && ok;
    if (ok) ::rename(tmp.c_str(), (stateDir_ + "/" + pool.def->name + ".xml").c_str());
  }
}

void StorageDriver::forgetActive(const std::string& name) { ::unlink((stateDir_ + "/" + name + ".xml").c_str()); }

}  // namespace splitvirt::storage
