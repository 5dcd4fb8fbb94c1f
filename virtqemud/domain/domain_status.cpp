#include "domain/domain_status.hpp"

#include "util/fs.hpp"
#include "util/log.hpp"

#include <dirent.h>
#include <sstream>
#include <unistd.h>

namespace splitvirt::qemu {

namespace {
constexpr const char* kSeparator = "--\n";
}

Result<void> saveDomainStatus(const std::string& dir, const DomainStatus& s) {
  std::ostringstream o;
  o << "# splitvirt domain status\n"
    << "name=" << s.name << "\n"
    << "id=" << s.id << "\n"
    << "pid=" << s.pid << "\n"
    << "monitor=" << s.monitorPath << "\n"
    << "dir=" << s.domainDir << "\n"
    << "log=" << s.logPath << "\n"
    << "state=" << s.state << "\n"
    << "reason=" << s.reason << "\n"
    << "persistent=" << (s.persistent ? 1 : 0) << "\n"
    << (s.starting ? "starting=1\n" : "") << kSeparator << s.liveXml;
  // The run dir is volatile (tmpfs on real hosts): atomic, not fsync'ed.
  std::string path = dir + "/" + s.name + ".status";
  std::string tmp = path + std::string(fs::kTempSuffix);
  {
    auto content = o.str();
    FILE* f = std::fopen(tmp.c_str(), "we");
    if (!f) return Error::systemError(ErrorDomain::Qemu, errno, "cannot write status file '" + tmp + "'");
    bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) return Error::systemError(ErrorDomain::Qemu, errno, "cannot write status file '" + tmp + "'");
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0)
    return Error::systemError(ErrorDomain::Qemu, errno, "cannot rename status file '" + tmp + "'");
  return {};
}

std::vector<DomainStatus> loadDomainStatuses(const std::string& dir) {
  std::vector<DomainStatus> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  std::vector<std::string> files;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 7 && n.compare(n.size() - 7, 7, ".status") == 0) files.push_back(n);
    if (n.size() > 4 && n.compare(n.size() - 4, 4, std::string(fs::kTempSuffix)) == 0)
      ::unlink((dir + "/" + n).c_str());
  }
  ::closedir(d);
  for (auto& f : files) {
    auto text = fs::readFile(dir + "/" + f, ErrorDomain::Qemu);
    if (!text) continue;
    auto sep = text->find(std::string("\n") + kSeparator);
    if (sep == std::string::npos) {
      log::warn("ignoring torn status file %s/%s", dir.c_str(), f.c_str());
      ::unlink((dir + "/" + f).c_str());
      continue;
    }
    DomainStatus s;
    std::istringstream in(text->substr(0, sep + 1));
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      std::string k = line.substr(0, eq), v = line.substr(eq + 1);
      try {
        if (k == "name") s.name = v;
        else if (k == "id") s.id = std::stoi(v);
        else if (k == "pid") s.pid = static_cast<pid_t>(std::stol(v));
        else if (k == "monitor") s.monitorPath = v;
        else if (k == "dir") s.domainDir = v;
        else if (k == "log") s.logPath = v;
        else if (k == "state") s.state = std::stoi(v);
        else if (k == "starting") s.starting = v == "1";
        else if (k == "reason") s.reason = std::stoi(v);
        else if (k == "persistent") s.persistent = v == "1";
      } catch (...) {
        log::warn("bad value for %s in %s", k.c_str(), f.c_str());
      }
    }
    s.liveXml = text->substr(sep + 1 + std::string(kSeparator).size());
    if (s.name.empty() || s.pid <= 0 || s.id < 0) {
      log::warn("ignoring incomplete status file %s/%s", dir.c_str(), f.c_str());
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

void removeDomainStatus(const std::string& dir, const std::string& name) {
  ::unlink((dir + "/" + name + ".status").c_str());
}

}  // namespace splitvirt::qemu
