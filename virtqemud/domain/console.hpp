// `virsh console`: one RPC stream bridged to the guest's serial pty.
#pragma once

#include "rpc/stream.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace splitvirt::qemu {

class PtyConsole final : public rpc::StreamEndpoint, public std::enable_shared_from_this<PtyConsole> {
 public:
  // Opens the pty; the error names the device as libvirt does.
  static Result<std::shared_ptr<PtyConsole>> open(const std::string& ptyPath);
  ~PtyConsole() override;

  void start(rpc::StreamWriter writer) override;
  void onClientData(std::string_view data) override;
  Result<void> onClientFinish() override;
  void onClientAbort() override;
  // Ends the session from the daemon side (another client forced the
  // console, or the guest stopped): the client gets `e`.
  void kick(const Error& e);
  bool active() const { return !closed_; }

 private:
  explicit PtyConsole(int fd) : fd_(fd) {}
  void readLoop();
  void close();

  int fd_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> closed_{false};
  std::mutex writerMutex_;
  rpc::StreamWriter writer_;
  std::thread reader_;
};

}  // namespace splitvirt::qemu
