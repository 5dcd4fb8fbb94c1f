#include "objects/definition_journal.hpp"

#include "util/crc32.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace splitvirt::objects {

namespace {

constexpr uint32_t kHeaderMagic = 0x53564a48;  // "SVJH"
constexpr uint32_t kRecordMagic = 0x53564a52;  // "SVJR"
constexpr uint64_t kRecordsStart = 4096;
// magic, total length, generation, seq, op, path length, content length
constexpr size_t kRecordFixed = 4 + 4 + 8 + 8 + 1 + 4 + 4;
constexpr size_t kRecordTrailer = 4;  // crc32

void put32(std::string& b, uint32_t v) { for (int i = 3; i >= 0; --i) b.push_back(char(v >> (8 * i))); }
void put64(std::string& b, uint64_t v) { for (int i = 7; i >= 0; --i) b.push_back(char(v >> (8 * i))); }
uint32_t get32(const unsigned char* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
uint64_t get64(const unsigned char* p) { return (uint64_t(get32(p)) << 32) | get32(p + 4); }

Result<void> pwriteAll(int fd, const std::string& buf, uint64_t off, ErrorDomain err) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pwrite(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::systemError(err, errno, "cannot write definition journal");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

bool safeRelative(const std::string& p) {
  return !p.empty() && p[0] != '/' && p.find("..") == std::string::npos;
}

}  // namespace

DefinitionJournal::~DefinitionJournal() {
  if (fd_ >= 0) {
    (void)checkpoint();
    ::close(fd_);
  }
}

Result<void> DefinitionJournal::applyRecord(const std::string& dir, const JournalRecord& rec, ErrorDomain err) {
  if (!safeRelative(rec.path)) return Error::internal(err, "invalid journal path '" + rec.path + "'");
  std::string path = dir + "/" + rec.path;
  switch (rec.op) {
    case JournalOp::WriteFile: {
      std::string tmp = path + std::string(fs::kTempSuffix);
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) return Error::systemError(err, errno, "cannot create file '" + tmp + "'");
      size_t off = 0;
      while (off < rec.content.size()) {
        ssize_t n = ::write(fd, rec.content.data() + off, rec.content.size() - off);
        if (n < 0) {
          if (errno == EINTR) continue;
          int e = errno;
          ::close(fd);
          ::unlink(tmp.c_str());
          return Error::systemError(err, e, "cannot write file '" + tmp + "'");
        }
        off += static_cast<size_t>(n);
      }
      ::close(fd);
      if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return Error::systemError(err, e, "cannot rename '" + tmp + "' to '" + path + "'");
      }
      return {};
    }
    case JournalOp::RemoveFile:
      if (::unlink(path.c_str()) < 0 && errno != ENOENT)
        return Error::systemError(err, errno, "cannot remove file '" + path + "'");
      return {};
    case JournalOp::Symlink:
      ::unlink(path.c_str());
      if (::symlink(rec.content.c_str(), path.c_str()) < 0)
        return Error::systemError(err, errno, "Failed to create symlink '" + path + "' to '" + rec.content + "'");
      return {};
  }
  return Error::internal(err, "unknown journal operation");
}

Result<void> DefinitionJournal::writeHeader() {
  std::string h;
  put32(h, kHeaderMagic);
  put64(h, generation_);
  put32(h, crc32(h.data(), h.size()));
  if (auto r = pwriteAll(fd_, h, 0, err_); !r) return r;
  if (::fdatasync(fd_) < 0) return Error::systemError(err_, errno, "cannot sync definition journal");
  return {};
}

Result<void> DefinitionJournal::open() {
  std::lock_guard lk(mutex_);
  std::string path = dir_ + "/.journal";
  bool fresh = !fs::exists(path);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return Error::systemError(err_, errno, "cannot open definition journal '" + path + "'");
  struct stat st {};
  ::fstat(fd_, &st);
  if (fresh || static_cast<uint64_t>(st.st_size) != size_) {
    // Zero-filled and synced once, so later record writes change no metadata.
    std::string zeros(size_, '\0');
    if (auto r = pwriteAll(fd_, zeros, 0, err_); !r) return r;
    if (::ftruncate(fd_, static_cast<off_t>(size_)) < 0 || ::fsync(fd_) < 0)
      return Error::systemError(err_, errno, "cannot prepare definition journal");
    if (auto r = fs::fsyncDir(dir_, err_); !r) return r;
    generation_ = 1;
  } else {
    unsigned char h[16];
    if (::pread(fd_, h, sizeof h, 0) == sizeof h && get32(h) == kHeaderMagic && crc32(h, 12) == get32(h + 12)) {
      generation_ = get64(h + 4);
      if (auto r = replay(); !r) return r;
    } else {
      generation_ = 1;  // never initialised or torn header: nothing was committed under it
    }
  }
  // Replayed changes are made durable before the journal forgets them.
  if (::syncfs(fd_) < 0) return Error::systemError(err_, errno, "cannot sync file system");
  ++generation_;
  offset_ = kRecordsStart;
  return writeHeader();
}

Result<void> DefinitionJournal::replay() {
  std::vector<unsigned char> buf(size_);
  ssize_t n = ::pread(fd_, buf.data(), buf.size(), 0);
  if (n < 0) return Error::systemError(err_, errno, "cannot read definition journal");
  uint64_t off = kRecordsStart, applied = 0;
  while (off + kRecordFixed + kRecordTrailer <= static_cast<uint64_t>(n)) {
    const unsigned char* p = buf.data() + off;
    if (get32(p) != kRecordMagic) break;
    uint32_t total = get32(p + 4);
    if (total < kRecordFixed + kRecordTrailer || off + total > static_cast<uint64_t>(n)) break;
    if (crc32(p, total - kRecordTrailer) != get32(p + total - kRecordTrailer)) break;  // torn write: never acked
    if (get64(p + 8) != generation_) break;  // a record of an older, checkpointed generation
    JournalRecord rec;
    rec.op = static_cast<JournalOp>(p[24]);
    uint32_t plen = get32(p + 25);
    uint32_t clen = get32(p + 29);
    if (kRecordFixed + plen + clen + kRecordTrailer != total) break;
    rec.path.assign(reinterpret_cast<const char*>(p + kRecordFixed), plen);
    rec.content.assign(reinterpret_cast<const char*>(p + kRecordFixed + plen), clen);
    if (auto r = applyRecord(dir_, rec, err_); !r) return r;
    ++applied;
    off += total;
  }
  if (applied) log::info("definition journal: replayed %llu change(s) in %s", (unsigned long long)applied, dir_.c_str());
  return {};
}

Result<uint64_t> DefinitionJournal::append(const std::vector<JournalRecord>& recs) {
  std::lock_guard lk(mutex_);
  if (fd_ < 0) return Error::internal(err_, "definition journal is not open");
  // Refuse before anything is journaled: a bad record would fail every replay.
  for (const auto& rec : recs)
    if (!safeRelative(rec.path)) return Error::internal(err_, "invalid journal path '" + rec.path + "'");
  std::string b;
  for (const auto& rec : recs) {
    size_t total = kRecordFixed + rec.path.size() + rec.content.size() + kRecordTrailer;
    put32(b, kRecordMagic);
    put32(b, static_cast<uint32_t>(total));
    put64(b, 0);  // generation, stamped below
    put64(b, ++seq_);
    b.push_back(static_cast<char>(rec.op));
    put32(b, static_cast<uint32_t>(rec.path.size()));
    put32(b, static_cast<uint32_t>(rec.content.size()));
    b += rec.path;
    b += rec.content;
    b.resize(b.size() + kRecordTrailer);
  }
  auto syncAll = [&]() -> Result<void> {
    if (::syncfs(fd_) < 0) return Error::systemError(err_, errno, "cannot sync file system");
    durable_ = appended_;
    return {};
  };
  if (b.size() > size_ - kRecordsStart) {
    // Too big for the journal: apply, then make the whole file system durable.
    for (const auto& rec : recs)
      if (auto r = applyRecord(dir_, rec, err_); !r) return r.error();
    appended_ += 1;
    if (auto r = syncAll(); !r) return r.error();
    return appended_;
  }
  if (offset_ + b.size() > size_) {
    // Full: make what it covers durable, then start a new generation.
    if (auto r = syncAll(); !r) return r.error();
    ++generation_;
    offset_ = kRecordsStart;
    if (auto r = writeHeader(); !r) return r.error();
  }
  for (size_t off = 0; off < b.size();) {
    auto* p = reinterpret_cast<unsigned char*>(b.data() + off);
    uint32_t total = get32(p + 4);
    for (int i = 0; i < 8; ++i) p[8 + i] = static_cast<unsigned char>(generation_ >> (8 * (7 - i)));
    uint32_t c = crc32(p, total - kRecordTrailer);
    for (int i = 0; i < 4; ++i) p[total - kRecordTrailer + i] = static_cast<unsigned char>(c >> (8 * (3 - i)));
    off += total;
  }
  if (auto r = pwriteAll(fd_, b, offset_, err_); !r) return r.error();
  offset_ += b.size();
  appended_ += b.size();
  // Files are written (not synced) at once, in journal order; the journal
  // makes them durable, checkpoints make the files themselves durable.
  for (const auto& rec : recs)
    if (auto r = applyRecord(dir_, rec, err_); !r) return r.error();
  return appended_;
}

Result<void> DefinitionJournal::waitDurable(uint64_t ticket) {
  std::unique_lock lk(mutex_);
  while (durable_ < ticket) {
    if (syncing_) {
      synced_.wait(lk);
      continue;
    }
    syncing_ = true;
    uint64_t target = appended_;
    int fd = fd_;
    lk.unlock();
    int rc = ::fdatasync(fd);
    int e = errno;
    lk.lock();
    syncing_ = false;
    synced_.notify_all();
    if (rc < 0) return Error::systemError(err_, e, "cannot sync definition journal");
    durable_ = std::max(durable_, target);
  }
  return {};
}

Result<void> DefinitionJournal::commit(const std::vector<JournalRecord>& recs) {
  auto t = append(recs);
  if (!t) return t.error();
  return waitDurable(*t);
}

void DefinitionJournal::abandonForTest() {
  std::lock_guard lk(mutex_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<void> DefinitionJournal::checkpoint() {
  std::lock_guard lk(mutex_);
  if (fd_ < 0 || offset_ == kRecordsStart) return {};
  if (::syncfs(fd_) < 0) return Error::systemError(err_, errno, "cannot sync file system");
  durable_ = appended_;
  ++generation_;
  offset_ = kRecordsStart;
  return writeHeader();
}

}  // namespace splitvirt::objects
