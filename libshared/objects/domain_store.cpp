#include "objects/domain_store.hpp"

#include "util/fs.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <dirent.h>
#include <unistd.h>

namespace splitvirt::objects {

namespace {
std::string withWarning(const std::string& name, const std::string& xml) {
  return "<!--\n"
         "WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
         "OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n"
         "  virsh edit " + name + "\n"
         "or other application using the libvirt API.\n"
         "-->\n\n" + xml;
}
bool endsWith(const std::string& s, std::string_view suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
}  // namespace

Result<void> DomainStore::prepare() {
  if (auto r = fs::makeDirs(dir_ + "/autostart", 0755, err_); !r) return r;
  return journal_.open();
}

std::vector<StoredDomain> DomainStore::loadAll() {
  std::vector<StoredDomain> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (endsWith(n, fs::kTempSuffix)) {
      // An interrupted atomic write: the old file (if any) is still intact.
      log::info("removing stale temp file %s/%s", dir_.c_str(), n.c_str());
      ::unlink((dir_ + "/" + n).c_str());
      continue;
    }
    if (endsWith(n, ".xml")) names.push_back(n);
  }
  ::closedir(d);
  for (auto& n : names) {
    auto text = fs::readFile(dir_ + "/" + n, err_);
    if (!text) continue;
    auto def = conf::parseDomainDef(*text, 0, ErrorDomain::Domain);
    if (!def) {
      log::warn("cannot load domain config %s: %s", n.c_str(), def.error().message.c_str());
      continue;
    }
    if (def->name + ".xml" != n) {
      log::warn("domain config %s holds domain '%s', skipping", n.c_str(), def->name.c_str());
      continue;
    }
    StoredDomain s{std::move(*def), false};
    s.autostart = fs::exists(dir_ + "/autostart/" + n);
    out.push_back(std::move(s));
  }
  return out;
}

Result<uint64_t> DomainStore::save(const conf::DomainDef& def) {
  std::string xml = conf::formatDomainDef(def, conf::kFormatInactive | conf::kFormatSecure, -1);
  return journal_.append({{JournalOp::WriteFile, def.name + ".xml", withWarning(def.name, xml)}});
}

Result<uint64_t> DomainStore::remove(const std::string& name) {
  return journal_.append({{JournalOp::RemoveFile, "autostart/" + name + ".xml", ""},
                          {JournalOp::RemoveFile, name + ".xml", ""}});
}

Result<uint64_t> DomainStore::setAutostart(const std::string& name, bool on) {
  if (on) return journal_.append({{JournalOp::Symlink, "autostart/" + name + ".xml", configPath(name)}});
  return journal_.append({{JournalOp::RemoveFile, "autostart/" + name + ".xml", ""}});
}

}  // namespace splitvirt::objects
