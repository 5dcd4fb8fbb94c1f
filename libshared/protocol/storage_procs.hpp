// Storage pool and volume procedures (protocol.md 4.3 "Storage pool/volume").
#pragma once

#include "protocol/connect_procs.hpp"

namespace splitvirt::protocol {

struct PoolArg { NonnullStoragePool pool; };
BOOST_DESCRIBE_STRUCT(PoolArg, (), (pool))
struct PoolFlagsArg { NonnullStoragePool pool; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(PoolFlagsArg, (), (pool, flags))
struct PoolIntArg { NonnullStoragePool pool; int32_t value = 0; };
BOOST_DESCRIBE_STRUCT(PoolIntArg, (), (pool, value))
struct PoolRet { NonnullStoragePool pool; };
BOOST_DESCRIBE_STRUCT(PoolRet, (), (pool))
struct PoolXmlFlagsArg { std::string xml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(PoolXmlFlagsArg, (), (xml, flags))
struct PoolNameArg { std::string name; };
BOOST_DESCRIBE_STRUCT(PoolNameArg, (), (name))
struct PoolUuidArg { Uuid uuid{}; };
BOOST_DESCRIBE_STRUCT(PoolUuidArg, (), (uuid))
struct PoolGetInfoRet {
  uint32_t state = 0;  // unsigned char: 4 bytes on the wire
  uint64_t capacity = 0;
  uint64_t allocation = 0;
  uint64_t available = 0;
};
BOOST_DESCRIBE_STRUCT(PoolGetInfoRet, (), (state, capacity, allocation, available))
struct ListAllPoolsRet { Array<NonnullStoragePool, kStoragePoolListMax> pools; uint32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(ListAllPoolsRet, (), (pools, ret))
struct PoolListNamesArg { int32_t maxnames = 0; };
BOOST_DESCRIBE_STRUCT(PoolListNamesArg, (), (maxnames))
struct PoolListAllVolumesArgs { NonnullStoragePool pool; int32_t need_results = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(PoolListAllVolumesArgs, (), (pool, need_results, flags))
struct PoolListAllVolumesRet { Array<NonnullStorageVol, kStorageVolListMax> vols; uint32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(PoolListAllVolumesRet, (), (vols, ret))
struct PoolListVolumesArgs { NonnullStoragePool pool; int32_t maxnames = 0; };
BOOST_DESCRIBE_STRUCT(PoolListVolumesArgs, (), (pool, maxnames))
struct NamesRet { Array<std::string, kStorageVolListMax> names; };
BOOST_DESCRIBE_STRUCT(NamesRet, (), (names))

struct VolArg { NonnullStorageVol vol; };
BOOST_DESCRIBE_STRUCT(VolArg, (), (vol))
struct VolFlagsArg { NonnullStorageVol vol; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(VolFlagsArg, (), (vol, flags))
struct VolRet { NonnullStorageVol vol; };
BOOST_DESCRIBE_STRUCT(VolRet, (), (vol))
struct VolCreateXmlArgs { NonnullStoragePool pool; std::string xml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(VolCreateXmlArgs, (), (pool, xml, flags))
struct VolCreateXmlFromArgs { NonnullStoragePool pool; std::string xml; NonnullStorageVol clonevol; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(VolCreateXmlFromArgs, (), (pool, xml, clonevol, flags))
struct VolLookupByNameArgs { NonnullStoragePool pool; std::string name; };
BOOST_DESCRIBE_STRUCT(VolLookupByNameArgs, (), (pool, name))
struct VolGetInfoRet {
  int32_t type = 0;  // char: 4 bytes on the wire
  uint64_t capacity = 0;
  uint64_t allocation = 0;
};
BOOST_DESCRIBE_STRUCT(VolGetInfoRet, (), (type, capacity, allocation))
struct VolResizeArgs { NonnullStorageVol vol; uint64_t capacity = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(VolResizeArgs, (), (vol, capacity, flags))
struct VolWipePatternArgs { NonnullStorageVol vol; uint32_t algorithm = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(VolWipePatternArgs, (), (vol, algorithm, flags))
struct VolTransferArgs { NonnullStorageVol vol; uint64_t offset = 0; uint64_t length = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(VolTransferArgs, (), (vol, offset, length, flags))
struct FindPoolSourcesArgs { std::string type; OptString srcSpec; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(FindPoolSourcesArgs, (), (type, srcSpec, flags))

struct PoolEventRegisterAnyArgs { int32_t eventID = 0; std::optional<NonnullStoragePool> pool; };
BOOST_DESCRIBE_STRUCT(PoolEventRegisterAnyArgs, (), (eventID, pool))
inline constexpr Proc<PoolEventRegisterAnyArgs, CallbackIdRet> kConnectStoragePoolEventRegisterAny{368};
inline constexpr Proc<CallbackIdArg, Void> kConnectStoragePoolEventDeregisterAny{369};

// Event messages (server -> client).
inline constexpr int kProcStoragePoolEventLifecycle = 370;
inline constexpr int kProcStoragePoolEventRefresh = 373;
struct PoolEventLifecycleMsg { int32_t callbackID = 0; NonnullStoragePool pool; int32_t event = 0; int32_t detail = 0; };
BOOST_DESCRIBE_STRUCT(PoolEventLifecycleMsg, (), (callbackID, pool, event, detail))
struct PoolEventRefreshMsg { int32_t callbackID = 0; NonnullStoragePool pool; };
BOOST_DESCRIBE_STRUCT(PoolEventRefreshMsg, (), (callbackID, pool))

// Modifying or I/O-bound procedures are blocking (they run off the I/O threads).
inline constexpr Proc<Void, IntRet> kConnectNumOfStoragePools{71};
inline constexpr Proc<PoolListNamesArg, NamesRet> kConnectListStoragePools{72};
inline constexpr Proc<Void, IntRet> kConnectNumOfDefinedStoragePools{73};
inline constexpr Proc<PoolListNamesArg, NamesRet> kConnectListDefinedStoragePools{74};
inline constexpr Proc<FindPoolSourcesArgs, StringRet> kConnectFindStoragePoolSources{75, true};
inline constexpr Proc<PoolXmlFlagsArg, PoolRet> kStoragePoolCreateXml{76, true};
inline constexpr Proc<PoolXmlFlagsArg, PoolRet> kStoragePoolDefineXml{77, true};
inline constexpr Proc<PoolFlagsArg, Void> kStoragePoolCreate{78, true};
inline constexpr Proc<PoolFlagsArg, Void> kStoragePoolBuild{79, true};
inline constexpr Proc<PoolArg, Void> kStoragePoolDestroy{80, true};
inline constexpr Proc<PoolFlagsArg, Void> kStoragePoolDelete{81, true};
inline constexpr Proc<PoolArg, Void> kStoragePoolUndefine{82, true};
inline constexpr Proc<PoolFlagsArg, Void> kStoragePoolRefresh{83, true};
inline constexpr Proc<PoolNameArg, PoolRet> kStoragePoolLookupByName{84};
inline constexpr Proc<PoolUuidArg, PoolRet> kStoragePoolLookupByUuid{85};
inline constexpr Proc<VolArg, PoolRet> kStoragePoolLookupByVolume{86};
inline constexpr Proc<PoolArg, PoolGetInfoRet> kStoragePoolGetInfo{87};
inline constexpr Proc<PoolFlagsArg, StringRet> kStoragePoolGetXmlDesc{88};
inline constexpr Proc<PoolArg, IntRet> kStoragePoolGetAutostart{89};
inline constexpr Proc<PoolIntArg, Void> kStoragePoolSetAutostart{90, true};
inline constexpr Proc<PoolArg, IntRet> kStoragePoolNumOfVolumes{91};
inline constexpr Proc<PoolListVolumesArgs, NamesRet> kStoragePoolListVolumes{92};
inline constexpr Proc<VolCreateXmlArgs, VolRet> kStorageVolCreateXml{93, true};
inline constexpr Proc<VolFlagsArg, Void> kStorageVolDelete{94, true};
inline constexpr Proc<VolLookupByNameArgs, VolRet> kStorageVolLookupByName{95};
inline constexpr Proc<PoolNameArg, VolRet> kStorageVolLookupByKey{96};
inline constexpr Proc<PoolNameArg, VolRet> kStorageVolLookupByPath{97};
inline constexpr Proc<VolArg, VolGetInfoRet> kStorageVolGetInfo{98, true};
inline constexpr Proc<VolFlagsArg, StringRet> kStorageVolGetXmlDesc{99, true};
inline constexpr Proc<VolArg, StringRet> kStorageVolGetPath{100};
inline constexpr Proc<VolCreateXmlFromArgs, VolRet> kStorageVolCreateXmlFrom{125, true};
inline constexpr Proc<PoolArg, IntRet> kStoragePoolIsActive{154};
inline constexpr Proc<PoolArg, IntRet> kStoragePoolIsPersistent{155};
inline constexpr Proc<VolFlagsArg, Void> kStorageVolWipe{165, true};
inline constexpr Proc<VolTransferArgs, Void> kStorageVolUpload{208, true};
inline constexpr Proc<VolTransferArgs, Void> kStorageVolDownload{209, true};
inline constexpr Proc<VolWipePatternArgs, Void> kStorageVolWipePattern{259, true};
inline constexpr Proc<VolResizeArgs, Void> kStorageVolResize{260, true};
inline constexpr Proc<ListAllArgs, ListAllPoolsRet> kConnectListAllStoragePools{281};
inline constexpr Proc<PoolListAllVolumesArgs, PoolListAllVolumesRet> kStoragePoolListAllVolumes{282};
inline constexpr Proc<VolFlagsArg, VolGetInfoRet> kStorageVolGetInfoFlags{378, true};
inline constexpr Proc<PoolNameArg, PoolRet> kStoragePoolLookupByTargetPath{391};
inline constexpr Proc<FlagsArg, StringRet> kConnectGetStoragePoolCapabilities{403};

}  // namespace splitvirt::protocol
