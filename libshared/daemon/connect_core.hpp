// Connection-level procedures every daemon answers the same way.
#pragma once

#include "daemon/driver.hpp"

namespace splitvirt::daemon {

class EventBus;

// libvirt version the daemons report (virsh version --daemon, getLibVersion).
inline constexpr uint64_t kLibVersion = 9000000;

void bindConnectCore(rpc::Program& program, Driver& driver);

}  // namespace splitvirt::daemon
