// <interface type='network'>: virtnetworkd owns the network; a starting
// guest asks it for a port (NETWORK_PORT_CREATE_XML, as libvirt's
// virDomainNetAllocateActualDevice does), learns the bridge from the port's
// plug and puts its tap there; a stopping guest gives the port back.
#include "conf/network_port_def.hpp"
#include "conf/uuid.hpp"
#include "protocol/network_procs.hpp"
#include "qemu_driver.hpp"
#include "rpc/sync_client.hpp"
#include "util/log.hpp"

namespace splitvirt::qemu {

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Qemu;

Result<std::unique_ptr<rpc::SyncClient>> connectNetworkDaemon(const std::string& runDir) {
  auto c = rpc::SyncClient::connect(runDir + "/virtnetworkd-sock");
  if (!c) return c.error();
  SV_TRY_VOID((*c)->call(protocol::kAuthList, xdr::Void{}));
  SV_TRY_VOID((*c)->call(protocol::kConnectOpen, protocol::ConnectOpenArgs{"network:///system", 0}));
  return std::move(*c);
}

}  // namespace

Result<void> QemuDriver::allocateNetworkPorts(conf::DomainDef& live) {
  std::unique_ptr<rpc::SyncClient> netd;
  auto undo = [&] { releaseNetworkPorts(live); };
  for (auto& net : live.nets) {
    if (net.type != conf::NetType::Network) continue;
    if (!netd) {
      auto c = connectNetworkDaemon(paths_.runDir);
      if (!c) return c.error();
      netd = std::move(*c);
    }
    auto found = netd->call(protocol::kNetworkLookupByName, protocol::NetNameArg{net.sourceNetwork.value_or("")});
    if (!found) {
      undo();
      return found.error();
    }
    conf::NetworkPortDef want;
    want.uuid = conf::generateUuid();
    want.ownerName = live.name;
    want.ownerUuid = live.uuid;
    want.mac = net.mac.value_or(conf::MacAddr{});
    auto port = netd->call(protocol::kNetworkPortCreateXml,
                           protocol::NetPortCreateXmlArgs{found->net, conf::formatNetworkPortDef(want), 0});
    if (!port) {
      undo();
      return port.error();
    }
    net.sourcePortId = conf::formatUuid(port->port.uuid);
    auto xml = netd->call(protocol::kNetworkPortGetXmlDesc, protocol::NetPortFlagsArg{port->port, 0});
    auto got = xml ? conf::parseNetworkPortDef(xml->value) : Result<conf::NetworkPortDef>(xml.error());
    if (!got) {
      undo();
      return got.error();
    }
    if (got->bridge.empty()) {
      undo();
      return Error::internal(kErr, "network '" + *net.sourceNetwork + "' gave a port without a bridge");
    }
    net.sourceBridge = got->bridge;
  }
  return {};
}

// Best effort: a port that cannot be released is logged, never blocks a
// guest from stopping (virtnetworkd drops a network's ports when it stops).
void QemuDriver::releaseNetworkPorts(const conf::DomainDef& live) {
  std::unique_ptr<rpc::SyncClient> netd;
  for (const auto& net : live.nets) {
    if (net.type != conf::NetType::Network || !net.sourcePortId) continue;
    auto portUuid = conf::parseUuid(*net.sourcePortId);
    if (!portUuid) continue;
    if (!netd) {
      auto c = connectNetworkDaemon(paths_.runDir);
      if (!c) {
        log::warn("cannot release network ports of %s: %s", live.name.c_str(), c.error().message.c_str());
        return;
      }
      netd = std::move(*c);
    }
    auto found = netd->call(protocol::kNetworkLookupByName, protocol::NetNameArg{net.sourceNetwork.value_or("")});
    Result<xdr::Void> r = found ? netd->call(protocol::kNetworkPortDelete,
                                             protocol::NetPortFlagsArg{{found->net, *portUuid}, 0})
                                : Result<xdr::Void>(found.error());
    if (!r)
      log::warn("cannot release port %s of network '%s': %s", conf::formatUuid(*portUuid).c_str(),
                net.sourceNetwork.value_or("").c_str(), r.error().message.c_str());
  }
}

}  // namespace splitvirt::qemu
