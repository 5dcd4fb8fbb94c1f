// virtqemud's driver: thin; validates, takes the lock, delegates to the
// object list / store and (later) the QEMU process layer.
#pragma once

#include "daemon/driver.hpp"
#include "daemon/event_bus.hpp"
#include "objects/domain_list.hpp"
#include "objects/domain_store.hpp"

#include <atomic>
#include <memory>

namespace splitvirt::qemu {

inline constexpr const char* kDefaultEmulator = "/usr/bin/qemu-system-x86_64";

class QemuDriver final : public daemon::Driver {
 public:
  Result<void> init(const daemon::DaemonPaths& paths, daemon::EventBus& events) override;
  void bind(rpc::Program& program) override;
  Result<std::string> openConnection(rpc::ConnContext& ctx, const std::string& uri, unsigned flags) override;
  bool inhibitsIdleExit() const override;

  objects::DomainList& domains() { return domains_; }
  objects::DomainStore& store() { return *store_; }
  daemon::EventBus& events() { return *events_; }
  const daemon::DaemonPaths& paths() const { return paths_; }

 private:
  void bindHost(rpc::Program& p);
  void bindDomain(rpc::Program& p);

  daemon::DaemonPaths paths_;
  daemon::EventBus* events_ = nullptr;
  objects::DomainList domains_;
  std::unique_ptr<objects::DomainStore> store_;
};

}  // namespace splitvirt::qemu
