#include "domain/console.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace splitvirt::qemu {

Result<std::shared_ptr<PtyConsole>> PtyConsole::open(const std::string& ptyPath) {
  int fd = ::open(ptyPath.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Error::systemError(ErrorDomain::Qemu, errno, "Unable to open tty " + ptyPath);
  // Raw mode: the guest's line discipline, not ours, decides what bytes mean.
  struct termios t {};
  if (::tcgetattr(fd, &t) == 0) {
    ::cfmakeraw(&t);
    ::tcsetattr(fd, TCSANOW, &t);
  }
  auto c = std::shared_ptr<PtyConsole>(new PtyConsole(fd));
  if (::pipe2(c->wake_, O_CLOEXEC | O_NONBLOCK) < 0)
    return Error::systemError(ErrorDomain::Qemu, errno, "cannot create pipe");
  return c;
}

PtyConsole::~PtyConsole() {
  close();
  if (reader_.joinable()) {
    if (reader_.get_id() == std::this_thread::get_id())
      reader_.detach();
    else
      reader_.join();
  }
  if (fd_ >= 0) ::close(fd_);
  if (wake_[0] >= 0) ::close(wake_[0]);
  if (wake_[1] >= 0) ::close(wake_[1]);
}

void PtyConsole::start(rpc::StreamWriter writer) {
  {
    std::lock_guard lk(writerMutex_);
    writer_ = std::move(writer);
  }
  reader_ = std::thread([self = shared_from_this()] { self->readLoop(); });
}

void PtyConsole::readLoop() {
  char buf[16384];
  while (!closed_) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::read(fd_, buf, sizeof buf);
      if (r > 0) {
        std::lock_guard lk(writerMutex_);
        if (writer_.data && !closed_) writer_.data(std::string(buf, static_cast<size_t>(r)));
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      // EOF / EIO: the guest (QEMU) closed the pty.
      std::lock_guard lk(writerMutex_);
      if (!closed_.exchange(true) && writer_.eof) writer_.eof();
      break;
    }
  }
}

void PtyConsole::onClientData(std::string_view data) {
  size_t off = 0;
  while (off < data.size() && !closed_) {
    ssize_t w = ::write(fd_, data.data() + off, data.size() - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
    } else if (w < 0 && errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 100);
    } else if (w < 0 && errno != EINTR) {
      break;
    }
  }
}

Result<void> PtyConsole::onClientFinish() {
  close();
  return {};
}

void PtyConsole::onClientAbort() { close(); }

void PtyConsole::kick(const Error& e) {
  std::lock_guard lk(writerMutex_);
  if (closed_.exchange(true)) return;
  if (writer_.error) writer_.error(e);
  char c = 1;
  ssize_t w = ::write(wake_[1], &c, 1);
  (void)w;
}

void PtyConsole::close() {
  closed_ = true;
  char c = 1;
  if (wake_[1] >= 0) {
    ssize_t w = ::write(wake_[1], &c, 1);
    (void)w;
  }
}

}  // namespace splitvirt::qemu
