// QMP client: the process-wide monitor thread, the read/write coroutines and
// reply matching.  See qmp_client.hpp for the threading rules.
#include "monitor/qmp_client.hpp"

#include "util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <future>
#include <limits>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace splitvirt::qemu {

namespace asio = boost::asio;
namespace json = boost::json;
using Local = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxMessage = 64 * 1024 * 1024;  // one QMP message; the schema is ~1 MB
constexpr auto kConnectRetry = std::chrono::milliseconds(5);
// execute() normally gets its timeout from the monitor thread's timer; this
// margin only matters if a handler keeps that thread busy past the deadline.
constexpr auto kWaitSlack = std::chrono::milliseconds(500);

// The monitor thread: one io_context for every QMP connection of the process.
// Immortal on purpose: clients may outlive static destruction order.
class MonitorLoop {
 public:
  static MonitorLoop& instance() {
    static MonitorLoop* loop = new MonitorLoop();
    return *loop;
  }
  asio::io_context& io() { return io_; }
  bool inThisThread() { return io_.get_executor().running_in_this_thread(); }

 private:
  MonitorLoop() : guard_(asio::make_work_guard(io_)), thread_([this] { run(); }) {
    pthread_setname_np(thread_.native_handle(), "qmp-monitor");
  }
  void run() {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        log::error("QMP monitor thread: uncaught exception: %s", e.what());
      } catch (...) {
        log::error("QMP monitor thread: uncaught exception");
      }
    }
  }
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Runs `fn` on the monitor thread and waits for it (inline when already there).
template <class Fn>
auto runOnLoop(MonitorLoop& loop, Fn fn) -> decltype(fn()) {
  if (loop.inThisThread()) return fn();
  std::packaged_task<decltype(fn())()> task(std::move(fn));
  auto f = task.get_future();
  asio::post(loop.io(), [&task] { task(); });
  return f.get();
}

Error timeoutError(std::string_view detail) {
  return Error::make(ErrorCode::OperationTimeout, ErrorDomain::Qemu, "Timed out during operation: %s",
                     "Timed out during operation", std::string(detail));
}
Error commandTimeout(std::string_view cmd) {
  return timeoutError("QEMU command '" + std::string(cmd) + "' got no reply");
}
Error unexpectedClose() { return Error::operationFailed(ErrorDomain::Qemu, "QEMU unexpectedly closed the monitor"); }
Error ownerClosed() { return Error::operationFailed(ErrorDomain::Qemu, "QEMU monitor was closed"); }

std::optional<int64_t> asInt64(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}

bool blankJson(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// A file descriptor owned until handed to Asio.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

// Connects, retrying while the socket does not exist yet or refuses.
Result<int> connectUnix(const std::string& path, Clock::time_point deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return Error::internal(ErrorDomain::Qemu, "Monitor path " + path + " too big for destination");
  std::memcpy(addr.sun_path, path.data(), path.size());
  for (;;) {
    Fd s;
    s.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s.fd < 0) return Error::systemError(ErrorDomain::Qemu, errno, "failed to create socket");
    int rc;
    do {
      rc = ::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return s.release();
    const int err = errno;
    const bool retry = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
    if (!retry || Clock::now() >= deadline)
      return Error::operationFailed(ErrorDomain::Qemu, std::string("monitor socket did not show up: ") + std::strerror(err));
    std::this_thread::sleep_for(kConnectRetry);
  }
}

}  // namespace

// ---- the connection state; touched only on the monitor thread unless noted ----

struct QmpClient::Impl : std::enable_shared_from_this<QmpClient::Impl> {
  struct Pending {
    std::string cmd;
    ReplyHandler done;
    std::unique_ptr<asio::steady_timer> timer;
  };

  Impl(MonitorLoop& loop, EventHandler onEvent, CloseHandler onClose)
      : loop_(loop), sock_(loop.io()), onEvent_(std::move(onEvent)), onClose_(std::move(onClose)) {}

  // Any thread.
  std::atomic<bool> alive_{true};
  std::atomic<uint64_t> nextId_{1};
  MonitorLoop& loop_;

  // Monitor thread only.
  Local::socket sock_;
  EventHandler onEvent_;
  CloseHandler onClose_;
  bool closed_ = false;       // socket closed, pending calls failed
  bool established_ = false;  // connect() succeeded: report the close
  bool detached_ = false;     // the owner is gone: call no handler again
  Error closeError_ = unexpectedClose();
  std::unordered_map<uint64_t, Pending> pending_;
  // Lines to send; a line with an fd carries it as SCM_RIGHTS (getfd).
  struct Outgoing {
    std::string line;
    int fd = -1;
  };
  std::deque<Outgoing> outq_;
  bool writing_ = false;
  std::optional<std::promise<Result<std::string>>> greeting_{std::in_place};
  json::stream_parser parser_;
  std::size_t valueBytes_ = 0;

  void start(int fd) {
    boost::system::error_code ec;
    sock_.assign(Local(), fd, ec);
    if (ec) {
      ::close(fd);
      shutdown(Error::operationFailed(ErrorDomain::Qemu, "cannot watch the monitor socket: " + ec.message()));
      return;
    }
    asio::co_spawn(loop_.io(), readLoop(shared_from_this()), asio::detached);
  }

  static asio::awaitable<void> readLoop(std::shared_ptr<Impl> self) {
    std::vector<char> buf(kReadChunk);
    for (;;) {
      auto [ec, n] = co_await self->sock_.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (self->closed_) co_return;
      if (ec) {
        if (ec != asio::error::eof) log::debug("QMP read error: %s", ec.message().c_str());
        self->shutdown(unexpectedClose());
        co_return;
      }
      self->feed(buf.data(), n);
      if (self->closed_) co_return;
    }
  }

  static asio::awaitable<void> writeLoop(std::shared_ptr<Impl> self) {
    while (!self->outq_.empty() && !self->closed_) {
      Outgoing out = std::move(self->outq_.front());
      self->outq_.pop_front();
      if (out.fd >= 0) {
        // One small line with the descriptor attached; QEMU takes it with
        // the command. Sent whole here, so no other line interleaves.
        auto ec = self->sendWithFd(out.line, out.fd);
        ::close(out.fd);
        if (ec) {
          if (!self->closed_) log::debug("QMP write error: %s", ec.message().c_str());
          self->shutdown(unexpectedClose());
          break;
        }
        continue;
      }
      std::string msg = std::move(out.line);
      auto [ec, n] = co_await asio::async_write(self->sock_, asio::buffer(msg), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (!self->closed_) log::debug("QMP write error: %s", ec.message().c_str());
        self->shutdown(unexpectedClose());
        break;
      }
    }
    self->writing_ = false;
  }

  boost::system::error_code sendWithFd(const std::string& line, int fd) {
    const int sock = sock_.native_handle();
    size_t off = 0;
    bool fdSent = false;
    while (off < line.size()) {
      iovec iov{const_cast<char*>(line.data() + off), line.size() - off};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      if (!fdSent) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
      }
      ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          pollfd p{sock, POLLOUT, 0};
          ::poll(&p, 1, 1000);
          continue;
        }
        return boost::system::error_code(errno, boost::system::system_category());
      }
      fdSent = true;
      off += static_cast<size_t>(n);
    }
    return {};
  }

  // Splits the byte stream into JSON values (several per read, or one over many reads).
  void feed(const char* data, std::size_t size) {
    while (size > 0 && !closed_) {
      boost::system::error_code ec;
      const std::size_t used = parser_.write_some(data, size, ec);
      if (ec) {
        shutdown(Error::internal(ErrorDomain::Qemu, "cannot parse QEMU monitor reply: " + ec.message()));
        return;
      }
      data += used;
      size -= used;
      valueBytes_ += used;
      if (parser_.done()) {
        json::value v = parser_.release();
        parser_.reset();
        valueBytes_ = 0;
        dispatch(v);
      } else if (valueBytes_ > kMaxMessage) {
        shutdown(Error::internal(ErrorDomain::Qemu, "QEMU monitor reply exceeds the maximum message size"));
        return;
      }
    }
  }

  void dispatch(const json::value& v) {
    const json::object* obj = v.if_object();
    if (!obj) {
      log::warn("QMP: ignoring a message that is not an object");
      return;
    }
    if (const json::value* qmp = obj->if_contains("QMP")) {
      if (greeting_) {
        greeting_->set_value(json::serialize(*qmp));
        greeting_.reset();
      }
      return;
    }
    if (const json::value* ev = obj->if_contains("event")) {
      QmpEvent e;
      if (const json::string* s = ev->if_string()) e.name.assign(s->data(), s->size());
      const json::value* data = obj->if_contains("data");
      e.dataJson = data ? json::serialize(*data) : "{}";
      if (const json::value* ts = obj->if_contains("timestamp"); ts && ts->is_object()) {
        e.seconds = asInt64(ts->get_object().if_contains("seconds")).value_or(0);
        e.micros = asInt64(ts->get_object().if_contains("microseconds")).value_or(0);
      }
      if (onEvent_ && !detached_) {
        try {
          onEvent_(e);
        } catch (const std::exception& ex) {
          log::error("QMP event handler for %s threw: %s", e.name.c_str(), ex.what());
        }
      }
      return;
    }
    const json::value* ret = obj->if_contains("return");
    const json::value* err = obj->if_contains("error");
    if (!ret && !err) {
      log::warn("QMP: ignoring a message that is neither reply nor event");
      return;
    }
    const json::value* idv = obj->if_contains("id");
    auto id = asInt64(idv);
    if (!id) {
      // QEMU answers a command it could not parse without an id.
      log::warn("QMP: ignoring a reply without a usable id: %s", json::serialize(v).substr(0, 200).c_str());
      return;
    }
    auto it = pending_.find(static_cast<uint64_t>(*id));
    if (it == pending_.end()) {
      log::debug("QMP: reply to id %lld, which nobody waits for (timed out?)", static_cast<long long>(*id));
      return;
    }
    Pending p = std::move(it->second);
    pending_.erase(it);
    p.timer->cancel();
    if (ret) {
      complete(p, json::serialize(*ret));
      return;
    }
    std::string desc;
    if (const json::object* eo = err->if_object()) {
      if (const json::value* d = eo->if_contains("desc"); d && d->is_string()) desc = std::string(d->get_string());
    }
    if (desc.empty()) desc = json::serialize(*err);
    complete(p, Error::internal(ErrorDomain::Qemu, "unable to execute QEMU command '" + p.cmd + "': " + desc));
  }

  static void complete(Pending& p, Result<std::string> r) {
    try {
      p.done(std::move(r));
    } catch (const std::exception& ex) {
      log::error("QMP reply handler for %s threw: %s", p.cmd.c_str(), ex.what());
    }
  }

  // Registers the call and queues its line (monitor thread).
  void startCall(uint64_t id, std::string cmd, std::string line, std::chrono::milliseconds deadline,
                 ReplyHandler done, int fd = -1) {
    Pending p{std::move(cmd), std::move(done), nullptr};
    if (closed_) {
      if (fd >= 0) ::close(fd);
      complete(p, closeError_);
      return;
    }
    p.timer = std::make_unique<asio::steady_timer>(loop_.io());
    p.timer->expires_after(deadline);
    p.timer->async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
      if (!ec) self->onTimeout(id);
    });
    pending_.emplace(id, std::move(p));
    if (log::enabled(log::Level::Debug)) log::debug("QMP send: %.*s", 512, line.c_str());
    outq_.push_back(Outgoing{std::move(line), fd});
    if (!writing_) {
      writing_ = true;
      asio::co_spawn(loop_.io(), writeLoop(shared_from_this()), asio::detached);
    }
  }

  void onTimeout(uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    complete(p, commandTimeout(p.cmd));
  }

  // Closes the socket and fails every pending call with `why`; tells the
  // owner (once) unless it closed the client itself.
  void shutdown(Error why) {
    if (closed_) return;
    closed_ = true;
    alive_ = false;
    closeError_ = why;
    boost::system::error_code ec;
    sock_.close(ec);
    outq_.clear();
    if (greeting_) {
      greeting_->set_value(why);
      greeting_.reset();
    }
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) {
      p.timer->cancel();
      complete(p, why);
    }
    if (established_ && !detached_ && onClose_) {
      try {
        onClose_();
      } catch (const std::exception& ex) {
        log::error("QMP close handler threw: %s", ex.what());
      }
    }
  }

  // The handlers stay: this may run inside one of them (the owner dropping
  // the client from its close handler); they die with the Impl.
  void detachAndClose() {
    detached_ = true;
    shutdown(ownerClosed());
  }
};

// ---- QmpClient -----------------------------------------------------------------

QmpClient::QmpClient(std::shared_ptr<Impl> impl, std::string greeting)
    : impl_(std::move(impl)), greeting_(std::move(greeting)) {}

QmpClient::~QmpClient() {
  auto impl = impl_;
  runOnLoop(impl->loop_, [impl] { impl->detachAndClose(); });
}

Result<std::unique_ptr<QmpClient>> QmpClient::connect(const std::string& socketPath,
                                                      std::chrono::milliseconds deadline, EventHandler onEvent,
                                                      CloseHandler onClose) {
  const auto until = Clock::now() + deadline;
  MonitorLoop& loop = MonitorLoop::instance();
  if (loop.inThisThread())
    return Error::internal(ErrorDomain::Qemu, "cannot connect to a QEMU monitor from the monitor thread");
  auto fd = connectUnix(socketPath, until);
  if (!fd) return fd.error();

  auto impl = std::make_shared<Impl>(loop, std::move(onEvent), std::move(onClose));
  auto greetingFuture = impl->greeting_->get_future();
  asio::post(loop.io(), [impl, f = *fd] { impl->start(f); });
  // From here on the client owns the connection: returning early closes it.
  std::unique_ptr<QmpClient> client(new QmpClient(impl, {}));

  if (greetingFuture.wait_until(until) != std::future_status::ready)
    return timeoutError("QEMU monitor sent no greeting");
  auto greeting = greetingFuture.get();
  if (!greeting) return greeting.error();
  client->greeting_ = std::move(*greeting);

  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  auto caps = client->execute("qmp_capabilities", "{}", std::max(left, std::chrono::milliseconds(1)));
  if (!caps) return caps.error();

  // Only now may a close be reported; if it already happened, connect fails.
  auto closed = runOnLoop(loop, [impl]() -> std::optional<Error> {
    if (impl->closed_) return impl->closeError_;
    impl->established_ = true;
    return std::nullopt;
  });
  if (closed) return *closed;
  return client;
}

void QmpClient::executeAsync(std::string_view cmd, std::string_view argsJson, std::chrono::milliseconds deadline,
                             ReplyHandler done) {
  executeAsyncFd(cmd, argsJson, deadline, std::move(done), -1);
}

void QmpClient::executeAsyncFd(std::string_view cmd, std::string_view argsJson, std::chrono::milliseconds deadline,
                               ReplyHandler done, int fd) {
  json::object msg;
  msg["execute"] = cmd;
  if (!blankJson(argsJson)) {
    boost::system::error_code ec;
    json::value args = json::parse(argsJson, ec);
    if (ec || !args.is_object()) {
      Error e = Error::internal(ErrorDomain::Qemu, "arguments of QEMU command '" + std::string(cmd) +
                                                       "' are not a JSON object: " + std::string(argsJson.substr(0, 200)));
      if (fd >= 0) ::close(fd);
      asio::post(impl_->loop_.io(), [done = std::move(done), e = std::move(e)] { done(e); });
      return;
    }
    if (!args.get_object().empty()) msg["arguments"] = std::move(args);
  }
  const uint64_t id = impl_->nextId_.fetch_add(1);
  msg["id"] = id;
  std::string line = json::serialize(msg);
  line += "\r\n";
  asio::post(impl_->loop_.io(), [impl = impl_, id, c = std::string(cmd), line = std::move(line), deadline,
                                 done = std::move(done), fd]() mutable {
    impl->startCall(id, std::move(c), std::move(line), deadline, std::move(done), fd);
  });
}

Result<std::string> QmpClient::execute(std::string_view cmd, std::string_view argsJson,
                                       std::chrono::milliseconds deadline) {
  if (impl_->loop_.inThisThread())
    return Error::internal(ErrorDomain::Qemu, "cannot wait for QEMU command '" + std::string(cmd) +
                                                  "' on the monitor thread");
  auto promise = std::make_shared<std::promise<Result<std::string>>>();
  auto future = promise->get_future();
  executeAsync(cmd, argsJson, deadline, [promise](Result<std::string> r) { promise->set_value(std::move(r)); });
  if (future.wait_for(deadline + kWaitSlack) != std::future_status::ready) return commandTimeout(cmd);
  return future.get();
}

Result<std::string> QmpClient::executeWithFd(std::string_view cmd, std::string_view argsJson, int fd,
                                             std::chrono::milliseconds deadline) {
  if (impl_->loop_.inThisThread()) {
    ::close(fd);
    return Error::internal(ErrorDomain::Qemu, "cannot wait for QEMU command '" + std::string(cmd) +
                                                  "' on the monitor thread");
  }
  auto promise = std::make_shared<std::promise<Result<std::string>>>();
  auto future = promise->get_future();
  executeAsyncFd(cmd, argsJson, deadline, [promise](Result<std::string> r) { promise->set_value(std::move(r)); },
                 fd);
  if (future.wait_for(deadline + kWaitSlack) != std::future_status::ready) return commandTimeout(cmd);
  return future.get();
}

bool QmpClient::alive() const { return impl_->alive_.load(); }

}  // namespace splitvirt::qemu
