#include "objects/domain_store.hpp"

#include "util/log.hpp"

namespace splitvirt::objects {

std::vector<StoredDomain> DomainStore::loadAll() {
  std::vector<StoredDomain> out;
  for (auto& f : store_.loadAll()) {
    auto def = conf::parseDomainDef(f.xml, 0, ErrorDomain::Domain);
    if (!def) {
      log::warn("cannot load domain config %s.xml: %s", f.name.c_str(), def.error().message.c_str());
      continue;
    }
    if (def->name != f.name) {
      log::warn("domain config %s.xml holds domain '%s', skipping", f.name.c_str(), def->name.c_str());
      continue;
    }
    out.push_back({std::move(*def), f.autostart});
  }
  return out;
}

Result<uint64_t> DomainStore::save(const conf::DomainDef& def) {
  std::string xml = conf::formatDomainDef(def, conf::kFormatInactive | conf::kFormatSecure, -1);
  return store_.save(def.name, withGeneratedWarning("virsh edit " + def.name, xml));
}

}  // namespace splitvirt::objects
