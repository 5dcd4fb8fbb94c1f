// A QMP (QEMU Machine Protocol) client: one unix-socket connection to one
// QEMU monitor, commands matched to replies by id, events pushed to a handler.
//
// Threading: every client lives on one process-wide monitor thread (its own
// io_context, started lazily on the first connect).  Socket reads, writes,
// reply matching, deadlines and the handlers all run there; callers on any
// other thread only post work to it and wait on a future, holding no lock.
// Handlers must not block: a synchronous execute() from a handler (of any
// client) would wait for the very thread it blocks, so it fails at once;
// use executeAsync() there.
//
// Headers stay free of Asio and Boost.JSON (architecture.md 2.1): arguments
// and results travel as JSON text.
#pragma once

#include "util/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace splitvirt::qemu {

struct QmpEvent {
  std::string name;      // "SHUTDOWN", "RESUME", ...
  std::string dataJson;  // the "data" member as JSON text ("{}" when absent)
  int64_t seconds = 0;   // "timestamp" as QEMU reports it
  int64_t micros = 0;
};

class QmpClient {
 public:
  using EventHandler = std::function<void(const QmpEvent&)>;  // on the monitor thread
  using CloseHandler = std::function<void()>;                  // EOF / error: QEMU went away (at most once)
  using ReplyHandler = std::function<void(Result<std::string>)>;  // on the monitor thread, exactly once

  // Connects to the QMP unix socket (retrying while it does not exist yet or
  // refuses, until `deadline` has passed), reads the greeting and negotiates
  // qmp_capabilities.  Blocks the caller.  Errors (domain QEMU):
  // OPERATION_FAILED "monitor socket did not show up: <errno text>",
  // OPERATION_TIMEOUT when the greeting or the negotiation do not arrive.
  static Result<std::unique_ptr<QmpClient>> connect(const std::string& socketPath, std::chrono::milliseconds deadline,
                                                    EventHandler onEvent, CloseHandler onClose);

  // Closes the connection; once it returns, no event or close handler of this
  // client runs or will run.  Calls still pending fail with "QEMU monitor was
  // closed".  Safe from any thread, also from this client's own handlers
  // (e.g. dropping the client in its close handler).
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Sends {"execute":cmd,"arguments":args,"id":N} and waits for the reply
  // with that id.  Thread-safe; any number of callers at once.  Returns the
  // "return" member as JSON text.  Errors (domain QEMU):
  //  - INTERNAL_ERROR "internal error: unable to execute QEMU command 'cmd': <desc>" (QMP "error" reply);
  //  - OPERATION_TIMEOUT "Timed out during operation: QEMU command 'cmd' got no reply";
  //  - OPERATION_FAILED "operation failed: QEMU unexpectedly closed the monitor" (EOF / socket error);
  //  - INTERNAL_ERROR for arguments that are not a JSON object, or a call from the monitor thread.
  Result<std::string> execute(std::string_view cmd, std::string_view argsJson = "{}",
                              std::chrono::milliseconds deadline = std::chrono::seconds(30));

  // execute() with `fd` passed along (SCM_RIGHTS), as getfd / add-fd take
  // it. Takes ownership of `fd`.
  Result<std::string> executeWithFd(std::string_view cmd, std::string_view argsJson, int fd,
                                    std::chrono::milliseconds deadline = std::chrono::seconds(30));

  // The same without blocking: `done` runs on the monitor thread (possibly
  // before executeAsync returns, if the client is already closed).
  void executeAsync(std::string_view cmd, std::string_view argsJson, std::chrono::milliseconds deadline,
                    ReplyHandler done);

  void executeAsyncFd(std::string_view cmd, std::string_view argsJson, std::chrono::milliseconds deadline,
                      ReplyHandler done, int fd);

  // False once QEMU closed the monitor (or the stream broke).
  bool alive() const;

  // The greeting's "QMP" member as JSON text ({"version":{...},"capabilities":[...]}).
  const std::string& greeting() const { return greeting_; }

 private:
  struct Impl;  // defined in qmp_client.cpp
  QmpClient(std::shared_ptr<Impl> impl, std::string greeting);
  std::shared_ptr<Impl> impl_;
  std::string greeting_;
};

using QmpClientPtr = std::unique_ptr<QmpClient>;

}  // namespace splitvirt::qemu
