// Domain definitions in <configDir>/<driver>/NAME.xml (a DefinitionStore
// that speaks DomainDef).
#pragma once

#include "conf/domain_def.hpp"
#include "objects/definition_store.hpp"

#include <string>
#include <vector>

namespace splitvirt::objects {

struct StoredDomain {
  conf::DomainDef def;
  bool autostart = false;
};

class DomainStore {
 public:
  DomainStore(std::string dir, ErrorDomain errDomain) : store_(std::move(dir), errDomain) {}

  Result<void> prepare() { return store_.prepare(); }
  // Files that fail to parse, or hold another name, are skipped with a warning.
  std::vector<StoredDomain> loadAll();
  // Tickets as in DefinitionStore.
  Result<uint64_t> save(const conf::DomainDef& def);
  Result<uint64_t> remove(const std::string& name) { return store_.remove(name); }
  Result<uint64_t> setAutostart(const std::string& name, bool on) { return store_.setAutostart(name, on); }
  Result<void> waitDurable(uint64_t ticket) { return store_.waitDurable(ticket); }
  std::string configPath(const std::string& name) const { return store_.configPath(name); }

 private:
  DefinitionStore store_;
};

}  // namespace splitvirt::objects
