// Persistent object definitions where libvirt keeps them: <dir>/NAME.xml,
// with autostart links in <dir>/autostart/. Every change goes through the
// write-ahead journal: applied (visible) at once, durable at waitDurable().
#pragma once

#include "objects/definition_journal.hpp"
#include "util/error.hpp"

#include <string>
#include <vector>

namespace splitvirt::objects {

struct StoredDefinition {
  std::string name;  // from the file name
  std::string xml;
  bool autostart = false;
};

class DefinitionStore {
 public:
  DefinitionStore(std::string dir, ErrorDomain errDomain) : dir_(dir), err_(errDomain), journal_(dir, errDomain) {}

  // Creates the directories and replays the journal of a crashed run.
  Result<void> prepare();
  // Every NAME.xml; stale temp files of interrupted writes are removed.
  std::vector<StoredDefinition> loadAll();

  // Tickets: wait on them after releasing the caller's own lock, so that
  // concurrent changes share one flush.
  Result<uint64_t> save(const std::string& name, const std::string& xml);
  Result<uint64_t> remove(const std::string& name);
  Result<uint64_t> setAutostart(const std::string& name, bool on);
  Result<void> waitDurable(uint64_t ticket) { return journal_.waitDurable(ticket); }

  std::string configPath(const std::string& name) const { return dir_ + "/" + name + ".xml"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  ErrorDomain err_;
  DefinitionJournal journal_;
};

// The comment libvirt puts at the top of every file it writes.
std::string withGeneratedWarning(const std::string& editCommand, const std::string& xml);

}  // namespace splitvirt::objects
