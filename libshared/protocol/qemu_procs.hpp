// The QEMU program (libvirt-qemu API), protocol.md 1.3.
#pragma once

#include "protocol/header.hpp"
#include "protocol/proc.hpp"
#include "protocol/remote_types.hpp"

#include <span>

namespace splitvirt::protocol {

inline constexpr int kQemuProcMax = 7;
extern const std::array<ProcInfo, kQemuProcMax + 1> kQemuProcs;

struct QemuMonitorCommandArgs { NonnullDomain dom; std::string cmd; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(QemuMonitorCommandArgs, (), (dom, cmd, flags))
struct QemuMonitorCommandRet { std::string result; };
BOOST_DESCRIBE_STRUCT(QemuMonitorCommandRet, (), (result))

inline constexpr Proc<QemuMonitorCommandArgs, QemuMonitorCommandRet> kQemuDomainMonitorCommand{1, true};

}  // namespace splitvirt::protocol
