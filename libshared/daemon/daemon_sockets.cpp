#include "daemon/daemon_sockets.hpp"

#include <array>

namespace splitvirt::daemon {

namespace {

constexpr std::array<SplitDaemon, 13> kDaemons{{
    {"virtqemud", "qemu", true},
    {"virtxend", "xen", true},
    {"virtlxcd", "lxc", true},
    {"virtvboxd", "vbox", true},
    {"virtbhyved", "bhyve", true},
    {"virtvzd", "vz", true},
    {"virtchd", "ch", true},
    {"virtnetworkd", "network", false},
    {"virtstoraged", "storage", false},
    {"virtnodedevd", "nodedev", false},
    {"virtsecretd", "secret", false},
    {"virtnwfilterd", "nwfilter", false},
    {"virtinterfaced", "interface", false},
}};

const SplitDaemon& byName(std::string_view name) {
  for (const auto& d : kDaemons)
    if (d.name == name) return d;
  return kDaemons[0];
}

const std::array<const SplitDaemon*, 6> kProbeOrder{&byName("virtxend"),  &byName("virtqemud"),
                                                    &byName("virtlxcd"),  &byName("virtvboxd"),
                                                    &byName("virtbhyved"), &byName("virtvzd")};

}  // namespace

const SplitDaemon* daemonForScheme(std::string_view scheme) {
  for (const auto& d : kDaemons)
    if (d.scheme == scheme) return &d;
  return nullptr;
}

const SplitDaemon* daemonForFamily(protocol::Family family) {
  using protocol::Family;
  switch (family) {
    case Family::Network: return &byName("virtnetworkd");
    case Family::Storage: return &byName("virtstoraged");
    case Family::NodeDev: return &byName("virtnodedevd");
    case Family::Secret: return &byName("virtsecretd");
    case Family::NWFilter: return &byName("virtnwfilterd");
    case Family::Interface: return &byName("virtinterfaced");
    case Family::Connect:
    case Family::Domain: return nullptr;
  }
  return nullptr;
}

std::span<const SplitDaemon* const> hypervisorProbeOrder() { return kProbeOrder; }

std::string daemonSocketPath(const std::string& runDir, const SplitDaemon& d, bool readOnly) {
  return runDir + "/" + std::string(d.name) + (readOnly ? "-sock-ro" : "-sock");
}

std::string daemonUnit(const SplitDaemon& d) { return std::string(d.name) + ".socket"; }

std::optional<ParsedUri> parseUri(std::string_view uri) {
  ParsedUri u;
  auto colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view scheme = uri.substr(0, colon);
  if (auto plus = scheme.find('+'); plus != std::string_view::npos) {
    u.transport = std::string(scheme.substr(plus + 1));
    scheme = scheme.substr(0, plus);
  }
  u.scheme = std::string(scheme);
  std::string_view rest = uri.substr(colon + 1);
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    u.query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  if (rest.substr(0, 2) == "//") {
    rest.remove_prefix(2);
    auto slash = rest.find('/');
    u.host = std::string(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  u.path = std::string(rest);
  return u;
}

Error daemonUnreachable(const SplitDaemon& d, const Error& cause) {
  std::string msg = cause.message + " (" + std::string(d.name) + " is not running; start it with 'systemctl start " +
                    daemonUnit(d) + "')";
  return Error::make(ErrorCode::SystemError, ErrorDomain::Rpc, "%s", "", std::move(msg));
}

Error daemonConnectionLost(const SplitDaemon& d, const std::string& socketPath) {
  std::string msg = "Connection to " + std::string(d.name) + " at '" + socketPath +
                    "' was lost (the daemon stopped; start it again with 'systemctl start " + daemonUnit(d) +
                    "')";
  return Error::make(ErrorCode::SystemError, ErrorDomain::Rpc, "%s", "", std::move(msg));
}

}  // namespace splitvirt::daemon
