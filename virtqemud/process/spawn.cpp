#include "process/spawn.hpp"

#include <dirent.h>
#include <cstdlib>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace splitvirt::qemu {

Result<pid_t> spawnProcess(const std::vector<std::string>& argv, const std::string& logPath,
                           const std::vector<int>& keepFds) {
  if (argv.empty()) return Error::internal(ErrorDomain::Qemu, "empty command line");
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed (the daemon is threaded).
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int logFd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (logFd < 0) return Error::systemError(ErrorDomain::Qemu, errno, "failed to create logfile " + logPath);
  int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int errPipe[2];
  if (::pipe2(errPipe, O_CLOEXEC) < 0) {
    int e = errno;
    ::close(logFd);
    ::close(nullFd);
    return Error::systemError(ErrorDomain::Qemu, e, "cannot create pipe");
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(logFd);
    ::close(nullFd);
    ::close(errPipe[0]);
    ::close(errPipe[1]);
    return Error::systemError(ErrorDomain::Qemu, e, "cannot fork child process");
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(s, SIG_DFL);
    ::setsid();
    ::dup2(nullFd, 0);
    ::dup2(logFd, 1);
    ::dup2(logFd, 2);
    // Close everything else except the fds QEMU is handed (taps etc.).
    ::syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
    for (int fd : keepFds) ::fcntl(fd, F_SETFD, 0);
    ::execv(cargv[0], cargv.data());
    int e = errno;
    ssize_t w = ::write(errPipe[1], &e, sizeof e);
    (void)w;
    ::_exit(127);
  }
  ::close(logFd);
  ::close(nullFd);
  ::close(errPipe[1]);
  int childErr = 0;
  ssize_t n = ::read(errPipe[0], &childErr, sizeof childErr);  // EOF on successful exec (CLOEXEC)
  ::close(errPipe[0]);
  if (n == sizeof childErr) {
    ::waitpid(pid, nullptr, 0);
    return Error::systemError(ErrorDomain::Qemu, childErr, "Cannot find '" + argv[0] + "' in path");
  }
  return pid;
}

bool processMatches(pid_t pid, const std::string& needle) {
  if (pid <= 0 || ::kill(pid, 0) < 0) return false;
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string cmd = ss.str();
  for (char& c : cmd)
    if (c == '\0') c = ' ';
  // A zombie has an empty cmdline: it is gone for our purposes.
  return cmd.find(needle) != std::string::npos;
}

std::vector<pid_t> findProcesses(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (processMatches(static_cast<pid_t>(pid), needle)) out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

bool reapIfExited(pid_t pid) {
  int status;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) return true;
  if (r < 0 && errno == ECHILD) {
    // Not our child (a guest adopted across a daemon restart).
    if (::kill(pid, 0) < 0 && errno == ESRCH) return true;
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(st, line);
    auto rp = line.rfind(')');
    return rp != std::string::npos && rp + 2 < line.size() && line[rp + 2] == 'Z';
  }
  return false;
}

bool terminateProcess(pid_t pid, std::chrono::milliseconds grace, std::chrono::milliseconds hardLimit) {
  using clock = std::chrono::steady_clock;
  if (reapIfExited(pid)) return true;
  ::kill(pid, SIGTERM);
  auto start = clock::now();
  bool killed = false;
  auto delay = std::chrono::microseconds(200);
  while (!reapIfExited(pid)) {
    auto elapsed = clock::now() - start;
    if (!killed && elapsed >= grace) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    if (elapsed >= grace + hardLimit) return false;
    std::this_thread::sleep_for(delay);
    if (delay < std::chrono::milliseconds(5)) delay *= 2;
  }
  return true;
}

std::string logTail(const std::string& path, size_t maxBytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  f.seekg(0, std::ios::end);
  auto size = static_cast<size_t>(f.tellg());
  size_t start = size > maxBytes ? size - maxBytes : 0;
  f.seekg(static_cast<std::streamoff>(start));
  std::string s(size - start, '\0');
  f.read(s.data(), static_cast<std::streamsize>(s.size()));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace splitvirt::qemu
