#include "daemon/run_daemon.hpp"

#include "daemon/connect_core.hpp"
#include "daemon/daemon_config.hpp"
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

struct Options {
  std::string root;
  std::string configFile;
  std::string pidFile;
  int timeout = 0;
  bool verbose = false;
};

void usage(const std::string& name) {
  std::printf(
      "Usage: %s [options]\n\n"
      "  -h | --help            display this help and exit\n"
      "  -v | --verbose         verbose messages on stderr\n"
      "  -t | --timeout <secs>  exit after timeout period with no clients\n"
      "  -f | --config <file>   configuration file (default <root>/etc/libvirt/%s.conf)\n"
      "  -p | --pid-file <file> PID file (default <root>/run/libvirt/%s.pid)\n"
      "  -r | --root <dir>      keep every path under <dir>\n"
      "  -V | --version         print version and exit\n",
      name.c_str(), name.c_str(), name.c_str());
}

int parseOptions(const DaemonSpec& spec, int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* opt) -> const char* {
      std::string pre = std::string(opt) + "=";
      if (a.rfind(pre, 0) == 0) return argv[i] + pre.size();
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: option %s needs a value\n", spec.name.c_str(), opt);
        return nullptr;
      }
      return argv[++i];
    };
    auto is = [&](const char* s, const char* l) { return a == s || a == l || a.rfind(std::string(l) + "=", 0) == 0; };
    if (is("-h", "--help")) {
      usage(spec.name);
      return 0;
    } else if (is("-V", "--version")) {
      std::printf("%s (splitvirt) 9.0.0\n", spec.name.c_str());
      return 0;
    } else if (is("-v", "--verbose")) {
      o.verbose = true;
    } else if (is("-d", "--daemon")) {
      // Accepted for compatibility; systemd or the caller backgrounds us.
    } else if (is("-t", "--timeout")) {
      const char* v = value("--timeout");
      if (!v) return 2;
      char* end;
      long t = std::strtol(v, &end, 10);
      if (*end || t < 0 || t > 1000000) {
        std::fprintf(stderr, "%s: invalid timeout '%s'\n", spec.name.c_str(), v);
        return 2;
      }
      o.timeout = static_cast<int>(t);
    } else if (is("-f", "--config")) {
      const char* v = value("--config");
      if (!v) return 2;
      o.configFile = v;
    } else if (is("-p", "--pid-file")) {
      const char* v = value("--pid-file");
      if (!v) return 2;
      o.pidFile = v;
    } else if (is("-r", "--root")) {
      const char* v = value("--root");
      if (!v) return 2;
      if (v[0] != '/') {
        std::fprintf(stderr, "%s: --root must be an absolute path\n", spec.name.c_str());
        return 2;
      }
      o.root = v;
    } else {
      std::fprintf(stderr, "%s: unknown option '%s'\n", spec.name.c_str(), a.c_str());
      return 2;
    }
  }
  return -1;
}

Result<int> bindUnixSocket(const std::string& path, unsigned mode, gid_t group) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error::internal(ErrorDomain::Rpc, "Path " + path + " too long for unix socket");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::systemError(ErrorDomain::Rpc, errno, "Failed to create socket");
  ::unlink(path.c_str());  // stale socket of a previous run (the pid file lock excludes a live one)
  // Bind with a restrictive umask, then set the configured mode.
  mode_t old = ::umask(0077);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int e = errno;
  ::umask(old);
  if (rc < 0) {
    ::close(fd);
    return Error::systemError(ErrorDomain::Rpc, e, "Failed to bind socket to '" + path + "'");
  }
  if (group != static_cast<gid_t>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), group) < 0) {
    e = errno;
    ::close(fd);
    return Error::systemError(ErrorDomain::Rpc, e, "Failed to change group of '" + path + "'");
  }
  if (::chmod(path.c_str(), mode) < 0) {
    e = errno;
    ::close(fd);
    return Error::systemError(ErrorDomain::Rpc, e, "Failed to change mode of '" + path + "'");
  }
  if (::listen(fd, 1000) < 0) {
    e = errno;
    ::close(fd);
    return Error::systemError(ErrorDomain::Rpc, e, "Failed to listen on '" + path + "'");
  }
  return fd;
}

// A locked pid file keeps two daemons of one name from sharing a root.
Result<int> acquirePidFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error::systemError(ErrorDomain::None, errno, "Failed to open pid file '" + path + "'");
  if (::flock(fd, LOCK_EX | LOCK_NB) < 0) {
    ::close(fd);
    return Error::operationFailed(ErrorDomain::None,
                                  "Failed to acquire pid file '" + path + "': another daemon is running");
  }
  if (::ftruncate(fd, 0) == 0) {
    std::string pid = std::to_string(getpid()) + "\n";
    if (::write(fd, pid.data(), pid.size()) < 0) { /* advisory only */ }
  }
  return fd;
}

int fail(const DaemonSpec& spec, const Error& e) {
  std::fprintf(stderr, "%s: error: %s\n", spec.name.c_str(), e.message.c_str());
  log::error("%s", e.message.c_str());
  return 1;
}

}  // namespace

int runDaemon(const DaemonSpec& spec, std::unique_ptr<Driver> driver, int argc, char** argv) {
  Options opt;
  if (int rc = parseOptions(spec, argc, argv, opt); rc >= 0) return rc;

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
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

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

  // Idle timeout: armed while nobody is connected and the driver allows it.
  std::mutex idleMutex;
  std::function<void()> cancelIdle;
  std::function<void(size_t)> onClients = [&](size_t n) {
    if (opt.timeout <= 0) return;
    std::lock_guard lk(idleMutex);
    if (cancelIdle) {
      cancelIdle();
      cancelIdle = nullptr;
    }
    if (n == 0) {
      cancelIdle = server.runAfter(std::chrono::seconds(opt.timeout), [&] {
        if (server.clientCount() == 0 && !driver->inhibitsIdleExit()) {
          log::info("idle timeout, shutting down");
          server.stop();
        } else {
          onClients(server.clientCount());
        }
      });
    }
  };
  server.setClientCountObserver(onClients);
  onClients(0);

  std::thread signalThread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&sigs, &sig) != 0) continue;
      if (sig == SIGHUP) {
        log::info("SIGHUP: reload is not implemented yet, ignoring");
        continue;
      }
      if (sig == SIGQUIT && !server.clientCount()) { /* fallthrough to stop */ }
      log::info("caught signal %d, shutting down", sig);
      notifyStopping();
      server.stop();
      return;
    }
  });

  notifyReady();
  server.run();

  // server.run() returns after stop(): either from a signal or the idle timer.
  if (signalThread.joinable()) {
    pthread_kill(signalThread.native_handle(), SIGTERM);
    signalThread.join();
  }
  driver->shutdown();
  ::unlink(pidFile.c_str());
  ::close(*pidFd);
  return 0;
}

}  // namespace splitvirt::daemon
