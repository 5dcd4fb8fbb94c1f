#include "network_driver.hpp"

#include "host/tap.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <dirent.h>
#include <unistd.h>

namespace splitvirt::network {

namespace {
constexpr ErrorDomain kErr = ErrorDomain::Network;
constexpr int kMaxBridgeId = 256;  // libvirt's MAX_BRIDGE_ID

bool hasBridgeTemplate(const std::optional<std::string>& b) { return b && b->find("%d") != std::string::npos; }
}  // namespace

NetworkFiles NetworkDriver::filesFor(const std::string& name) const {
  return NetworkFiles{statusDir_ + "/" + name + ".xml", statusDir_ + "/" + name + ".ports",
                      statusDir_ + "/" + name + ".pid", paths_.stateDir + "/dnsmasq"};
}

Result<void> NetworkDriver::init(const daemon::DaemonPaths& paths, daemon::EventBus& events) {
  paths_ = paths;
  events_ = &events;
  statusDir_ = paths.runDir + "/network";
  SV_TRY_VOID(fs::makeDirs(statusDir_, 0755, kErr));
  store_ = std::make_unique<objects::DefinitionStore>(paths.configDir + "/qemu/networks", kErr);
  SV_TRY_VOID(store_->prepare());

  std::lock_guard lk(mutex_);
  for (auto& f : store_->loadAll()) {
    auto def = conf::parseNetworkDef(f.xml);
    if (!def || def->name != f.name) {
      log::warn("cannot load network config %s.xml: %s", f.name.c_str(),
                def ? "name does not match the file" : def.error().message.c_str());
      continue;
    }
    auto n = std::make_shared<Network>();
    n->def = std::make_shared<const conf::NetworkDef>(std::move(*def));
    n->autostart = f.autostart;
    nets_[n->def->uuid] = n;
  }
  // Networks that were running when the daemon last stopped: their status
  // file holds the live definition (transient networks only live there).
  for (auto& f : objects::DefinitionStore(statusDir_, kErr).loadAll()) {
    auto def = conf::parseNetworkDef(f.xml);
    if (!def) {
      log::warn("cannot load network status %s.xml: %s", f.name.c_str(), def.error().message.c_str());
      continue;
    }
    NetworkPtr n;
    auto live = std::make_shared<const conf::NetworkDef>(std::move(*def));
    if (auto it = nets_.find(live->uuid); it != nets_.end()) {
      n = it->second;
      if (!(*n->def == *live)) n->newDef = n->def;
    } else {
      n = std::make_shared<Network>();
      n->persistent = false;
    }
    n->def = live;
    if (takeOver(*n)) {
      nets_[live->uuid] = n;
    } else if (!n->persistent) {
      nets_.erase(live->uuid);
    } else {
      if (n->newDef) n->def = std::exchange(n->newDef, nullptr);
    }
  }
  for (auto& [u, n] : nets_) {
    if (!n->autostart || n->active) continue;
    if (auto r = startNetwork(*n); !r)
      log::warn("failed to autostart network '%s': %s", n->def->name.c_str(), r.error().message.c_str());
  }
  log::info("loaded %zu networks", nets_.size());
  return {};
}

Result<std::string> NetworkDriver::openConnection(rpc::ConnContext&, const std::string& uri, unsigned) {
  if (uri.empty()) return std::string("network:///system");
  auto colon = uri.find(':');
  std::string scheme = colon == std::string::npos ? "" : uri.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : uri.substr(colon + 1);
  std::string path = rest.rfind("///", 0) == 0 ? rest.substr(2) : "";
  if (auto q = path.find('?'); q != std::string::npos) path = path.substr(0, q);
  if (scheme != "network" || path.empty()) return Error::noConnect(ErrorDomain::None, uri);
  if (path != "/system")
    return Error::internal(kErr, "unexpected network URI path '" + path + "', try network:///system");
  return std::string("network:///system");
}

bool NetworkDriver::inhibitsIdleExit() const {
  std::lock_guard lk(mutex_);
  for (auto& [u, n] : nets_)
    if (n->active) return true;
  return false;
}

void NetworkDriver::bind(rpc::Program& p) {
  bindNetworks(p);
  bindQueries(p);
  bindUpdate(p);
  bindPorts(p);
  bindEvents(p);
}

Result<NetworkPtr> NetworkDriver::byHandle(const protocol::NonnullNetwork& h) {
  auto it = nets_.find(h.uuid);
  if (it == nets_.end())
    return Error::noNetwork("no network with matching uuid '" + conf::formatUuid(h.uuid) + "' (" + h.name + ")");
  return it->second;
}

Result<NetworkPtr> NetworkDriver::byName(const std::string& name) {
  for (auto& [u, n] : nets_)
    if (n->def->name == name) return n;
  return Error::noNetwork("no network with matching name '" + name + "'");
}

Result<NetworkPtr> NetworkDriver::activeByHandle(const protocol::NonnullNetwork& h) {
  NetworkPtr n;
  SV_TRY_ASSIGN(n, byHandle(h));
  if (!n->active) return Error::operationInvalid(kErr, "network '" + n->def->name + "' is not active");
  return n;
}

Result<NetworkPtr> NetworkDriver::checkDuplicate(const conf::NetworkDef& def, bool forCreate) {
  if (auto it = nets_.find(def.uuid); it != nets_.end()) {
    auto& n = it->second;
    if (n->def->name != def.name)
      return Error::operationFailed(kErr, "network '" + n->def->name + "' is already defined with uuid " +
                                              conf::formatUuid(def.uuid));
    if (forCreate && n->active)
      return Error::operationInvalid(kErr, "network is already active as '" + n->def->name + "'");
    return n;
  }
  for (auto& [u, n] : nets_)
    if (n->def->name == def.name)
      return Error::operationFailed(kErr, "network '" + def.name + "' already exists with uuid " +
                                              conf::formatUuid(n->def->uuid));
  return NetworkPtr{};
}

// networkBridgeNameValidate + virNetworkSetBridgeMacAddr.
Result<void> NetworkDriver::assignBridge(conf::NetworkDef& def) {
  if (!def.ownsBridge()) return {};
  auto inUse = [&](const std::string& br) {
    for (auto& [u, n] : nets_) {
      if (n->def->name == def.name) continue;
      if (n->def->bridge == br || (n->newDef && n->newDef->bridge == br)) return true;
    }
    return false;
  };
  if (def.bridge && !hasBridgeTemplate(def.bridge)) {
    if (inUse(*def.bridge))
      return Error::internal(kErr, "bridge name '" + *def.bridge + "' already in use.");
  } else {
    std::string templ = "virbr%d";
    if (def.bridge) {
      auto p = def.bridge->find('%');
      if (p == def.bridge->rfind('%') && def.bridge->compare(p, 2, "%d") == 0) templ = *def.bridge;
    }
    bool found = false;
    for (int id = 0; id <= kMaxBridgeId && !found; ++id) {
      auto at = templ.find("%d");
      std::string name = templ.substr(0, at) + std::to_string(id) + templ.substr(at + 2);
      if (!inUse(name) && !host::interfaceExists(name)) {
        def.bridge = name;
        found = true;
      }
    }
    if (!found) return Error::internal(kErr, "Bridge generation exceeded max id " + std::to_string(kMaxBridgeId));
  }
  if (!def.mac) def.mac = conf::generateMac();
  return {};
}

Result<void> NetworkDriver::persist(const conf::NetworkDef& def) {
  auto ticket = store_->save(def.name, objects::withGeneratedWarning("virsh net-edit " + def.name,
                                                                     conf::formatNetworkDef(def, conf::kNetFormatInactive)));
  if (!ticket) return ticket.error();
  return store_->waitDurable(*ticket);
}

// The run dir is volatile (tmpfs): atomic rename without the journal.
void NetworkDriver::writeStatus(const Network& net) {
  if (auto r = fs::atomicWriteFile(filesFor(net.def->name).statusXml, conf::formatNetworkDef(*net.def), 0644, kErr);
      !r)
    log::warn("cannot record network '%s' as running: %s", net.def->name.c_str(), r.error().message.c_str());
}

void NetworkDriver::removeStatus(const std::string& name) {
  auto f = filesFor(name);
  ::unlink(f.statusXml.c_str());
  if (DIR* d = ::opendir(f.portsDir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ::unlink((f.portsDir + "/" + e->d_name).c_str());
    ::closedir(d);
  }
  ::rmdir(f.portsDir.c_str());
}

void NetworkDriver::savePort(const Network& net, const conf::NetworkPortDef& port) {
  auto f = filesFor(net.def->name);
  (void)fs::makeDirs(f.portsDir, 0755, kErr);
  if (auto r = fs::atomicWriteFile(f.portsDir + "/" + conf::formatUuid(port.uuid) + ".xml",
                                   conf::formatNetworkPortDef(port), 0644, kErr);
      !r)
    log::warn("cannot record port of network '%s': %s", net.def->name.c_str(), r.error().message.c_str());
}

void NetworkDriver::removePort(const Network& net, const conf::Uuid& port) {
  ::unlink((filesFor(net.def->name).portsDir + "/" + conf::formatUuid(port) + ".xml").c_str());
}

}  // namespace splitvirt::network
