// Start-up pieces every daemon skeleton needs: libvirt's command line, the
// pid file lock, and listening sockets it binds itself when not socket
// activated. (runDaemon keeps private copies of the first three; it can use
// these instead.)
#pragma once

#include "util/error.hpp"

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace splitvirt::rpc {
class Server;
}

namespace splitvirt::daemon {

struct DaemonOptions {
  std::string root;
  std::string configFile;
  std::string pidFile;
  int timeout = 0;
  bool verbose = false;
};

// libvirt's daemon options (-h -v -t -f -p -r -V -d). Returns the exit
// status when the process should stop now (help, version: 0; bad usage: 2).
std::optional<int> parseDaemonOptions(const std::string& name, int argc, char** argv, DaemonOptions& o);

// A locked pid file keeps two daemons of one name from sharing a root.
Result<int> acquirePidFile(const std::string& path);

// A listening unix socket with the given mode (and group unless -1).
Result<int> bindUnixSocket(const std::string& path, unsigned mode, gid_t group);

// Listening TCP sockets for listen_addr (empty = every address) and a port
// or service name, one per address family found, as libvirt binds them.
Result<std::vector<int>> bindTcpSockets(const std::string& address, const std::string& port);

// Blocks the signals a daemon handles itself (TERM, INT, HUP, QUIT) in the
// calling thread and the threads it starts later; SIGPIPE is ignored.
sigset_t blockDaemonSignals();

// Serves until SIGTERM/SIGINT/SIGQUIT, or, with idleTimeout > 0, until the
// server has had no client for that many seconds while `inhibitIdleExit`
// says nothing else keeps it up. Sends READY=1 once serving. SIGHUP is
// logged and ignored (no reload yet).
void serveUntilStopped(rpc::Server& server, const sigset_t& signals, int idleTimeout,
                       std::function<bool()> inhibitIdleExit);

}  // namespace splitvirt::daemon
