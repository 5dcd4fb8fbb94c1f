// Which split daemon serves a URI scheme or an API family, where its
// sockets are and which unit starts it (protocol.md 5.1, 5.3, 5.4): one
// table for routing (virtproxyd) and for errors a user can act on.
#pragma once

#include "protocol/proc_table.hpp"
#include "util/error.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace splitvirt::daemon {

struct SplitDaemon {
  std::string_view name;    // "virtqemud"
  std::string_view scheme;  // "qemu"
  bool hypervisor;          // serves domains; its connections reach the other families' daemons
};

const SplitDaemon* daemonForScheme(std::string_view scheme);
// The daemon owning a non-hypervisor family (network, storage, ...); null
// for Connect and Domain, which belong to the connection's hypervisor.
const SplitDaemon* daemonForFamily(protocol::Family family);
// An empty URI: the hypervisor daemons in libvirt's probing order (xen,
// qemu, lxc, vbox, bhyve, vz).
std::span<const SplitDaemon* const> hypervisorProbeOrder();

// <runDir>/<name>-sock, or -sock-ro for read-only connections.
std::string daemonSocketPath(const std::string& runDir, const SplitDaemon& d, bool readOnly);
// The socket unit that starts it: "virtqemud.socket".
std::string daemonUnit(const SplitDaemon& d);

// A libvirt URI "scheme[+transport]://[host]/path[?query]".
struct ParsedUri {
  std::string scheme;  // without the transport
  std::string transport;
  std::string host;
  std::string path;
  std::string query;
};
std::optional<ParsedUri> parseUri(std::string_view uri);

// Errors naming the daemon, its socket and the unit to start.
// `cause`: the failed connect ("Failed to connect socket to '...': ...").
Error daemonUnreachable(const SplitDaemon& d, const Error& cause);
Error daemonConnectionLost(const SplitDaemon& d, const std::string& socketPath);

}  // namespace splitvirt::daemon
