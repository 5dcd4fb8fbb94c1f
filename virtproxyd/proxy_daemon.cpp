#include "proxy_daemon.hpp"

#include "daemon/daemon_config.hpp"
#include "daemon/daemon_setup.hpp"
#include "daemon/paths.hpp"
#include "daemon/systemd.hpp"
#include "proxy_config.hpp"
#include "proxy_session.hpp"
#include "rpc/server.hpp"
#include "rpc/tls_context.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace splitvirt::proxy {

namespace {

constexpr const char* kName = "virtproxyd";
constexpr const char* kSockPrefix = "libvirt";  // libvirt-sock, as libvirtd's (protocol.md 5.1)

int fail(const Error& e) {
  std::fprintf(stderr, "%s: error: %s\n", kName, e.message.c_str());
  log::error("%s", e.message.c_str());
  return 1;
}

}  // namespace

int runProxy(int argc, char** argv) {
  daemon::DaemonOptions opt;
  if (auto rc = daemon::parseDaemonOptions(kName, argc, argv, opt)) return *rc;

  auto paths = daemon::DaemonPaths::forRoot(opt.root);
  std::string confPath = opt.configFile.empty() ? paths.configDir + "/" + kName + ".conf" : opt.configFile;
  auto conf = daemon::ConfFile::load(confPath);
  if (!conf) return fail(conf.error());
  auto cfg = daemon::daemonConfigFrom(*conf, confPath);
  if (!cfg) return fail(cfg.error());
  auto pcfg = proxyConfigFrom(*conf, confPath);
  if (!pcfg) return fail(pcfg.error());

  int level = opt.verbose ? std::min(cfg->logLevel, 2) : cfg->logLevel;
  log::configure(level, cfg->logOutputs, daemon::underSystemdJournal(), kName);
  sigset_t sigs = daemon::blockDaemonSignals();

  for (const auto& dir : {paths.runDir, paths.configDir, paths.logDir})
    if (auto r = fs::makeDirs(dir, 0755); !r) return fail(r.error());
  std::string pidFile = opt.pidFile.empty() ? paths.runDir + "/" + kName + ".pid" : opt.pidFile;
  auto pidFd = daemon::acquirePidFile(pidFile);
  if (!pidFd) return fail(pidFd.error());

  // Only admin clients reach the programs (which serve nothing yet); every
  // other client is routed packet by packet.
  rpc::Program program(ErrorDomain::Remote);
  rpc::ServerLimits limits;
  limits.maxClients = cfg->maxClients;
  limits.maxClientRequests = cfg->maxClientRequests;
  limits.keepaliveInterval = cfg->keepaliveInterval;
  limits.keepaliveCount = cfg->keepaliveCount;
  limits.blockingThreads = 1;
  rpc::Server server(limits, program);
  ProxySettings settings{paths.runDir};
  server.setPacketRouter([&settings](rpc::ClientLink& client) -> std::unique_ptr<rpc::PacketRouter> {
    return std::make_unique<ProxySession>(client, settings);
  });

  std::shared_ptr<rpc::TlsContext> tls;
  auto addTls = [&](int fd) -> Result<void> {
    SV_TRY_VOID(checkAuth("auth_tls", pcfg->authTls));
    if (!tls) {
      rpc::TlsServerConfig files;
      SV_TRY_ASSIGN(files, tlsServerConfig(*pcfg, paths.root));
      SV_TRY_ASSIGN(tls, rpc::TlsContext::createServer(files));
    }
    server.addTcpListener(fd, rpc::ListenerKind::ReadWrite, tls->factory());
    return {};
  };
  auto addTcp = [&](int fd) -> Result<void> {
    SV_TRY_VOID(checkAuth("auth_tcp", pcfg->authTcp));
    server.addTcpListener(fd, rpc::ListenerKind::ReadWrite);
    return {};
  };

  auto activated = daemon::takeActivationFds();
  if (!activated) return fail(activated.error());
  const std::string n = kName;
  if (!activated->empty()) {
    // Under activation the units decide what listens (libvirt ignores
    // listen_tcp/listen_tls then); the names say which socket is which.
    for (auto& [fdName, fd] : *activated) {
      Result<void> r;
      if (fdName == n + ".socket")
        server.addListener(fd, rpc::ListenerKind::ReadWrite);
      else if (fdName == n + "-ro.socket")
        server.addListener(fd, rpc::ListenerKind::ReadOnly);
      else if (fdName == n + "-admin.socket")
        server.addListener(fd, rpc::ListenerKind::Admin);
      else if (fdName == n + "-tcp.socket")
        r = addTcp(fd);
      else if (fdName == n + "-tls.socket")
        r = addTls(fd);
      else
        r = Error::internal(ErrorDomain::Rpc, "Some activation file descriptors are unclaimed: '" + fdName + "'");
      if (!r) return fail(r.error());
    }
    log::info("using %zu socket-activated listeners", activated->size());
  } else {
    std::string dir = cfg->unixSockDir.empty() ? paths.runDir : paths.root + cfg->unixSockDir;
    if (auto r = fs::makeDirs(dir, 0755); !r) return fail(r.error());
    gid_t group = static_cast<gid_t>(-1);
    if (!cfg->unixSockGroup.empty()) {
      struct group* g = ::getgrnam(cfg->unixSockGroup.c_str());
      if (!g)
        return fail(Error::internal(ErrorDomain::Conf, "Failed to look up group '" + cfg->unixSockGroup + "'"));
      group = g->gr_gid;
    }
    struct L {
      const char* suffix;
      unsigned mode;
      rpc::ListenerKind kind;
    };
    for (const L& l : {L{"-sock", cfg->rwPerms, rpc::ListenerKind::ReadWrite},
                       L{"-sock-ro", cfg->roPerms, rpc::ListenerKind::ReadOnly},
                       L{"-admin-sock", cfg->adminPerms, rpc::ListenerKind::Admin}}) {
      auto fd = daemon::bindUnixSocket(dir + "/" + kSockPrefix + l.suffix, l.mode, group);
      if (!fd) return fail(fd.error());
      server.addListener(*fd, l.kind);
    }
    struct Ip {
      bool enabled;
      const std::string& port;
      std::function<Result<void>(int)> add;
    };
    for (const Ip& ip : {Ip{pcfg->listenTcp, pcfg->tcpPort, addTcp}, Ip{pcfg->listenTls, pcfg->tlsPort, addTls}}) {
      if (!ip.enabled) continue;
      auto fds = daemon::bindTcpSockets(pcfg->listenAddr, ip.port);
      if (!fds) return fail(fds.error());
      for (int fd : *fds)
        if (auto r = ip.add(fd); !r) return fail(r.error());
      log::info("listening on %s port %s", pcfg->listenAddr.empty() ? "*" : pcfg->listenAddr.c_str(),
                ip.port.c_str());
    }
    log::info("listening in %s", dir.c_str());
  }

  daemon::serveUntilStopped(server, sigs, opt.timeout, nullptr);
  ::unlink(pidFile.c_str());
  ::close(*pidFd);
  return 0;
}

}  // namespace splitvirt::proxy
