// virtstoraged's driver: pools and their volumes. Pool definitions persist
// in <configDir>/storage, active pools are remembered in <runDir>/storage so
// a restarted daemon brings them back.
#pragma once

#include "conf/storage_pool_def.hpp"
#include "conf/storage_vol_def.hpp"
#include "daemon/driver.hpp"
#include "daemon/event_bus.hpp"
#include "objects/definition_store.hpp"
#include "protocol/remote_types.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

namespace splitvirt::storage {

struct Pool {
  std::shared_ptr<const conf::StoragePoolDef> def;
  std::shared_ptr<const conf::StoragePoolDef> newDef;  // redefined while active
  bool active = false;
  bool persistent = true;
  bool autostart = false;
  // Volumes as of the last refresh / change, by name. Guarded by the
  // driver's mutex; long operations reserve the name in `busy` first.
  std::map<std::string, conf::StorageVolDef> vols;
  std::set<std::string> busy;
  const conf::StoragePoolDef& persistentDef() const { return newDef ? *newDef : *def; }
};
using PoolPtr = std::shared_ptr<Pool>;

class StorageDriver final : public daemon::Driver {
 public:
  Result<void> init(const daemon::DaemonPaths& paths, daemon::EventBus& events) override;
  void bind(rpc::Program& program) override;
  Result<std::string> openConnection(rpc::ConnContext& ctx, const std::string& uri, unsigned flags) override;

 private:
  void bindPools(rpc::Program& p);
  void bindVolumes(rpc::Program& p);
  void bindEvents(rpc::Program& p);

  // Lookups (take mutex_ shared inside).
  Result<PoolPtr> poolByHandle(const protocol::NonnullStoragePool& h);
  Result<PoolPtr> poolByName(const std::string& name);
  Result<PoolPtr> activePool(const protocol::NonnullStoragePool& h);
  // A volume and its pool; the pool must be active.
  Result<std::pair<PoolPtr, conf::StorageVolDef>> volByHandle(const protocol::NonnullStorageVol& h);

  Result<void> startPool(Pool& pool);   // backend start + refresh; caller holds mutex_
  Result<void> refreshPool(Pool& pool); // caller holds mutex_
  Result<void> persist(const conf::StoragePoolDef& def);
  void rememberActive(const Pool& pool);
  void forgetActive(const std::string& name);

  daemon::DaemonPaths paths_;
  daemon::EventBus* events_ = nullptr;
  std::string stateDir_;  // <runDir>/storage
  std::unique_ptr<objects::DefinitionStore> store_;
  mutable std::shared_mutex mutex_;
  std::map<conf::Uuid, PoolPtr> pools_;
};

protocol::NonnullStoragePool poolHandle(const Pool& p);
protocol::NonnullStorageVol volHandle(const Pool& p, const conf::StorageVolDef& v);

}  // namespace splitvirt::storage
