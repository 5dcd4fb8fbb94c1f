#include "rpc/program.hpp"

namespace splitvirt::rpc {

namespace {
// Procedures a client may call before CONNECT_OPEN (auth and feature probes).
bool allowedBeforeOpen(uint32_t prog, int n) {
  if (prog != protocol::kRemoteProgram) return false;
  switch (n) {
    case 1:    // CONNECT_OPEN
    case 60:   // CONNECT_SUPPORTS_FEATURE
    case 66:   // AUTH_LIST
    case 67: case 68: case 69:  // AUTH_SASL_*
    case 70:   // AUTH_POLKIT
    case 2:    // CONNECT_CLOSE
      return true;
    default:
      return false;
  }
}
}  // namespace

Result<const Entry*> Program::route(const ConnContext& ctx, int number) const {
  const protocol::ProcInfo* info = this->info(number);
  if (!info || info->isEvent)
    return Error::rpc(ErrorDomain::Rpc, "unknown procedure: " + std::to_string(number));
  if (!ctx.opened && !allowedBeforeOpen(number_, number))
    return Error::internal(ErrorDomain::Rpc, "hypervisor connection not open");
  // The public API's own error domain (libvirt-domain.c, -network.c, ...),
  // where libvirt reports read-only refusals and missing driver methods.
  const ErrorDomain apiDomain = info->family == protocol::Family::Domain    ? ErrorDomain::Domain
                                : info->family == protocol::Family::Network ? ErrorDomain::Network
                                : info->family == protocol::Family::Storage ? ErrorDomain::Storage
                                                                            : ErrorDomain::None;
  if (ctx.readonly && info->deniedReadOnly)
    return Error::operationDenied(apiDomain, "read only access prevents " + std::string(info->api));
  const Entry* e = find(number);
  if (!e) return Error::noSupport(apiDomain == ErrorDomain::None ? driverDomain_ : apiDomain, std::string(info->api));
  return e;
}

}  // namespace splitvirt::rpc
