// Network and network port procedures (protocol.md 4.3 "Network";
// remote_protocol.x for the port structs).
#pragma once

#include "protocol/connect_procs.hpp"

namespace splitvirt::protocol {

inline constexpr uint32_t kNetworkListMax = 16384;
inline constexpr uint32_t kNetworkDhcpLeasesMax = 65536;
inline constexpr uint32_t kNetworkPortListMax = 16384;
inline constexpr uint32_t kNetworkPortParametersMax = 16;

struct NonnullNetworkPort {
  NonnullNetwork net;
  Uuid uuid{};
};
BOOST_DESCRIBE_STRUCT(NonnullNetworkPort, (), (net, uuid))

struct NetArg { NonnullNetwork net; };
BOOST_DESCRIBE_STRUCT(NetArg, (), (net))
struct NetFlagsArg { NonnullNetwork net; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NetFlagsArg, (), (net, flags))
struct NetIntArg { NonnullNetwork net; int32_t value = 0; };
BOOST_DESCRIBE_STRUCT(NetIntArg, (), (net, value))
struct NetRet { NonnullNetwork net; };
BOOST_DESCRIBE_STRUCT(NetRet, (), (net))
struct NetXmlArg { std::string xml; };
BOOST_DESCRIBE_STRUCT(NetXmlArg, (), (xml))
struct NetXmlFlagsArg { std::string xml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NetXmlFlagsArg, (), (xml, flags))
struct NetNameArg { std::string name; };
BOOST_DESCRIBE_STRUCT(NetNameArg, (), (name))
struct NetUuidArg { Uuid uuid{}; };
BOOST_DESCRIBE_STRUCT(NetUuidArg, (), (uuid))
struct ListAllNetworksRet { Array<NonnullNetwork, kNetworkListMax> nets; uint32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(ListAllNetworksRet, (), (nets, ret))
struct NetListNamesArg { int32_t maxnames = 0; };
BOOST_DESCRIBE_STRUCT(NetListNamesArg, (), (maxnames))
struct NetNamesRet { Array<std::string, kNetworkListMax> names; };
BOOST_DESCRIBE_STRUCT(NetNamesRet, (), (names))

struct NetUpdateArgs {
  NonnullNetwork net;
  uint32_t command = 0;
  uint32_t section = 0;
  int32_t parentIndex = 0;
  std::string xml;
  uint32_t flags = 0;
};
BOOST_DESCRIBE_STRUCT(NetUpdateArgs, (), (net, command, section, parentIndex, xml, flags))

struct NetworkDhcpLease {
  std::string iface;
  int64_t expirytime = 0;
  int32_t type = 0;  // VIR_IP_ADDR_TYPE_IPV4 / _IPV6
  OptString mac;
  OptString iaid;
  std::string ipaddr;
  uint32_t prefix = 0;
  OptString hostname;
  OptString clientid;
};
BOOST_DESCRIBE_STRUCT(NetworkDhcpLease, (), (iface, expirytime, type, mac, iaid, ipaddr, prefix, hostname, clientid))
struct NetGetDhcpLeasesArgs { NonnullNetwork net; OptString mac; int32_t need_results = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NetGetDhcpLeasesArgs, (), (net, mac, need_results, flags))
struct NetGetDhcpLeasesRet { Array<NetworkDhcpLease, kNetworkDhcpLeasesMax> leases; uint32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(NetGetDhcpLeasesRet, (), (leases, ret))

struct NetEventRegisterAnyArgs { int32_t eventID = 0; std::optional<NonnullNetwork> net; };
BOOST_DESCRIBE_STRUCT(NetEventRegisterAnyArgs, (), (eventID, net))
inline constexpr int kProcNetworkEventLifecycle = 315;
struct NetEventLifecycleMsg { int32_t callbackID = 0; NonnullNetwork net; int32_t event = 0; int32_t detail = 0; };
BOOST_DESCRIBE_STRUCT(NetEventLifecycleMsg, (), (callbackID, net, event, detail))

// Ports.
struct NetListAllPortsArgs { NonnullNetwork net; int32_t need_results = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NetListAllPortsArgs, (), (net, need_results, flags))
struct NetListAllPortsRet { Array<NonnullNetworkPort, kNetworkPortListMax> ports; uint32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(NetListAllPortsRet, (), (ports, ret))
struct NetPortLookupByUuidArgs { NonnullNetwork net; Uuid uuid{}; };
BOOST_DESCRIBE_STRUCT(NetPortLookupByUuidArgs, (), (net, uuid))
struct NetPortRet { NonnullNetworkPort port; };
BOOST_DESCRIBE_STRUCT(NetPortRet, (), (port))
struct NetPortCreateXmlArgs { NonnullNetwork net; std::string xml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NetPortCreateXmlArgs, (), (net, xml, flags))
struct NetPortFlagsArg { NonnullNetworkPort port; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NetPortFlagsArg, (), (port, flags))
struct NetPortSetParametersArgs {
  NonnullNetworkPort port;
  Array<xdr::TypedParam, kNetworkPortParametersMax> params;
  uint32_t flags = 0;
};
BOOST_DESCRIBE_STRUCT(NetPortSetParametersArgs, (), (port, params, flags))
struct NetPortGetParametersArgs { NonnullNetworkPort port; int32_t nparams = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NetPortGetParametersArgs, (), (port, nparams, flags))
struct NetPortGetParametersRet { Array<xdr::TypedParam, kNetworkPortParametersMax> params; int32_t nparams = 0; };
BOOST_DESCRIBE_STRUCT(NetPortGetParametersRet, (), (params, nparams))

// Changing procedures are blocking: they create bridges, run nft and
// dnsmasq, and flush definitions to disk.
inline constexpr Proc<Void, IntRet> kConnectNumOfNetworks{52};
inline constexpr Proc<NetListNamesArg, NetNamesRet> kConnectListNetworks{38};
inline constexpr Proc<Void, IntRet> kConnectNumOfDefinedNetworks{50};
inline constexpr Proc<NetListNamesArg, NetNamesRet> kConnectListDefinedNetworks{36};
inline constexpr Proc<NetArg, Void> kNetworkCreate{39, true};
inline constexpr Proc<NetXmlArg, NetRet> kNetworkCreateXml{40, true};
inline constexpr Proc<NetXmlArg, NetRet> kNetworkDefineXml{41, true};
inline constexpr Proc<NetArg, Void> kNetworkDestroy{42, true};
inline constexpr Proc<NetFlagsArg, StringRet> kNetworkGetXmlDesc{43};
inline constexpr Proc<NetArg, IntRet> kNetworkGetAutostart{44};
inline constexpr Proc<NetArg, StringRet> kNetworkGetBridgeName{45};
inline constexpr Proc<NetNameArg, NetRet> kNetworkLookupByName{46};
inline constexpr Proc<NetUuidArg, NetRet> kNetworkLookupByUuid{47};
inline constexpr Proc<NetIntArg, Void> kNetworkSetAutostart{48, true};
inline constexpr Proc<NetArg, Void> kNetworkUndefine{49, true};
inline constexpr Proc<NetArg, IntRet> kNetworkIsActive{152};
inline constexpr Proc<NetArg, IntRet> kNetworkIsPersistent{153};
inline constexpr Proc<ListAllArgs, ListAllNetworksRet> kConnectListAllNetworks{283};
inline constexpr Proc<NetUpdateArgs, Void> kNetworkUpdate{291, true};
inline constexpr Proc<NetEventRegisterAnyArgs, CallbackIdRet> kConnectNetworkEventRegisterAny{313};
inline constexpr Proc<CallbackIdArg, Void> kConnectNetworkEventDeregisterAny{314};
inline constexpr Proc<NetGetDhcpLeasesArgs, NetGetDhcpLeasesRet> kNetworkGetDhcpLeases{341, true};
inline constexpr Proc<NetListAllPortsArgs, NetListAllPortsRet> kNetworkListAllPorts{404};
inline constexpr Proc<NetPortLookupByUuidArgs, NetPortRet> kNetworkPortLookupByUuid{405};
inline constexpr Proc<NetPortCreateXmlArgs, NetPortRet> kNetworkPortCreateXml{406, true};
inline constexpr Proc<NetPortGetParametersArgs, NetPortGetParametersRet> kNetworkPortGetParameters{407};
inline constexpr Proc<NetPortSetParametersArgs, Void> kNetworkPortSetParameters{408, true};
inline constexpr Proc<NetPortFlagsArg, StringRet> kNetworkPortGetXmlDesc{409};
inline constexpr Proc<NetPortFlagsArg, Void> kNetworkPortDelete{410, true};
inline constexpr Proc<NetXmlFlagsArg, NetRet> kNetworkDefineXmlFlags{432, true};
inline constexpr Proc<NetXmlFlagsArg, NetRet> kNetworkCreateXmlFlags{437, true};

}  // namespace splitvirt::protocol
