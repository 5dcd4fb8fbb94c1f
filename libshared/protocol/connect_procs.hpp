// Connection- and host-level procedures (protocol.md 4.3 "Connection / host").
#pragma once

#include "protocol/proc.hpp"
#include "protocol/remote_types.hpp"

namespace splitvirt::protocol {

using xdr::Void;

struct ConnectOpenArgs { OptString name; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(ConnectOpenArgs, (), (name, flags))
struct AuthListRet { Array<int32_t, kAuthTypeListMax> types; };
BOOST_DESCRIBE_STRUCT(AuthListRet, (), (types))
struct IntArg { int32_t value = 0; };
BOOST_DESCRIBE_STRUCT(IntArg, (), (value))
struct IntRet { int32_t value = 0; };
BOOST_DESCRIBE_STRUCT(IntRet, (), (value))
struct FlagsArg { uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(FlagsArg, (), (flags))
struct StringRet { std::string value; };
BOOST_DESCRIBE_STRUCT(StringRet, (), (value))
struct UHyperRet { uint64_t value = 0; };
BOOST_DESCRIBE_STRUCT(UHyperRet, (), (value))
struct OptStringArg { OptString value; };
BOOST_DESCRIBE_STRUCT(OptStringArg, (), (value))

struct NodeGetInfoRet {
  xdr::FixedChars<32> model;
  uint64_t memory = 0;
  int32_t cpus = 0, mhz = 0, nodes = 0, sockets = 0, cores = 0, threads = 0;
};
BOOST_DESCRIBE_STRUCT(NodeGetInfoRet, (), (model, memory, cpus, mhz, nodes, sockets, cores, threads))

struct NodeGetCellsFreeMemoryArgs { int32_t startCell = 0; int32_t maxcells = 0; };
BOOST_DESCRIBE_STRUCT(NodeGetCellsFreeMemoryArgs, (), (startCell, maxcells))
struct NodeGetCellsFreeMemoryRet { Array<uint64_t, kNodeMaxCells> cells; };
BOOST_DESCRIBE_STRUCT(NodeGetCellsFreeMemoryRet, (), (cells))

struct NodeGetCpuMapArgs { int32_t need_map = 0; int32_t need_online = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(NodeGetCpuMapArgs, (), (need_map, need_online, flags))
struct NodeGetCpuMapRet { xdr::Opaque<kCpumapMax> cpumap; uint32_t online = 0; int32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(NodeGetCpuMapRet, (), (cpumap, online, ret))

struct NodeGetSecurityModelRet {
  xdr::CharArray<kSecurityModelMax> model;
  xdr::CharArray<kSecurityDoiMax> doi;
};
BOOST_DESCRIBE_STRUCT(NodeGetSecurityModelRet, (), (model, doi))

struct ListAllArgs { int32_t need_results = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(ListAllArgs, (), (need_results, flags))
struct ListAllDomainsRet { Array<NonnullDomain, kDomainListMax> domains; uint32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(ListAllDomainsRet, (), (domains, ret))
struct ListDomainsRet { Array<int32_t, kDomainListMax> ids; };
BOOST_DESCRIBE_STRUCT(ListDomainsRet, (), (ids))
struct ListNamesRet { Array<std::string, kDomainListMax> names; };
BOOST_DESCRIBE_STRUCT(ListNamesRet, (), (names))

struct SetIdentityArgs { Array<xdr::TypedParam, kIdentityParamsMax> params; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SetIdentityArgs, (), (params, flags))

struct DomainEventCallbackRegisterAnyArgs { int32_t eventID = 0; std::optional<NonnullDomain> dom; };
BOOST_DESCRIBE_STRUCT(DomainEventCallbackRegisterAnyArgs, (), (eventID, dom))
struct CallbackIdRet { int32_t callbackID = 0; };
BOOST_DESCRIBE_STRUCT(CallbackIdRet, (), (callbackID))
struct CallbackIdArg { int32_t callbackID = 0; };
BOOST_DESCRIBE_STRUCT(CallbackIdArg, (), (callbackID))

inline constexpr Proc<ConnectOpenArgs, Void> kConnectOpen{1};
inline constexpr Proc<Void, Void> kConnectClose{2};
inline constexpr Proc<Void, StringRet> kConnectGetType{3};
// Blocking: the first call probes the emulator binary (100-200 ms).
inline constexpr Proc<Void, UHyperRet> kConnectGetVersion{4, true};
inline constexpr Proc<OptStringArg, IntRet> kConnectGetMaxVcpus{5};
inline constexpr Proc<Void, NodeGetInfoRet> kNodeGetInfo{6};
inline constexpr Proc<Void, StringRet> kConnectGetCapabilities{7, true};
inline constexpr Proc<Void, IntRet> kConnectNumOfDefinedDomains{25};
inline constexpr Proc<IntArg, ListNamesRet> kConnectListDefinedDomains{21};
inline constexpr Proc<IntArg, ListDomainsRet> kConnectListDomains{37};
inline constexpr Proc<Void, IntRet> kConnectNumOfDomains{51};
inline constexpr Proc<Void, StringRet> kConnectGetHostname{59};
inline constexpr Proc<IntArg, IntRet> kConnectSupportsFeature{60};
inline constexpr Proc<Void, AuthListRet> kAuthList{66};
inline constexpr Proc<NodeGetCellsFreeMemoryArgs, NodeGetCellsFreeMemoryRet> kNodeGetCellsFreeMemory{101};
inline constexpr Proc<Void, UHyperRet> kNodeGetFreeMemory{102};
inline constexpr Proc<Void, StringRet> kConnectGetUri{110};
inline constexpr Proc<Void, NodeGetSecurityModelRet> kNodeGetSecurityModel{122};
inline constexpr Proc<Void, IntRet> kConnectIsSecure{149};
inline constexpr Proc<Void, UHyperRet> kConnectGetLibVersion{157};
inline constexpr Proc<FlagsArg, StringRet> kConnectGetSysinfo{203};
inline constexpr Proc<ListAllArgs, ListAllDomainsRet> kConnectListAllDomains{273};
inline constexpr Proc<NodeGetCpuMapArgs, NodeGetCpuMapRet> kNodeGetCpuMap{293};
inline constexpr Proc<DomainEventCallbackRegisterAnyArgs, CallbackIdRet> kConnectDomainEventCallbackRegisterAny{316};
inline constexpr Proc<CallbackIdArg, Void> kConnectDomainEventCallbackDeregisterAny{317};
inline constexpr Proc<Void, Void> kConnectRegisterCloseCallback{360};
inline constexpr Proc<Void, Void> kConnectUnregisterCloseCallback{361};
inline constexpr Proc<SetIdentityArgs, Void> kConnectSetIdentity{419};

// Event messages (server -> client).
inline constexpr int kProcDomainEventCallbackLifecycle = 318;
inline constexpr int kProcDomainEventCallbackReboot = 319;
inline constexpr int kProcDomainEventCallbackDeviceRemoved = 333;

struct DomainEventCallbackDeviceRemovedMsg {
  int32_t callbackID = 0;
  NonnullDomain dom;
  std::string devAlias;
};
BOOST_DESCRIBE_STRUCT(DomainEventCallbackDeviceRemovedMsg, (), (callbackID, dom, devAlias))

// Event id 23 METADATA_CHANGE: type 0 description, 1 title, 2 element (nsuri).
inline constexpr int kProcDomainEventCallbackMetadataChange = 379;
struct DomainEventCallbackMetadataChangeMsg {
  int32_t callbackID = 0;
  NonnullDomain dom;
  int32_t type = 0;
  OptString nsuri;
};
BOOST_DESCRIBE_STRUCT(DomainEventCallbackMetadataChangeMsg, (), (callbackID, dom, type, nsuri))

// Event id 13 BALLOON_CHANGE: the guest's memory in KiB.
inline constexpr int kProcDomainEventCallbackBalloonChange = 331;
struct DomainEventBalloonChange {
  NonnullDomain dom;
  uint64_t actual = 0;
};
BOOST_DESCRIBE_STRUCT(DomainEventBalloonChange, (), (dom, actual))
struct DomainEventCallbackBalloonChangeMsg {
  int32_t callbackID = 0;
  DomainEventBalloonChange msg;
};
BOOST_DESCRIBE_STRUCT(DomainEventCallbackBalloonChangeMsg, (), (callbackID, msg))

struct DomainEventCallbackRebootMsg {
  int32_t callbackID = 0;
  NonnullDomain dom;
};
BOOST_DESCRIBE_STRUCT(DomainEventCallbackRebootMsg, (), (callbackID, dom))

struct DomainEventCallbackLifecycleMsg {
  int32_t callbackID = 0;
  NonnullDomain dom;
  int32_t event = 0;
  int32_t detail = 0;
};
BOOST_DESCRIBE_STRUCT(DomainEventCallbackLifecycleMsg, (), (callbackID, dom, event, detail))

}  // namespace splitvirt::protocol
