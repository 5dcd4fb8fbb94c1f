// The skeleton every daemon shares: options, config, sockets (socket
// activation or self-bound), connect-level procedures, idle timeout,
// readiness notification, clean shutdown.
#pragma once

#include "daemon/driver.hpp"

#include <memory>
#include <string>

namespace splitvirt::daemon {

struct DaemonSpec {
  std::string name;        // "virtqemud"
  std::string sockPrefix;  // "virtqemud"; "libvirt" for virtproxyd
  ErrorDomain errorDomain; // the driver's libvirt error domain
};

int runDaemon(const DaemonSpec& spec, std::unique_ptr<Driver> driver, int argc, char** argv);

}  // namespace splitvirt::daemon
