// An asynchronous packet connection to a sibling daemon's unix socket
// (virtproxyd -> virtqemud): whole packets go out through a write queue and
// come in through a handler, without being decoded. A link lives on one
// executor; every call and callback happens there.
#pragma once

#include "protocol/header.hpp"
#include "util/error.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace splitvirt::rpc {

class BackendLink {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // connect() finished; on error the link is closed (no onBackendClosed).
    virtual void onBackendConnected(BackendLink& link, const Result<void>& r) = 0;
    // One whole packet, length word included.
    virtual void onBackendPacket(BackendLink& link, const protocol::Header& h, std::string&& packet) = 0;
    // The daemon closed the connection or it broke; once, never after close().
    virtual void onBackendClosed(BackendLink& link, const Error& why) = 0;
  };

  BackendLink(const boost::asio::any_io_executor& ex, std::string socketPath, Handler& handler);
  ~BackendLink();  // close()
  BackendLink(const BackendLink&) = delete;
  BackendLink& operator=(const BackendLink&) = delete;

  void connect();
  // Queues a whole packet; packets sent before the connection is up wait.
  void send(std::string packet);
  size_t queuedBytes() const;
  // Runs fn (later, never inside this call) once the write queue is empty.
  void whenDrained(std::function<void()> fn);
  void pauseReading();
  void resumeReading();
  // Drops the connection; no handler call after this returns.
  void close();
  const std::string& socketPath() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace splitvirt::rpc
