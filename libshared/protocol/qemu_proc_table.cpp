#include "protocol/qemu_procs.hpp"

namespace splitvirt::protocol {

// Every one of them needs a read-write connection (protocol.md Appendix B).
const std::array<ProcInfo, kQemuProcMax + 1> kQemuProcs = {{
    {0, "", "", Family::Domain, false, false},
    {1, "DOMAIN_MONITOR_COMMAND", "virDomainQemuMonitorCommand", Family::Domain, true, false},
    {2, "DOMAIN_ATTACH", "virDomainQemuAttach", Family::Domain, true, false},
    {3, "DOMAIN_AGENT_COMMAND", "virDomainQemuAgentCommand", Family::Domain, true, false},
    {4, "CONNECT_DOMAIN_MONITOR_EVENT_REGISTER", "virConnectDomainQemuMonitorEventRegister", Family::Domain, true, false,
     false, true},
    {5, "CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER", "virConnectDomainQemuMonitorEventDeregister", Family::Domain, true,
     false, false, true},
    {6, "DOMAIN_MONITOR_EVENT", "", Family::Domain, false, true},
    {7, "DOMAIN_MONITOR_COMMAND_WITH_FILES", "virDomainQemuMonitorCommandWithFiles", Family::Domain, true, false},
}};

}  // namespace splitvirt::protocol
