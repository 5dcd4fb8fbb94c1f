// Per-domain statistics (remote_protocol.x: remote_connect_get_all_domain_stats,
// remote_domain_block_stats*, remote_domain_interface_stats,
// remote_domain_memory_stats, remote_domain_get_vcpus, remote_domain_get_vcpu_pin_info,
// remote_domain_get_block_info, remote_domain_get_cpu_stats,
// remote_domain_set_memory_stats_period).
#pragma once

#include "protocol/domain_procs.hpp"

namespace splitvirt::protocol {

inline constexpr uint32_t kAllDomainStatsParamsMax = 262144;    // REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX
inline constexpr uint32_t kBlockStatsParamsMax = 16;            // REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX
inline constexpr uint32_t kNodeCpuStatsMax = 16;                // REMOTE_NODE_CPU_STATS_MAX
inline constexpr uint32_t kCpuStatsParamsMax = 2048;            // REMOTE_DOMAIN_GET_CPU_STATS_MAX

struct GetAllDomainStatsArgs { xdr::Array<NonnullDomain, kDomainListMax> doms; uint32_t stats = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(GetAllDomainStatsArgs, (), (doms, stats, flags))
struct DomainStatsRecord { NonnullDomain dom; xdr::Array<xdr::TypedParam, kAllDomainStatsParamsMax> params; };
BOOST_DESCRIBE_STRUCT(DomainStatsRecord, (), (dom, params))
struct GetAllDomainStatsRet { xdr::Array<DomainStatsRecord, kDomainListMax> retStats; };
BOOST_DESCRIBE_STRUCT(GetAllDomainStatsRet, (), (retStats))

struct DomPathArgs { NonnullDomain dom; std::string path; };
BOOST_DESCRIBE_STRUCT(DomPathArgs, (), (dom, path))
struct BlockStatsRet { int64_t rd_req = 0, rd_bytes = 0, wr_req = 0, wr_bytes = 0, errs = 0; };
BOOST_DESCRIBE_STRUCT(BlockStatsRet, (), (rd_req, rd_bytes, wr_req, wr_bytes, errs))
struct BlockStatsFlagsArgs { NonnullDomain dom; std::string path; int32_t nparams = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(BlockStatsFlagsArgs, (), (dom, path, nparams, flags))
struct TypedParamsRet16 { xdr::Array<xdr::TypedParam, kBlockStatsParamsMax> params; int32_t nparams = 0; };
BOOST_DESCRIBE_STRUCT(TypedParamsRet16, (), (params, nparams))
struct InterfaceStatsRet {
  int64_t rx_bytes = 0, rx_packets = 0, rx_errs = 0, rx_drop = 0, tx_bytes = 0, tx_packets = 0, tx_errs = 0,
          tx_drop = 0;
};
BOOST_DESCRIBE_STRUCT(InterfaceStatsRet, (),
                      (rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop))
struct MemoryStatsArgs { NonnullDomain dom; uint32_t maxStats = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(MemoryStatsArgs, (), (dom, maxStats, flags))
struct MemoryStat { int32_t tag = 0; uint64_t val = 0; };
BOOST_DESCRIBE_STRUCT(MemoryStat, (), (tag, val))
struct MemoryStatsRet { xdr::Array<MemoryStat, kMemoryStatsMax> stats; };
BOOST_DESCRIBE_STRUCT(MemoryStatsRet, (), (stats))
struct GetVcpusArgs { NonnullDomain dom; int32_t maxinfo = 0; int32_t maplen = 0; };
BOOST_DESCRIBE_STRUCT(GetVcpusArgs, (), (dom, maxinfo, maplen))
struct VcpuInfo { uint32_t number = 0; int32_t state = 0; uint64_t cpu_time = 0; int32_t cpu = 0; };
BOOST_DESCRIBE_STRUCT(VcpuInfo, (), (number, state, cpu_time, cpu))
struct GetVcpusRet { xdr::Array<VcpuInfo, kVcpuinfoMax> info; xdr::Opaque<kCpumapsMax> cpumaps; };
BOOST_DESCRIBE_STRUCT(GetVcpusRet, (), (info, cpumaps))
struct GetVcpuPinInfoArgs { NonnullDomain dom; int32_t ncpumaps = 0; int32_t maplen = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(GetVcpuPinInfoArgs, (), (dom, ncpumaps, maplen, flags))
struct GetVcpuPinInfoRet { xdr::Opaque<kCpumapsMax> cpumaps; int32_t num = 0; };
BOOST_DESCRIBE_STRUCT(GetVcpuPinInfoRet, (), (cpumaps, num))
struct GetBlockInfoArgs { NonnullDomain dom; std::string path; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(GetBlockInfoArgs, (), (dom, path, flags))
struct GetBlockInfoRet { uint64_t allocation = 0, capacity = 0, physical = 0; };
BOOST_DESCRIBE_STRUCT(GetBlockInfoRet, (), (allocation, capacity, physical))
struct GetCpuStatsArgs { NonnullDomain dom; uint32_t nparams = 0; int32_t start_cpu = 0; uint32_t ncpus = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(GetCpuStatsArgs, (), (dom, nparams, start_cpu, ncpus, flags))
struct GetCpuStatsRet { xdr::Array<xdr::TypedParam, kCpuStatsParamsMax> params; int32_t nparams = 0; };
BOOST_DESCRIBE_STRUCT(GetCpuStatsRet, (), (params, nparams))
struct SetMemoryStatsPeriodArgs { NonnullDomain dom; int32_t period = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SetMemoryStatsPeriodArgs, (), (dom, period, flags))

inline constexpr Proc<GetVcpusArgs, GetVcpusRet> kDomainGetVcpus{20};
inline constexpr Proc<DomPathArgs, BlockStatsRet> kDomainBlockStats{64, true};
inline constexpr Proc<DomPathArgs, InterfaceStatsRet> kDomainInterfaceStats{65};
inline constexpr Proc<MemoryStatsArgs, MemoryStatsRet> kDomainMemoryStats{159, true};
inline constexpr Proc<GetBlockInfoArgs, GetBlockInfoRet> kDomainGetBlockInfo{194, true};
inline constexpr Proc<GetVcpuPinInfoArgs, GetVcpuPinInfoRet> kDomainGetVcpuPinInfo{230};
inline constexpr Proc<BlockStatsFlagsArgs, TypedParamsRet16> kDomainBlockStatsFlags{243, true};
inline constexpr Proc<GetCpuStatsArgs, GetCpuStatsRet> kDomainGetCpuStats{262};
inline constexpr Proc<SetMemoryStatsPeriodArgs, Void> kDomainSetMemoryStatsPeriod{308, true};
inline constexpr Proc<GetAllDomainStatsArgs, GetAllDomainStatsRet> kConnectGetAllDomainStats{344, true};

}  // namespace splitvirt::protocol
