#include "util/command.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace splitvirt {

Result<CommandResult> runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                 ErrorDomain d) {
  if (argv.empty()) return Error::internal(d, "empty command");
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int outp[2], errp[2], execp[2];
  if (::pipe2(outp, O_CLOEXEC) < 0 || ::pipe2(errp, O_CLOEXEC) < 0 || ::pipe2(execp, O_CLOEXEC) < 0)
    return Error::systemError(d, errno, "cannot create pipe");
  pid_t pid = ::fork();
  if (pid < 0) return Error::systemError(d, errno, "cannot fork child process");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(s, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(outp[1], 1);
    ::dup2(errp[1], 2);
    ::syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
    ::setenv("LC_ALL", "C", 1);
    ::execvp(cargv[0], cargv.data());
    int e = errno;
    ssize_t w = ::write(execp[1], &e, sizeof e);
    (void)w;
    ::_exit(127);
  }
  ::close(outp[1]);
  ::close(errp[1]);
  ::close(execp[1]);
  int execErr = 0;
  bool execFailed = ::read(execp[0], &execErr, sizeof execErr) == sizeof execErr;
  ::close(execp[0]);

  CommandResult res;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
  int open = 2;
  bool timedOut = false;
  char buf[65536];
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      ::kill(pid, SIGKILL);
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (execFailed) return Error::systemError(d, execErr, "Cannot find '" + argv[0] + "' in path");
  if (timedOut) return Error::make(ErrorCode::OperationTimeout, d, "operation timed out: %s", "operation timed out",
                                   std::string("'" + argv[0] + "' did not finish in time"));
  res.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return res;
}

Result<CommandResult> runCommandChecked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                        ErrorDomain d) {
  auto r = runCommand(argv, timeout, d);
  if (!r) return r;
  if (r->exitStatus != 0) {
    std::string cmd;
    for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    std::string err = r->err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Error::internal(d, "Child process (" + cmd + ") unexpected exit status " +
                                  std::to_string(r->exitStatus) + (err.empty() ? "" : ": " + err));
  }
  return r;
}

}  // namespace splitvirt
