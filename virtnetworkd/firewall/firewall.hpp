// Applying a network's nftables rules (nft_rules.hpp) with the real `nft`:
// one invocation per change, so each change is one kernel transaction that
// either happens whole or not at all. Blocking: call from the blocking pool.
#pragma once

#include "conf/network_def.hpp"
#include "util/error.hpp"

#include <string>
#include <string_view>

namespace splitvirt::network {

inline constexpr std::string_view kNftBinary = "/usr/sbin/nft";

// Runs `nft` on the script. Failure is libvirt's VIR_ERR_INTERNAL_ERROR
// "Child process (...) unexpected exit status N: <nft's message>" (what
// virFirewallApply reports when iptables fails), or "Cannot find ... in
// path" when nft is not installed.
Result<void> applyNftScript(const std::string& script, std::string_view nftBinary = kNftBinary);

// nftAddScript + apply: the network's rules replace whatever it had.
Result<void> addNetworkRules(const conf::NetworkDef& def, std::string_view nftBinary = kNftBinary);
// nftRemoveScript + apply; succeeds when the rules are already gone.
Result<void> removeNetworkRules(std::string_view networkName, std::string_view nftBinary = kNftBinary);

}  // namespace splitvirt::network
