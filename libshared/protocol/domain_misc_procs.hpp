// Assorted domain procedures (remote_protocol.x): control info, disk errors,
// NMI, job info/stats, XML to native, metadata, memory and vCPU setters,
// block resize, rename.
#pragma once

#include "protocol/domain_procs.hpp"

namespace splitvirt::protocol {

inline constexpr uint32_t kDiskErrorsMax = 256;  // REMOTE_DOMAIN_DISK_ERRORS_MAX
inline constexpr uint32_t kJobStatsMax = 64;     // REMOTE_DOMAIN_JOB_STATS_MAX

struct ControlInfoRet { uint32_t state = 0; uint32_t details = 0; uint64_t stateTime = 0; };
BOOST_DESCRIBE_STRUCT(ControlInfoRet, (), (state, details, stateTime))
struct DiskErrorsArgs { NonnullDomain dom; uint32_t maxerrors = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(DiskErrorsArgs, (), (dom, maxerrors, flags))
struct DiskError { std::string disk; int32_t error = 0; };
BOOST_DESCRIBE_STRUCT(DiskError, (), (disk, error))
struct DiskErrorsRet { xdr::Array<DiskError, kDiskErrorsMax> errors; int32_t nerrors = 0; };
BOOST_DESCRIBE_STRUCT(DiskErrorsRet, (), (errors, nerrors))
struct JobInfoRet {
  int32_t type = 0;
  uint64_t timeElapsed = 0, timeRemaining = 0, dataTotal = 0, dataProcessed = 0, dataRemaining = 0, memTotal = 0,
           memProcessed = 0, memRemaining = 0, fileTotal = 0, fileProcessed = 0, fileRemaining = 0;
};
BOOST_DESCRIBE_STRUCT(JobInfoRet, (),
                      (type, timeElapsed, timeRemaining, dataTotal, dataProcessed, dataRemaining, memTotal,
                       memProcessed, memRemaining, fileTotal, fileProcessed, fileRemaining))
struct JobStatsRet { int32_t type = 0; xdr::Array<xdr::TypedParam, kJobStatsMax> params; };
BOOST_DESCRIBE_STRUCT(JobStatsRet, (), (type, params))
struct XmlToNativeArgs { std::string nativeFormat; std::string domainXml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(XmlToNativeArgs, (), (nativeFormat, domainXml, flags))
struct SetMetadataArgs { NonnullDomain dom; int32_t type = 0; OptString metadata; OptString key; OptString uri; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SetMetadataArgs, (), (dom, type, metadata, key, uri, flags))
struct GetMetadataArgs { NonnullDomain dom; int32_t type = 0; OptString uri; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(GetMetadataArgs, (), (dom, type, uri, flags))
struct SetMemoryFlagsArgs { NonnullDomain dom; uint64_t memory = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SetMemoryFlagsArgs, (), (dom, memory, flags))
struct DomUlongArgs { NonnullDomain dom; uint64_t value = 0; };
BOOST_DESCRIBE_STRUCT(DomUlongArgs, (), (dom, value))
struct SetVcpusFlagsArgs { NonnullDomain dom; uint32_t nvcpus = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SetVcpusFlagsArgs, (), (dom, nvcpus, flags))
struct DomUintArgs { NonnullDomain dom; uint32_t value = 0; };
BOOST_DESCRIBE_STRUCT(DomUintArgs, (), (dom, value))
struct BlockResizeArgs { NonnullDomain dom; std::string disk; uint64_t size = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(BlockResizeArgs, (), (dom, disk, size, flags))
struct RenameArgs { NonnullDomain dom; OptString new_name; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(RenameArgs, (), (dom, new_name, flags))
struct RenameRet { int32_t retcode = 0; };
BOOST_DESCRIBE_STRUCT(RenameRet, (), (retcode))

inline constexpr Proc<DomUlongArgs, Void> kDomainSetMaxMemory{30, true};
inline constexpr Proc<DomUlongArgs, Void> kDomainSetMemory{31, true};
inline constexpr Proc<DomUintArgs, Void> kDomainSetVcpus{32, true};
inline constexpr Proc<XmlToNativeArgs, StringRet> kConnectDomainXmlToNative{136, true};
inline constexpr Proc<DomArg, JobInfoRet> kDomainGetJobInfo{163};
inline constexpr Proc<SetVcpusFlagsArgs, Void> kDomainSetVcpusFlags{199, true};
inline constexpr Proc<SetMemoryFlagsArgs, Void> kDomainSetMemoryFlags{204, true};
inline constexpr Proc<DomFlagsArg, Void> kDomainInjectNmi{210, true};
inline constexpr Proc<DomFlagsArg, ControlInfoRet> kDomainGetControlInfo{229};
inline constexpr Proc<BlockResizeArgs, Void> kDomainBlockResize{251, true};
inline constexpr Proc<DiskErrorsArgs, DiskErrorsRet> kDomainGetDiskErrors{263, true};
inline constexpr Proc<SetMetadataArgs, Void> kDomainSetMetadata{264, true};
inline constexpr Proc<GetMetadataArgs, StringRet> kDomainGetMetadata{265};
inline constexpr Proc<DomFlagsArg, JobStatsRet> kDomainGetJobStats{298};
inline constexpr Proc<RenameArgs, RenameRet> kDomainRename{358, true};

}  // namespace splitvirt::protocol
