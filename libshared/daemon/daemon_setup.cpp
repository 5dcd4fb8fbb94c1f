#include "daemon/daemon_setup.hpp"

#include "daemon/systemd.hpp"
#include "rpc/server.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <pthread.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace splitvirt::daemon {

namespace {

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

constexpr int kBacklog = 1000;  // libvirt's max_queued_clients default

}  // namespace

std::optional<int> parseDaemonOptions(const std::string& name, int argc, char** argv, DaemonOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* opt) -> const char* {
      std::string pre = std::string(opt) + "=";
      if (a.rfind(pre, 0) == 0) return argv[i] + pre.size();
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: option %s needs a value\n", name.c_str(), opt);
        return nullptr;
      }
      return argv[++i];
    };
    auto is = [&](const char* s, const char* l) { return a == s || a == l || a.rfind(std::string(l) + "=", 0) == 0; };
    if (is("-h", "--help")) {
      usage(name);
      return 0;
    } else if (is("-V", "--version")) {
      std::printf("%s (splitvirt) 9.0.0\n", name.c_str());
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
        std::fprintf(stderr, "%s: invalid timeout '%s'\n", name.c_str(), v);
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
        std::fprintf(stderr, "%s: --root must be an absolute path\n", name.c_str());
        return 2;
      }
      o.root = v;
    } else {
      std::fprintf(stderr, "%s: unknown option '%s'\n", name.c_str(), a.c_str());
      return 2;
    }
  }
  return std::nullopt;
}

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
  if (::listen(fd, kBacklog) < 0) {
    e = errno;
    ::close(fd);
    return Error::systemError(ErrorDomain::Rpc, e, "Failed to listen on '" + path + "'");
  }
  return fd;
}

Result<std::vector<int>> bindTcpSockets(const std::string& address, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(address.empty() ? nullptr : address.c_str(), port.c_str(), &hints, &res);
  if (rc != 0)
    return Error::make(ErrorCode::SystemError, ErrorDomain::Rpc, "%s", "",
                       "Unable to resolve address '" + address + "' service '" + port + "': " + gai_strerror(rc));
  std::vector<int> fds;
  std::optional<Error> lastError;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      lastError = Error::systemError(ErrorDomain::Rpc, errno, "Unable to create socket");
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // One socket per family: the v6 one must not also claim v4.
    if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(fd, kBacklog) < 0) {
      lastError = Error::systemError(ErrorDomain::Rpc, errno, "Unable to bind to port " + port);
      ::close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  ::freeaddrinfo(res);
  if (fds.empty()) {
    if (lastError) return *lastError;
    return Error::internal(ErrorDomain::Rpc, "No addresses to bind to for '" + address + "'");
  }
  return fds;
}

sigset_t blockDaemonSignals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  return sigs;
}

void serveUntilStopped(rpc::Server& server, const sigset_t& signals, int idleTimeout,
                       std::function<bool()> inhibitIdleExit) {
  // Idle timeout: armed while nobody is connected and nothing inhibits it.
  std::mutex idleMutex;
  std::function<void()> cancelIdle;
  std::function<void(size_t)> onClients = [&](size_t n) {
    if (idleTimeout <= 0) return;
    std::lock_guard lk(idleMutex);
    if (cancelIdle) {
      cancelIdle();
      cancelIdle = nullptr;
    }
    if (n == 0) {
      cancelIdle = server.runAfter(std::chrono::seconds(idleTimeout), [&] {
        if (server.clientCount() == 0 && !(inhibitIdleExit && inhibitIdleExit())) {
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

  sigset_t sigs = signals;
  std::thread signalThread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&sigs, &sig) != 0) continue;
      if (sig == SIGHUP) {
        log::info("SIGHUP: reload is not implemented yet, ignoring");
        continue;
      }
      log::info("caught signal %d, shutting down", sig);
      notifyStopping();
      server.stop();
      return;
    }
  });

  notifyReady();
  server.run();

  // run() returns after stop(): from a signal or the idle timer.
  if (signalThread.joinable()) {
    pthread_kill(signalThread.native_handle(), SIGTERM);
    signalThread.join();
  }
  server.setClientCountObserver(nullptr);
}

}  // namespace splitvirt::daemon
