// The hook through which a server client's packets go to a router instead
// of the programs (virtproxyd relays them to the daemon owning each
// procedure). Every call in both directions happens on the client's
// executor, one thread: routers need no locks.
#pragma once

#include "protocol/header.hpp"
#include "rpc/conn_context.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace splitvirt::rpc {

enum class Transport { Unix, Tcp, Tls };

struct PeerInfo {
  Transport transport = Transport::Unix;
  std::string address;  // TCP/TLS: "ip;port" as libvirt writes it
  std::string x509Dn;   // TLS: subject of the verified client certificate
};

// The client side of a routed session.
class ClientLink {
 public:
  virtual ~ClientLink() = default;
  virtual const boost::asio::any_io_executor& executor() const = 0;
  virtual ConnContext& ctx() = 0;
  virtual const PeerInfo& peer() const = 0;
  // Queues one whole packet (length word included).
  virtual void send(std::string packet) = 0;
  virtual size_t queuedBytes() const = 0;
  // Runs fn (later, never inside this call) once the outbound queue is empty.
  virtual void whenDrained(std::function<void()> fn) = 0;
  // Back-pressure: stops/restarts reading the client's socket.
  virtual void pauseReading() = 0;
  virtual void resumeReading() = 0;
  // Drops the client (asynchronously; onClientClosed follows).
  virtual void close() = 0;
};

class PacketRouter {
 public:
  virtual ~PacketRouter() = default;
  // Every packet but keepalive (the session answers PINGs itself), length
  // word included; the view is valid only during the call.
  virtual void onPacket(const protocol::Header& h, std::string_view packet) = 0;
  // The client is gone; nothing may be sent after this.
  virtual void onClientClosed() = 0;
};

using PacketRouterFactory = std::function<std::unique_ptr<PacketRouter>(ClientLink&)>;

}  // namespace splitvirt::rpc
