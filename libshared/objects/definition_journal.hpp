// A write-ahead journal for definition files. Acknowledging a define must
// survive power loss; doing that with temp file + fsync + rename + directory
// fsync costs two device flushes per definition. Instead each change is one
// record written into a preallocated, pre-zeroed file and fdatasync'ed: a
// pure data flush with no metadata to commit. The definition files are then
// written and renamed without syncing (visible at once) and made durable in
// batches by checkpoint(). After a crash, open() replays the records of the
// current generation, so every acknowledged change reaches its file.
#pragma once

#include "util/error.hpp"

#include <cstdint>
#include <functional>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::objects {

enum class JournalOp : uint8_t { WriteFile = 1, RemoveFile = 2, Symlink = 3 };

struct JournalRecord {
  JournalOp op;
  std::string path;     // relative to the journal's directory
  std::string content;  // file content, or the symlink target
};

class DefinitionJournal {
 public:
  static constexpr uint64_t kDefaultSize = 4u << 20;

  DefinitionJournal(std::string dir, ErrorDomain err, uint64_t size = kDefaultSize)
      : dir_(std::move(dir)), err_(err), size_(size) {}
  ~DefinitionJournal();

  // Creates or opens <dir>/.journal, replays the committed records through
  // applyRecord, makes the result durable and starts a new generation.
  Result<void> open();
  // Records and applies the changes; returns a ticket for waitDurable().
  // Callers hold their own lock across append() so records and files stay
  // in one order, and release it before waiting.
  Result<uint64_t> append(const std::vector<JournalRecord>& recs);
  // Returns once every record up to `ticket` survives power loss. Concurrent
  // waiters share one flush (group commit).
  Result<void> waitDurable(uint64_t ticket);
  // append + waitDurable.
  Result<void> commit(const std::vector<JournalRecord>& recs);
  // Makes every applied change durable and empties the journal.
  Result<void> checkpoint();

  // Closes without a checkpoint, as a crash would leave things.
  void abandonForTest();

  // Applies one record to the directory without syncing (idempotent).
  static Result<void> applyRecord(const std::string& dir, const JournalRecord& rec, ErrorDomain err);

 private:
  Result<void> writeHeader();
  Result<void> replay();

  std::string dir_;
  ErrorDomain err_;
  uint64_t size_;
  int fd_ = -1;
  uint64_t generation_ = 0;
  uint64_t offset_ = 0;
  uint64_t seq_ = 0;
  uint64_t appended_ = 0;  // bytes ever appended (monotonic, across generations)
  uint64_t durable_ = 0;   // appended_ value known to be on stable storage
  bool syncing_ = false;
  std::mutex mutex_;
  std::condition_variable synced_;
};

}  // namespace splitvirt::objects
