#include "objects/definition_store.hpp"

#include "util/fs.hpp"
#include "util/log.hpp"

#include <dirent.h>
#include <unistd.h>

namespace splitvirt::objects {

namespace {
bool endsWith(const std::string& s, std::string_view suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
}  // namespace

std::string withGeneratedWarning(const std::string& editCommand, const std::string& xml) {
  return "<!--\n"
         "WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
         "OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n"
         "  " + editCommand + "\n"
         "or other application using the libvirt API.\n"
         "-->\n\n" + xml;
}

Result<void> DefinitionStore::prepare() {
  if (auto r = fs::makeDirs(dir_ + "/autostart", 0755, err_); !r) return r;
  return journal_.open();
}

std::vector<StoredDefinition> DefinitionStore::loadAll() {
  std::vector<StoredDefinition> out;
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
    std::string name = n.substr(0, n.size() - 4);
    out.push_back({name, std::move(*text), fs::exists(dir_ + "/autostart/" + n)});
  }
  return out;
}

Result<uint64_t> DefinitionStore::save(const std::string& name, const std::string& xml) {
  return journal_.append({{JournalOp::WriteFile, name + ".xml", xml}});
}

Result<uint64_t> DefinitionStore::remove(const std::string& name) {
  return journal_.append({{JournalOp::RemoveFile, "autostart/" + name + ".xml", ""},
                          {JournalOp::RemoveFile, name + ".xml", ""}});
}

Result<uint64_t> DefinitionStore::setAutostart(const std::string& name, bool on) {
  if (on) return journal_.append({{JournalOp::Symlink, "autostart/" + name + ".xml", configPath(name)}});
  return journal_.append({{JournalOp::RemoveFile, "autostart/" + name + ".xml", ""}});
}

}  // namespace splitvirt::objects
