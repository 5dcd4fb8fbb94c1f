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
  Result<void> save(const conf::DomainDef& def);
  Result<void> remove(const std::string& name);
  Result<void> setAutostart(const std::string& name, bool on);
  std::string configPath(const std::string& name) const { return dir_ + "/" + name + ".xml"; }

 private:
  std::string dir_;
  ErrorDomain err_;
  DefinitionJournal journal_;
};

}  // namespace splitvirt::objects
