#include "daemon/run_daemon.hpp"

#include "daemon/connect_core.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/daemon_setup.hpp"
#include "daemon/event_bus.hpp"
#include "daemon/systemd.hpp"
#include "protocol/qemu_procs.hpp"
#include "rpc/server.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

namespace splitvirt::daemon {

namespace {

int fail(const DaemonSpec& spec, const Error& e) {
  std::fprintf(stderr, "%s: error: %s\n", spec.name.c_str(), e.message.c_str());
  log::error("%s", e.message.c_str());
  return 1;
}

}  // namespace

int runDaemon(const DaemonSpec& spec, std::unique_ptr<Driver> driver, int argc, char** argv) {
  DaemonOptions opt;
  if (auto rc = parseDaemonOptions(spec.name, argc, argv, opt)) return *rc;

  DaemonPaths paths = DaemonPaths::forRoot(opt.root);
  std::string confPath = opt.configFile.empty() ? paths.configDir + "/" + spec.name + ".conf" : opt.configFile;
  auto conf = ConfFile::load(confPath);
  if (!conf) return fail(spec, conf.error());
  auto cfg = daemonConfigFrom(*conf, confPath);
  if (!cfg) return fail(spec, cfg.error());

  int level = opt.verbose ? std::min(cfg->logLevel, 2) : cfg->logLevel;
  log::configure(level, cfg->logOutputs, underSystemdJournal(), spec.name);

  // Children (QEMU, helpers) are ours to reap, not the slow PID 1's.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t sigs = blockDaemonSignals();

  for (const auto& dir : {paths.runDir, paths.configDir, paths.stateDir, paths.logDir})
    if (auto r = fs::makeDirs(dir, 0755); !r) return fail(spec, r.error());

  // In run/libvirt, not run/: the units leave only that directory writable.
  std::string pidFile = opt.pidFile.empty() ? paths.runDir + "/" + spec.name + ".pid" : opt.pidFile;
  auto pidFd = acquirePidFile(pidFile);
  if (!pidFd) return fail(spec, pidFd.error());

  EventBus events;
  if (auto r = driver->init(paths, events); !r) return fail(spec, r.error());

  rpc::Program program(spec.errorDomain);
  bindConnectCore(program, *driver);
  driver->bind(program);
  rpc::Program qemuProgram(spec.errorDomain, protocol::kQemuProgram,
                           std::span<const protocol::ProcInfo>(protocol::kQemuProcs));
  driver->bindQemu(qemuProgram);

  rpc::ServerLimits limits;
  limits.maxClients = cfg->maxClients;
  limits.maxClientRequests = cfg->maxClientRequests;
  limits.keepaliveInterval = cfg->keepaliveInterval;
  limits.keepaliveCount = cfg->keepaliveCount;
  limits.blockingThreads = std::clamp(cfg->maxWorkers, 1u, 8u);
  rpc::Server server(limits, program);
  server.addProgram(qemuProgram);
  events.attach(&server);

  // Sockets: from systemd by name, or bound by us.
  auto activated = takeActivationFds();
  if (!activated) return fail(spec, activated.error());
  const std::string rwName = spec.name + ".socket", roName = spec.name + "-ro.socket",
                    adminName = spec.name + "-admin.socket";
  if (!activated->empty()) {
    for (auto& [name, fd] : *activated) {
      if (name == rwName)
        server.addListener(fd, rpc::ListenerKind::ReadWrite);
      else if (name == roName)
        server.addListener(fd, rpc::ListenerKind::ReadOnly);
      else if (name == adminName)
        server.addListener(fd, rpc::ListenerKind::Admin);
      else
        return fail(spec, Error::internal(ErrorDomain::Rpc, "Some activation file descriptors are unclaimed: '" +
                                                                name + "'"));
    }
    log::info("using %zu socket-activated listeners", activated->size());
  } else {
    std::string dir = cfg->unixSockDir.empty() ? paths.runDir : paths.root + cfg->unixSockDir;
    if (!cfg->unixSockDir.empty() && opt.root.empty()) dir = cfg->unixSockDir;
    if (auto r = fs::makeDirs(dir, 0755); !r) return fail(spec, r.error());
    gid_t group = static_cast<gid_t>(-1);
    if (!cfg->unixSockGroup.empty()) {
      struct group* g = ::getgrnam(cfg->unixSockGroup.c_str());
      if (!g) return fail(spec, Error::internal(ErrorDomain::Conf, "Failed to look up group '" + cfg->unixSockGroup + "'"));
      group = g->gr_gid;
    }
    struct L { std::string suffix; unsigned mode; rpc::ListenerKind kind; };
    for (const L& l : {L{"-sock", cfg->rwPerms, rpc::ListenerKind::ReadWrite},
                       L{"-sock-ro", cfg->roPerms, rpc::ListenerKind::ReadOnly},
                       L{"-admin-sock", cfg->adminPerms, rpc::ListenerKind::Admin}}) {
      auto fd = bindUnixSocket(dir + "/" + spec.sockPrefix + l.suffix, l.mode, group);
      if (!fd) return fail(spec, fd.error());
      server.addListener(*fd, l.kind);
    }
    log::info("listening in %s", dir.c_str());
  }

  serveUntilStopped(server, sigs, opt.timeout, [&] { return driver->inhibitsIdleExit(); });

  driver->shutdown();
  ::unlink(pidFile.c_str());
  ::close(*pidFd);
  return 0;
}

}  // namespace splitvirt::daemon
