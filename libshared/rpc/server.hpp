// The RPC server: listeners, sessions, limits. Asio stays behind this
// interface (pimpl) so daemons and drivers never include it.
#pragma once

#include "rpc/conn_context.hpp"
#include "rpc/packet_router.hpp"
#include "rpc/program.hpp"
#include "rpc/secure_stream.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace splitvirt::rpc {

struct ServerLimits {
  unsigned maxClients = 5000;
  unsigned maxClientRequests = 5;   // concurrent blocking calls per client
  int keepaliveInterval = 5;        // seconds; -1 disables server pings
  unsigned keepaliveCount = 5;
  size_t maxOutboundBytes = 64u << 20;  // a client that does not read is dropped
  unsigned ioThreads = 2;        // one single-threaded io_context each
  unsigned blockingThreads = 4;
};

class Server {
 public:
  Server(ServerLimits limits, const Program& program);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Takes ownership of a listening unix socket fd.
  void addListener(int fd, ListenerKind kind);
  // Takes ownership of a listening TCP socket fd. With `secure`, every
  // accepted connection is wrapped (TLS) and must complete its handshake
  // before a single packet is read.
  void addTcpListener(int fd, ListenerKind kind, SecureStreamFactory secure = {});
  // Read-write and read-only clients' packets go to a router made per client
  // instead of the programs (virtproxyd); admin clients keep the programs.
  // Call before run().
  void setPacketRouter(PacketRouterFactory factory);
  // Serves another program (e.g. QEMU) beside the main one; call before run().
  void addProgram(const Program& program);

  // Called (on some I/O thread) whenever the number of clients changes.
  void setClientCountObserver(std::function<void(size_t)> fn);

  // Runs on the calling thread plus ioThreads-1 more until stop().
  void run();
  void stop();  // thread-safe, async-signal-unsafe: call from a normal thread
  // Schedules fn on the I/O context (thread-safe).
  void post(std::function<void()> fn);
  // Calls fn(ctx) for every connected client, each on its own strand.
  void forEachClient(std::function<void(ConnContext&)> fn);
  // Runs fn after `delay` on the I/O context; returns a cancel function.
  std::function<void()> runAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  size_t clientCount() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace splitvirt::rpc
