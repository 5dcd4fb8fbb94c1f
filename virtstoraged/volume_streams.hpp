// vol-upload / vol-download: a volume file bridged to an RPC stream, with
// holes (sparse streams) when the client asked for them.
#pragma once

#include "rpc/stream.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <functional>
#include <memory>
#include <thread>

namespace splitvirt::storage {

class UploadStream final : public rpc::StreamEndpoint, public std::enable_shared_from_this<UploadStream> {
 public:
  // Writes into `path` from `offset`; length 0 = up to the end of the data.
  static Result<std::shared_ptr<UploadStream>> open(const std::string& path, uint64_t offset, uint64_t length,
                                                    bool sparse);
  ~UploadStream() override;
  void start(rpc::StreamWriter writer) override { writer_ = std::move(writer); }
  void onClientData(std::string_view data) override;
  Result<void> onClientHole(uint64_t length) override;
  Result<void> onClientFinish() override;
  bool finishAsync(std::function<void(Result<void>)> done) override;
  void onClientAbort() override;

 private:
  UploadStream(int fd, uint64_t offset, uint64_t length, bool sparse, std::string path)
      : fd_(fd), offset_(offset), end_(length ? offset + length : 0), sparse_(sparse), path_(std::move(path)) {}
  int fd_;
  uint64_t offset_, end_;
  bool sparse_;
  std::string path_;
  bool failed_ = false;
  int errno_ = 0;
  rpc::StreamWriter writer_;
};

class DownloadStream final : public rpc::StreamEndpoint, public std::enable_shared_from_this<DownloadStream> {
 public:
  static Result<std::shared_ptr<DownloadStream>> open(const std::string& path, uint64_t offset, uint64_t length,
                                                      bool sparse);
  ~DownloadStream() override;
  void start(rpc::StreamWriter writer) override;
  void onClientData(std::string_view) override {}
  Result<void> onClientFinish() override;
  void onClientAbort() override { stop_ = true; }

 private:
  DownloadStream(int fd, uint64_t offset, uint64_t end, bool sparse)
      : fd_(fd), offset_(offset), end_(end), sparse_(sparse) {}
  void run();
  int fd_;
  uint64_t offset_, end_;
  bool sparse_;
  std::atomic<bool> stop_{false};
  rpc::StreamWriter writer_;
  std::thread thread_;
};

}  // namespace splitvirt::storage
