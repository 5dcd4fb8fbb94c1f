#include "volume_streams.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

namespace splitvirt::storage {

namespace {
constexpr ErrorDomain kErr = ErrorDomain::Storage;
// libvirt's own chunk size for stream data.
constexpr size_t kChunk = 262120;
// Stop reading ahead while this much is still queued for the client.
constexpr size_t kMaxQueued = 8u << 20;
}  // namespace

Result<std::shared_ptr<UploadStream>> UploadStream::open(const std::string& path, uint64_t offset, uint64_t length,
                                                         bool sparse) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error::systemError(kErr, errno, "Unable to open " + path);
  return std::shared_ptr<UploadStream>(new UploadStream(fd, offset, length, sparse, path));
}

UploadStream::~UploadStream() {
  if (fd_ >= 0) ::close(fd_);
}

void UploadStream::onClientData(std::string_view data) {
  if (failed_ || fd_ < 0) return;
  if (end_ && offset_ + data.size() > end_) data = data.substr(0, end_ > offset_ ? end_ - offset_ : 0);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset_ + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      failed_ = true;
      errno_ = errno;
      if (writer_.error) writer_.error(Error::systemError(kErr, errno_, "Unable to write to " + path_));
      return;
    }
    done += static_cast<size_t>(w);
  }
  offset_ += done;
}

Result<void> UploadStream::onClientHole(uint64_t length) {
  if (!sparse_) return Error::make(ErrorCode::Rpc, ErrorDomain::Streams, "%s", "", std::string("Unexpected stream hole"));
  // Whatever the file held there must read back as zeros.
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset_),
                  static_cast<off_t>(length)) < 0 && errno != EOPNOTSUPP) {
    return Error::systemError(kErr, errno, "unable to punch a hole in " + path_);
  }
  offset_ += length;
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) < offset_ &&
      ::ftruncate(fd_, static_cast<off_t>(offset_)) < 0)
    return Error::systemError(kErr, errno, "unable to extend " + path_);
  return {};
}

Result<void> UploadStream::onClientFinish() {
  if (failed_) return Error::systemError(kErr, errno_, "Unable to write to " + path_);
  int rc = ::fsync(fd_);
  int e = errno;
  ::close(fd_);
  fd_ = -1;
  if (rc < 0) return Error::systemError(kErr, e, "unable to sync " + path_);
  return {};
}

// The fsync of a large upload must not stall the session's I/O thread.
bool UploadStream::finishAsync(std::function<void(Result<void>)> done) {
  std::thread([self = shared_from_this(), done = std::move(done)] { done(self->onClientFinish()); }).detach();
  return true;
}

void UploadStream::onClientAbort() {
  // The data sent so far stays, as with libvirt; the volume is not extended
  // or marked complete by us.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<std::shared_ptr<DownloadStream>> DownloadStream::open(const std::string& path, uint64_t offset,
                                                             uint64_t length, bool sparse) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::systemError(kErr, errno, "Unable to open " + path);
  struct stat st {};
  ::fstat(fd, &st);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t end = length ? std::min(size, offset + length) : size;
  return std::shared_ptr<DownloadStream>(new DownloadStream(fd, offset, end, sparse));
}

DownloadStream::~DownloadStream() {
  stop_ = true;
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id())
      thread_.detach();
    else
      thread_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

void DownloadStream::start(rpc::StreamWriter writer) {
  writer_ = std::move(writer);
  thread_ = std::thread([self = shared_from_this()] { self->run(); });
}

void DownloadStream::run() {
  std::string buf(kChunk, '\0');
  uint64_t off = offset_;
  while (!stop_ && off < end_) {
    if (sparse_) {
      off_t data = ::lseek(fd_, static_cast<off_t>(off), SEEK_DATA);
      if (data < 0 || static_cast<uint64_t>(data) >= end_) {
        // The rest of the range is a hole.
        writer_.hole(end_ - off);
        off = end_;
        break;
      }
      if (static_cast<uint64_t>(data) > off) {
        writer_.hole(static_cast<uint64_t>(data) - off);
        off = static_cast<uint64_t>(data);
      }
    }
    uint64_t limit = end_;
    if (sparse_) {
      off_t hole = ::lseek(fd_, static_cast<off_t>(off), SEEK_HOLE);
      if (hole > 0 && static_cast<uint64_t>(hole) < limit) limit = static_cast<uint64_t>(hole);
    }
    while (!stop_ && off < limit) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, limit - off));
      ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) writer_.error(Error::systemError(kErr, errno, "Unable to read from volume"));
        stop_ = true;
        return;
      }
      if (!writer_.waitWritable(kMaxQueued)) return;  // the client went away
      writer_.data(std::string(buf.data(), static_cast<size_t>(n)));
      off += static_cast<uint64_t>(n);
    }
  }
  if (!stop_) writer_.eof();
}

Result<void> DownloadStream::onClientFinish() {
  stop_ = true;
  return {};
}

}  // namespace splitvirt::storage
