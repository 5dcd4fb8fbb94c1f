// Running a network's dnsmasq (libvirt's networkStartDhcpDaemon,
// networkRefreshDhcpDaemon, networkKillDaemon): write its files, start
// it, find it again after a daemon restart, make it reread its hosts
// files, stop it. Blocking: call from the blocking pool.
#pragma once

#include "dnsmasq/dnsmasq_config.hpp"
#include "util/error.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace splitvirt::network {

inline constexpr std::string_view kDnsmasqBinary = "/usr/sbin/dnsmasq";

// Writes the conf file and both hosts files atomically, creating the
// folders of files.conf and files.pidFile (0755: dnsmasq drops root and
// must still read the hosts files as `nobody`). The hosts files are 0644;
// the conf file 0600 as in libvirt (read while still root).
Result<void> writeDnsmasqFiles(const DnsmasqFiles& files, const DnsmasqConfig& cfg);
// Only the two hosts files (before reloadDnsmasq).
Result<void> writeDnsmasqHostsFiles(const DnsmasqFiles& files, const DnsmasqConfig& cfg);

// Writes the files and runs `dnsmasq --conf-file=<files.conf>`. dnsmasq
// daemonizes; its first process exits only after the daemon has written
// the pid file, so the pid read back afterwards is the running daemon's.
Result<pid_t> startDnsmasq(const DnsmasqFiles& files, const DnsmasqConfig& cfg,
                           std::string_view binary = kDnsmasqBinary);

// The pid in a pid file; VIR_ERR_INTERNAL_ERROR-style error when it is
// missing or not a number.
Result<pid_t> readDnsmasqPid(const std::string& pidFile);

// True when `pid` is alive and its command line carries
// --conf-file=<confFile>: the check before adopting a dnsmasq found
// through its pid file after virtnetworkd restarts (the pid may have been
// reused by anything).
bool isOurDnsmasq(pid_t pid, const std::string& confFile);

// SIGHUP: dnsmasq rereads dhcp-hostsfile and addn-hosts (not its conf).
Result<void> reloadDnsmasq(pid_t pid);

// SIGTERM, wait up to `grace` for it to go, then SIGKILL and wait again.
// A pid that is already gone is success. Also removes the pid file.
Result<void> stopDnsmasq(pid_t pid, const DnsmasqFiles& files,
                         std::chrono::milliseconds grace = std::chrono::seconds(5));

// The files a network leaves behind (network undefine): conf, hosts
// files, lease file and pid file; missing ones are fine.
Result<void> removeDnsmasqFiles(const DnsmasqFiles& files);

}  // namespace splitvirt::network
