// Network ports: what a hypervisor daemon asks for when a guest NIC joins a
// network (NETWORK_PORT_CREATE_XML) and gives back when it leaves. Ports of
// a running network are recorded under the run dir, so they survive a
// daemon restart together with the network.
#include "network_driver.hpp"
#include "protocol/network_procs.hpp"

namespace splitvirt::network {

using namespace protocol;
using rpc::ConnContext;

namespace {
constexpr ErrorDomain kErr = ErrorDomain::Network;
// virNetworkPortCreateFlags
constexpr uint32_t kCreateReclaim = 1, kCreateValidate = 2;
}  // namespace

void NetworkDriver::bindPorts(rpc::Program& p) {
  auto portHandle = [this](const Network& n, const conf::Uuid& u) { return NonnullNetworkPort{handle(n), u}; };
  auto findPort = [](Network& n, const conf::Uuid& u) -> Result<conf::NetworkPortDef*> {
    auto it = n.ports.find(u);
    if (it == n.ports.end())
      return Error::noNetworkPort("Network port with UUID " + conf::formatUuid(u) + " does not exist");
    return &it->second;
  };

  p.bind(kNetworkPortCreateXml, [this, portHandle](ConnContext&, NetPortCreateXmlArgs&& a) -> Result<NetPortRet> {
    if (a.flags & ~(kCreateReclaim | kCreateValidate)) return Error::unsupportedFlags(kErr, a.flags & ~(kCreateReclaim | kCreateValidate), "networkPortCreateXML");
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    auto port = conf::parseNetworkPortDef(a.xml, (a.flags & kCreateValidate) ? conf::kNetPortParseValidate : 0);
    if (!port) return port.error();
    if (!n->active) return Error::operationInvalid(kErr, "network '" + n->def->name + "' is not active");
    const bool reclaim = a.flags & kCreateReclaim;
    if (port->plugType == conf::PortPlugType::None && reclaim)
      return Error::invalidArg(kErr, "Port reclaim requested but plug type is none");
    if (port->plugType != conf::PortPlugType::None && !reclaim)
      return Error::invalidArg(kErr, "Port reclaim not requested but plug type is not none");
    if (n->ports.count(port->uuid))
      return Error::make(ErrorCode::NetworkPortExist, kErr, "network port %s exists already",
                         "this network port exists already",
                         "Network port with UUID " + conf::formatUuid(port->uuid) + " already exists");
    const conf::NetworkDef& def = *n->def;
    if (!def.bridge)
      return Error::internal(kErr, "Unexpectedly got a network port without a network bridge");
    if (!reclaim) {
      // networkAllocatePort: guests of our own L3 networks plug into the
      // network's bridge; forward mode bridge means the host bridge.
      port->plugType = def.ownsBridge() ? conf::PortPlugType::Network : conf::PortPlugType::Bridge;
      port->bridge = *def.bridge;
      port->macTableManager = def.macTableManager;
      if (port->isolatedPort == conf::Tristate::Absent) port->isolatedPort = def.isolatedPort;
      if (port->trustGuestRxFilters == conf::Tristate::Absent)
        port->trustGuestRxFilters = def.trustGuestRxFilters;
    } else if (port->bridge != *def.bridge) {
      return Error::internal(kErr, "network '" + def.name + "' has bridge '" + *def.bridge + "', not '" +
                                       port->bridge + "'");
    }
    auto uuid = port->uuid;
    savePort(*n, *port);
    n->ports[uuid] = std::move(*port);
    return NetPortRet{portHandle(*n, uuid)};
  });

  p.bind(kNetworkPortLookupByUuid, [this, portHandle, findPort](ConnContext&,
                                                                NetPortLookupByUuidArgs&& a) -> Result<NetPortRet> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    conf::NetworkPortDef* port = nullptr;
    SV_TRY_ASSIGN(port, findPort(*n, a.uuid));
    return NetPortRet{portHandle(*n, port->uuid)};
  });

  p.bind(kNetworkPortGetXmlDesc, [this, findPort](ConnContext&, NetPortFlagsArg&& a) -> Result<StringRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "networkPortGetXMLDesc");
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.port.net));
    conf::NetworkPortDef* port = nullptr;
    SV_TRY_ASSIGN(port, findPort(*n, a.port.uuid));
    return StringRet{conf::formatNetworkPortDef(*port)};
  });

  p.bind(kNetworkPortDelete, [this, findPort](ConnContext&, NetPortFlagsArg&& a) -> Result<Void> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "networkPortDelete");
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.port.net));
    SV_TRY_VOID(findPort(*n, a.port.uuid));
    removePort(*n, a.port.uuid);
    n->ports.erase(a.port.uuid);
    return Void{};
  });

  p.bind(kNetworkListAllPorts, [this, portHandle](ConnContext&, NetListAllPortsArgs&& a) -> Result<NetListAllPortsRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "networkListAllPorts");
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    NetListAllPortsRet ret;
    for (auto& [u, port] : n->ports) {
      if (a.need_results) ret.ports.push_back(portHandle(*n, u));
      ret.ret++;
    }
    return ret;
  });

  // Bandwidth is not modelled: no parameters to read, none accepted.
  p.bind(kNetworkPortGetParameters, [this, findPort](ConnContext&,
                                                     NetPortGetParametersArgs&& a) -> Result<NetPortGetParametersRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "networkPortGetParameters");
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.port.net));
    SV_TRY_VOID(findPort(*n, a.port.uuid));
    return NetPortGetParametersRet{{}, 0};
  });
}

}  // namespace splitvirt::network
