// virtnetworkd's driver: virtual networks and their ports. Definitions
// persist in <configDir>/qemu/networks (libvirt's path, autostart links in
// autostart/); running networks are recorded in <runDir>/network so a
// restarted daemon takes them over with their bridge, rules and dnsmasq
// untouched (dnsmasq outlives the daemon, as with KillMode=process).
#pragma once

#include "conf/network_def.hpp"
#include "conf/network_port_def.hpp"
#include "daemon/driver.hpp"
#include "daemon/event_bus.hpp"
#include "objects/definition_store.hpp"
#include "protocol/remote_types.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace splitvirt::network {

struct Network {
  std::shared_ptr<const conf::NetworkDef> def;     // live when active, else the persistent one
  std::shared_ptr<const conf::NetworkDef> newDef;  // persistent def changed while active
  bool active = false;
  bool persistent = true;
  bool autostart = false;
  int dnsmasqPid = 0;  // 0: none running for this network
  std::map<conf::Uuid, conf::NetworkPortDef> ports;
  const conf::NetworkDef& persistentDef() const { return newDef ? *newDef : *def; }
};
using NetworkPtr = std::shared_ptr<Network>;

// Where one network's runtime files live.
struct NetworkFiles {
  std::string statusXml;  // <runDir>/network/NAME.xml: the live definition
  std::string portsDir;   // <runDir>/network/NAME.ports/UUID.xml
  std::string pidFile;    // <runDir>/network/NAME.pid (dnsmasq)
  std::string dnsmasqDir; // <stateDir>/dnsmasq: conf, hosts, leases (0755, dnsmasq runs as nobody)
};

class NetworkDriver final : public daemon::Driver {
 public:
  Result<void> init(const daemon::DaemonPaths& paths, daemon::EventBus& events) override;
  void bind(rpc::Program& program) override;
  Result<std::string> openConnection(rpc::ConnContext& ctx, const std::string& uri, unsigned flags) override;
  bool inhibitsIdleExit() const override;

 private:
  void bindNetworks(rpc::Program& p);
  void bindQueries(rpc::Program& p);
  void bindUpdate(rpc::Program& p);
  void bindPorts(rpc::Program& p);
  void bindEvents(rpc::Program& p);

  // Lookups; the caller holds mutex_.
  Result<NetworkPtr> byHandle(const protocol::NonnullNetwork& h);
  Result<NetworkPtr> byName(const std::string& name);
  Result<NetworkPtr> activeByHandle(const protocol::NonnullNetwork& h);

  // Driver-level validation at define/create (networkValidate's stateful
  // half): bridge name assignment or conflict check, bridge MAC.
  Result<void> assignBridge(conf::NetworkDef& def);
  // Duplicate rules of virNetworkObjAssignDef.
  Result<NetworkPtr> checkDuplicate(const conf::NetworkDef& def, bool forCreate);

  // network_start.cpp: bring a network up (every step undone on failure)
  // or down; the caller holds mutex_.
  Result<void> startNetwork(Network& net);
  Result<void> stopNetwork(Network& net);
  // After a daemon restart: adopt a network recorded as running.
  bool takeOver(Network& net);
  Result<void> refreshDnsmasq(Network& net);  // hosts files rewritten + SIGHUP
  Result<void> restartDnsmasq(Network& net);  // its conf file changed
  Result<void> checkRouteCollision(const conf::NetworkDef& def);

  NetworkFiles filesFor(const std::string& name) const;
  Result<void> persist(const conf::NetworkDef& def);
  void writeStatus(const Network& net);
  void removeStatus(const std::string& name);
  void savePort(const Network& net, const conf::NetworkPortDef& port);
  void removePort(const Network& net, const conf::Uuid& port);

  protocol::NonnullNetwork handle(const Network& n) const { return {n.def->name, n.def->uuid}; }

  daemon::DaemonPaths paths_;
  daemon::EventBus* events_ = nullptr;
  std::string statusDir_;  // <runDir>/network
  std::unique_ptr<objects::DefinitionStore> store_;
  // One lock for the list and every network: changes are rare and short
  // except start/stop, which libvirt serialises per driver too.
  mutable std::mutex mutex_;
  std::map<conf::Uuid, NetworkPtr> nets_;
};

}  // namespace splitvirt::network
