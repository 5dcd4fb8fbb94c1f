// A network's firewall rules as one nftables script (the rules libvirt's
// networkAddFirewallRules puts into its LIBVIRT_* iptables chains). Pure:
// no I/O, so the networkxml2nft golden tests cover it completely.
//
// Layout. One table of our own, `table inet splitvirt`, and nothing
// outside it: we never flush the ruleset or touch another table (Docker,
// firewalld and the host's own rules keep theirs; architecture.md 4.10).
// One inet table instead of an ip + ip6 pair because a network is one
// unit: its IPv4 and IPv6 rules are added and removed together in one
// chain set, the family-neutral parts (interface matches, rejects) are
// written once, and inet NAT chains have existed since Linux 5.2.
//
// Each network owns its own base chains, hooked directly:
//   net_<name>_input, net_<name>_output, net_<name>_forward  (filter)
//   net_<name>_postrouting                                   (nat, srcnat)
// so one network's rules are added or removed without touching any other
// network's (no shared chain whose jump rules we would have to find by
// handle). Several base chains on one hook all see a packet: an accept
// ends only its own chain, a reject ends the packet. That gives libvirt's
// semantics: each network accepts what it allows for its subnet and
// rejects the rest of what enters or leaves its bridge.
#pragma once

#include "conf/network_def.hpp"
#include "util/error.hpp"

#include <string>
#include <string_view>

namespace splitvirt::network {

inline constexpr std::string_view kNftFamily = "inet";
inline constexpr std::string_view kNftTable = "splitvirt";

// True for the modes libvirt writes rules for: isolated (none), nat and
// route. open, bridge and the device-pool modes have none.
bool hasFirewallRules(const conf::NetworkDef& def);

// "net_<name>_<role>" with the name escaped to an nft identifier: letters,
// digits, '_' and '-' are kept, every other byte becomes ".XX" (hex), so
// any libvirt network name (quotes, spaces, dots) maps to one chain name.
std::string nftChainName(std::string_view networkName, std::string_view role);

// The script that makes this network's rules exactly what `def` says: it
// creates the table and its chains idempotently, flushes them (replacing
// rules left by a crash) and adds the rules; for a mode without rules it
// is the removal script. One `nft` run applies it as one transaction.
// def.bridge must be set. Errors: a bridge or forward device name nft
// cannot quote, an invalid NAT port range (libvirt's "Invalid port range").
Result<std::string> nftAddScript(const conf::NetworkDef& def);

// The script removing every chain of the network. It cannot fail because
// the chains are gone (daemon restart after a crash): each chain is first
// added (a no-op when present), then flushed and deleted. The table stays,
// empty, when the last network goes.
std::string nftRemoveScript(std::string_view networkName);

}  // namespace splitvirt::network
