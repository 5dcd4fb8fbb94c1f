#include "dnsmasq/dnsmasq_process.hpp"

#include "util/command.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <dirent.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>

namespace splitvirt::network {

namespace {

constexpr auto kDom = ErrorDomain::Network;

std::string dirOf(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  return pos == 0 ? "/" : path.substr(0, pos);
}

// atomicWriteFile creates with the umask applied; dnsmasq (as nobody)
// needs the hosts files world-readable whatever the daemon's umask is.
Result<void> writeWithMode(const std::string& path, std::string_view content, unsigned mode) {
  SV_TRY_VOID(fs::atomicWriteFile(path, content, mode, kDom));
  if (::chmod(path.c_str(), mode) < 0) return Error::systemError(kDom, errno, "cannot change mode of '" + path + "'");
  return {};
}

Result<void> makeDir0755(const std::string& dir) {
  SV_TRY_VOID(fs::makeDirs(dir, 0755, kDom));
  if (::chmod(dir.c_str(), 0755) < 0)
    return Error::systemError(kDom, errno, "cannot change mode of '" + dir + "'");
  return {};
}

// dnsmasq rereads the hosts files after dropping to `nobody`, so every
// folder above them must let others through; otherwise it only logs
// "Permission denied" and silently serves no static hosts and no local
// names (environment.md 4). We do not chmod folders we did not create.
void warnIfHiddenFromNobody(const std::string& file) {
  for (std::string dir = dirOf(file); !dir.empty() && dir != "/"; dir = dirOf(dir)) {
    struct stat st{};
    if (::stat(dir.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH)) {
      log::warn("dnsmasq runs as 'nobody' and cannot reach '%s': folder '%s' is not searchable by others",
                file.c_str(), dir.c_str());
      return;
    }
  }
}

std::string readProcFile(pid_t pid, const char* name) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Gone, or a zombie waiting for a parent that is not us.
bool processGone(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return true;
  if (::kill(pid, 0) < 0 && errno == ESRCH) return true;
  const std::string stat = readProcFile(pid, "stat");
  auto rp = stat.rfind(')');
  return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z';
}

bool waitGone(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto delay = std::chrono::milliseconds(1);
  while (!processGone(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace

Result<void> writeDnsmasqHostsFiles(const DnsmasqFiles& files, const DnsmasqConfig& cfg) {
  SV_TRY_VOID(writeWithMode(files.hostsFile, cfg.hostsFile, 0644));
  SV_TRY_VOID(writeWithMode(files.addnHosts, cfg.addnHosts, 0644));
  return {};
}

Result<void> writeDnsmasqFiles(const DnsmasqFiles& files, const DnsmasqConfig& cfg) {
  SV_TRY_VOID(makeDir0755(dirOf(files.conf)));
  SV_TRY_VOID(makeDir0755(dirOf(files.pidFile)));
  SV_TRY_VOID(writeDnsmasqHostsFiles(files, cfg));
  SV_TRY_VOID(writeWithMode(files.conf, cfg.conf, 0600));
  warnIfHiddenFromNobody(files.hostsFile);
  return {};
}

Result<pid_t> readDnsmasqPid(const std::string& pidFile) {
  std::ifstream f(pidFile);
  long pid = 0;
  if (!(f >> pid) || pid <= 0)
    return Error::internal(kDom, "cannot read the pid of dnsmasq from '" + pidFile + "'");
  return static_cast<pid_t>(pid);
}

namespace {

// dnsmasq daemonizes with two forks. The middle process exits at once, and
// since our runCommand child (its parent) is gone by then, it is re-parented
// to us (daemons are child subreapers) and would stay a zombie: reap the
// exited dnsmasq children that are not the daemon itself.
void reapDaemonizeLeftovers(pid_t daemonPid) {
  const pid_t self = ::getpid();
  for (int attempt = 0; attempt < 20; ++attempt) {
    bool pending = false;
    DIR* d = ::opendir("/proc");
    if (!d) return;
    while (auto* e = ::readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (!end || *end || pid <= 0 || pid == daemonPid) continue;
      const std::string stat = readProcFile(static_cast<pid_t>(pid), "stat");
      // "pid (comm) state ppid ...": comm may hold spaces, so parse from ')'.
      auto close = stat.rfind(')');
      if (close == std::string::npos || stat.find("(dnsmasq)") == std::string::npos) continue;
      char state = 0;
      long ppid = 0, pgrp = 0, session = 0;
      if (std::sscanf(stat.c_str() + close + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) != 4 ||
          ppid != self)
        continue;
      if (state == 'Z')
        ::waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG);
      else if (session == pid)
        pending = true;  // the middle process (it called setsid) has not exited yet; daemons are not leaders
    }
    ::closedir(d);
    if (!pending) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

Result<pid_t> startDnsmasq(const DnsmasqFiles& files, const DnsmasqConfig& cfg, std::string_view binary) {
  SV_TRY_VOID(writeDnsmasqFiles(files, cfg));
  // A stale pid file would be read back if dnsmasq failed before writing.
  if (::unlink(files.pidFile.c_str()) < 0 && errno != ENOENT)
    return Error::systemError(kDom, errno, "cannot remove file '" + files.pidFile + "'");
  // dnsmasq checks its whole configuration before it forks, so a bad
  // option is this command's exit status and stderr; the daemon itself
  // closes the inherited stdout/stderr, which ends runCommand's wait.
  SV_TRY_VOID(runCommandChecked({std::string(binary), "--conf-file=" + files.conf}, std::chrono::seconds(30), kDom));
  auto pid = readDnsmasqPid(files.pidFile);
  if (pid) reapDaemonizeLeftovers(*pid);
  return pid;
}

bool isOurDnsmasq(pid_t pid, const std::string& confFile) {
  if (pid <= 0 || processGone(pid)) return false;
  const std::string cmdline = readProcFile(pid, "cmdline");
  const std::string want = "--conf-file=" + confFile;
  size_t start = 0;
  while (start < cmdline.size()) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    if (std::string_view(cmdline).substr(start, end - start) == want) return true;
    start = end + 1;
  }
  return false;
}

Result<void> reloadDnsmasq(pid_t pid) {
  if (pid <= 0 || ::kill(pid, SIGHUP) < 0)
    return Error::systemError(kDom, pid <= 0 ? ESRCH : errno,
                              "cannot send SIGHUP to dnsmasq (pid " + std::to_string(pid) + ")");
  return {};
}

Result<void> stopDnsmasq(pid_t pid, const DnsmasqFiles& files, std::chrono::milliseconds grace) {
  if (pid > 0 && !processGone(pid)) {
    ::kill(pid, SIGTERM);
    if (!waitGone(pid, grace)) {
      ::kill(pid, SIGKILL);
      if (!waitGone(pid, std::chrono::seconds(5)))
        return Error::systemError(kDom, EBUSY, "Failed to terminate process " + std::to_string(pid) +
                                                   " with SIGKILL");
    }
  }
  if (::unlink(files.pidFile.c_str()) < 0 && errno != ENOENT)
    return Error::systemError(kDom, errno, "cannot remove file '" + files.pidFile + "'");
  return {};
}

Result<void> removeDnsmasqFiles(const DnsmasqFiles& files) {
  for (const std::string* p : {&files.conf, &files.hostsFile, &files.addnHosts, &files.leaseFile, &files.pidFile})
    if (::unlink(p->c_str()) < 0 && errno != ENOENT)
      return Error::systemError(kDom, errno, "cannot remove file '" + *p + "'");
  return {};
}

}  // namespace splitvirt::network
