// What a daemon's driver provides to the shared skeleton.
#pragma once

#include "daemon/paths.hpp"
#include "rpc/conn_context.hpp"
#include "rpc/program.hpp"
#include "util/error.hpp"

#include <string>

namespace splitvirt::daemon {

class EventBus;

class Driver {
 public:
  virtual ~Driver() = default;
  // Loads persistent state. Runs before the sockets accept anything.
  virtual Result<void> init(const DaemonPaths& paths, EventBus& events) = 0;
  // Binds the driver's procedures (connect-level ones are bound by the skeleton).
  virtual void bind(rpc::Program& program) = 0;
  // The QEMU program (virsh qemu-monitor-command); unbound procedures answer NO_SUPPORT.
  virtual void bindQemu(rpc::Program& program) {}
  // CONNECT_OPEN: accepts the URI (empty = probe) or returns libvirt's error.
  // On success returns the canonical URI of the connection.
  virtual Result<std::string> openConnection(rpc::ConnContext& ctx, const std::string& uri, unsigned flags) = 0;
  // The driver's answer to CONNECT_SUPPORTS_FEATURE for driver features
  // (migration etc.); connection features are answered by the skeleton.
  virtual bool supportsFeature(int feature) const { return false; }
  // True while the idle timeout must not stop the daemon (running guests).
  virtual bool inhibitsIdleExit() const { return false; }
  virtual void shutdown() {}
};

}  // namespace splitvirt::daemon
