// Domain snapshot procedures (protocol.md 4.3 "Snapshot").
#pragma once

#include "protocol/connect_procs.hpp"

namespace splitvirt::protocol {

inline constexpr uint32_t kDomainSnapshotListMax = 16384;

struct NonnullDomainSnapshot {
  std::string name;
  NonnullDomain dom;
};
BOOST_DESCRIBE_STRUCT(NonnullDomainSnapshot, (), (name, dom))

struct SnapDomFlagsArg { NonnullDomain dom; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SnapDomFlagsArg, (), (dom, flags))
struct SnapCreateXmlArgs { NonnullDomain dom; std::string xml_desc; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SnapCreateXmlArgs, (), (dom, xml_desc, flags))
struct SnapRet { NonnullDomainSnapshot snap; };
BOOST_DESCRIBE_STRUCT(SnapRet, (), (snap))
struct SnapFlagsArg { NonnullDomainSnapshot snap; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SnapFlagsArg, (), (snap, flags))
struct SnapListNamesArgs { NonnullDomain dom; int32_t maxnames = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SnapListNamesArgs, (), (dom, maxnames, flags))
struct SnapNamesRet { Array<std::string, kDomainSnapshotListMax> names; };
BOOST_DESCRIBE_STRUCT(SnapNamesRet, (), (names))
struct SnapLookupByNameArgs { NonnullDomain dom; std::string name; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SnapLookupByNameArgs, (), (dom, name, flags))
struct SnapChildrenNamesArgs { NonnullDomainSnapshot snap; int32_t maxnames = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SnapChildrenNamesArgs, (), (snap, maxnames, flags))
struct ListAllSnapshotsArgs { NonnullDomain dom; int32_t need_results = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(ListAllSnapshotsArgs, (), (dom, need_results, flags))
struct SnapListAllChildrenArgs { NonnullDomainSnapshot snapshot; int32_t need_results = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SnapListAllChildrenArgs, (), (snapshot, need_results, flags))
struct SnapListRet { Array<NonnullDomainSnapshot, kDomainSnapshotListMax> snapshots; int32_t ret = 0; };
BOOST_DESCRIBE_STRUCT(SnapListRet, (), (snapshots, ret))

// Creating, reverting and deleting run QEMU jobs or qemu-img: blocking.
inline constexpr Proc<SnapCreateXmlArgs, SnapRet> kDomainSnapshotCreateXml{185, true};
inline constexpr Proc<SnapFlagsArg, StringRet> kDomainSnapshotGetXmlDesc{186};
inline constexpr Proc<SnapDomFlagsArg, IntRet> kDomainSnapshotNum{187};
inline constexpr Proc<SnapListNamesArgs, SnapNamesRet> kDomainSnapshotListNames{188};
inline constexpr Proc<SnapLookupByNameArgs, SnapRet> kDomainSnapshotLookupByName{189};
inline constexpr Proc<SnapDomFlagsArg, IntRet> kDomainHasCurrentSnapshot{190};
inline constexpr Proc<SnapDomFlagsArg, SnapRet> kDomainSnapshotCurrent{191};
inline constexpr Proc<SnapFlagsArg, Void> kDomainRevertToSnapshot{192, true};
inline constexpr Proc<SnapFlagsArg, Void> kDomainSnapshotDelete{193, true};
inline constexpr Proc<SnapFlagsArg, SnapRet> kDomainSnapshotGetParent{244};
inline constexpr Proc<SnapFlagsArg, IntRet> kDomainSnapshotNumChildren{246};
inline constexpr Proc<SnapChildrenNamesArgs, SnapNamesRet> kDomainSnapshotListChildrenNames{247};
inline constexpr Proc<SnapFlagsArg, IntRet> kDomainSnapshotIsCurrent{271};
inline constexpr Proc<SnapFlagsArg, IntRet> kDomainSnapshotHasMetadata{272};
inline constexpr Proc<ListAllSnapshotsArgs, SnapListRet> kDomainListAllSnapshots{274};
inline constexpr Proc<SnapListAllChildrenArgs, SnapListRet> kDomainSnapshotListAllChildren{275};

}  // namespace splitvirt::protocol
