// The set of domains a hypervisor daemon knows, indexed by UUID and name.
// Readers get immutable snapshots (shared_ptr<const DomainDef> + state
// copied out), writers replace them under the lock: queries never wait for
// a job.
#pragma once

#include "conf/domain_def.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace splitvirt::objects {

// virDomainState values.
enum class DomainState : int { NoState = 0, Running = 1, Blocked = 2, Paused = 3, Shutdown = 4, Shutoff = 5, Crashed = 6, PmSuspended = 7 };

struct DomainView {
  std::shared_ptr<const conf::DomainDef> def;  // current (live when running)
  // While running: the persistent definition when it differs from the live
  // one (a define or --config change takes effect at the next start).
  std::shared_ptr<const conf::DomainDef> newDef;
  bool persistent = true;
  bool autostart = false;
  DomainState state = DomainState::Shutoff;
  int reason = 0;
  int id = -1;
  bool active() const { return id >= 0; }
  const std::shared_ptr<const conf::DomainDef>& persistentDef() const { return newDef ? newDef : def; }
};

class DomainList {
 public:
  std::optional<DomainView> findByUuid(const conf::Uuid& uuid) const;
  std::optional<DomainView> findByName(const std::string& name) const;
  std::optional<DomainView> findById(int id) const;
  std::vector<DomainView> all() const;

  // Inserts or replaces (same uuid); the caller has checked for conflicts
  // while holding writeLock().
  void put(DomainView v);
  void remove(const conf::Uuid& uuid);
  bool setAutostart(const conf::Uuid& uuid, bool on);
  // Applies fn to the stored view under the lock; returns the updated view.
  std::optional<DomainView> update(const conf::Uuid& uuid, const std::function<void(DomainView&)>& fn);

  // Serialises modifying operations that check-then-write (define, undefine).
  std::unique_lock<std::mutex> writeLock() { return std::unique_lock(writeMutex_); }

 private:
  mutable std::shared_mutex mutex_;
  std::map<conf::Uuid, DomainView> byUuid_;
  std::map<std::string, conf::Uuid> byName_;
  std::mutex writeMutex_;
};

}  // namespace splitvirt::objects
