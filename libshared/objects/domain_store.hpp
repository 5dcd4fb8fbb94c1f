// Persistent domain definitions where libvirt keeps them:
// <configDir>/<driver>/NAME.xml and autostart links in .../autostart/.
// Every change is durable before it is acknowledged.
#pragma once

#include "conf/domain_def.hpp"
#include "objects/definition_journal.hpp"
#include "util/error.hpp"

#include <string>
#include <vector>

namespace splitvirt::objects {

struct StoredDomain {
  conf::DomainDef def;
  bool autostart = false;
};

class DomainStore {
 public:
  DomainStore(std::string dir, ErrorDomain errDomain) : dir_(dir), err_(errDomain), journal_(dir, errDomain) {}

  // Creates the directories and replays the journal of a crashed run.
  Result<void> prepare();
  // Loads every NAME.xml; removes stale temp files of interrupted writes.
  // Files that fail to parse are skipped with a warning, as libvirt does.
  std::vector<StoredDomain> loadAll();
  // Each returns a ticket: the change is applied (visible) at once and
  // durable once waitDurable(ticket) returns. Call these under the list's
  // write lock and wait after releasing it, so concurrent changes share a flush.
  Result<uint64_t> save(const conf::DomainDef& def);
  Result<uint64_t> remove(const std::string& name);
  Result<uint64_t> setAutostart(const std::string& name, bool on);
  Result<void> waitDurable(uint64_t ticket) { return journal_.waitDurable(ticket); }
  std::string configPath(const std::string& name) const { return dir_ + "/" + name + ".xml"; }

 private:
  std::string dir_;
  ErrorDomain err_;
  DefinitionJournal journal_;
};

}  // namespace splitvirt::objects
