// Block jobs (remote_protocol.x: remote_domain_block_commit, _block_pull,
// _block_rebase, _block_job_abort, _get_block_job_info,
// _block_job_set_speed) and their events (BLOCK_JOB id 8, BLOCK_JOB_2 id 16).
#pragma once

#include "protocol/domain_procs.hpp"

namespace splitvirt::protocol {

struct BlockCommitArgs { NonnullDomain dom; std::string disk; OptString base; OptString top; uint64_t bandwidth = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(BlockCommitArgs, (), (dom, disk, base, top, bandwidth, flags))
struct BlockPullArgs { NonnullDomain dom; std::string path; uint64_t bandwidth = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(BlockPullArgs, (), (dom, path, bandwidth, flags))
struct BlockRebaseArgs { NonnullDomain dom; std::string path; OptString base; uint64_t bandwidth = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(BlockRebaseArgs, (), (dom, path, base, bandwidth, flags))
struct BlockJobPathArgs { NonnullDomain dom; std::string path; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(BlockJobPathArgs, (), (dom, path, flags))
struct BlockJobInfoRet { int32_t found = 0; int32_t type = 0; uint64_t bandwidth = 0; uint64_t cur = 0; uint64_t end = 0; };
BOOST_DESCRIBE_STRUCT(BlockJobInfoRet, (), (found, type, bandwidth, cur, end))
struct BlockJobSetSpeedArgs { NonnullDomain dom; std::string path; uint64_t bandwidth = 0; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(BlockJobSetSpeedArgs, (), (dom, path, bandwidth, flags))

inline constexpr Proc<BlockJobPathArgs, Void> kDomainBlockJobAbort{237, true};
inline constexpr Proc<BlockJobPathArgs, BlockJobInfoRet> kDomainGetBlockJobInfo{238, true};
inline constexpr Proc<BlockJobSetSpeedArgs, Void> kDomainBlockJobSetSpeed{239, true};
inline constexpr Proc<BlockPullArgs, Void> kDomainBlockPull{240, true};
inline constexpr Proc<BlockRebaseArgs, Void> kDomainBlockRebase{266, true};
inline constexpr Proc<BlockCommitArgs, Void> kDomainBlockCommit{290, true};

// Events.
inline constexpr int kProcDomainEventCallbackBlockJob = 326;
struct DomainEventBlockJob { NonnullDomain dom; std::string path; int32_t type = 0; int32_t status = 0; };
BOOST_DESCRIBE_STRUCT(DomainEventBlockJob, (), (dom, path, type, status))
struct DomainEventCallbackBlockJobMsg { int32_t callbackID = 0; DomainEventBlockJob msg; };
BOOST_DESCRIBE_STRUCT(DomainEventCallbackBlockJobMsg, (), (callbackID, msg))
inline constexpr int kProcDomainEventBlockJob2 = 339;
struct DomainEventBlockJob2Msg { int32_t callbackID = 0; NonnullDomain dom; std::string dst; int32_t type = 0; int32_t status = 0; };
BOOST_DESCRIBE_STRUCT(DomainEventBlockJob2Msg, (), (callbackID, dom, dst, type, status))

}  // namespace splitvirt::protocol
