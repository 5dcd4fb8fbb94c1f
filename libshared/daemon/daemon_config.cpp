#include "daemon/daemon_config.hpp"

#include "util/fs.hpp"

#include <cctype>

namespace splitvirt::daemon {

namespace {

Error confError(const std::string& file, int line, const std::string& what) {
  Error e = Error::make(ErrorCode::ConfSyntax, ErrorDomain::Conf, "configuration file syntax error: %s",
                        "configuration file syntax error", file + ":" + std::to_string(line) + ": " + what);
  return e;
}

struct Lexer {
  std::string_view s;
  size_t i = 0;
  int line = 1;
  void skipBlank(bool newlines) {
    while (i < s.size()) {
      char c = s[i];
      if (c == '#') {
        while (i < s.size() && s[i] != '\n') ++i;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++i;
      } else if (newlines && c == '\n') {
        ++line;
        ++i;
      } else {
        break;
      }
    }
  }
  bool eof() const { return i >= s.size(); }
};

std::optional<std::string> parseString(Lexer& lx) {
  if (lx.eof() || lx.s[lx.i] != '"') return std::nullopt;
  ++lx.i;
  std::string out;
  while (!lx.eof() && lx.s[lx.i] != '"') {
    if (lx.s[lx.i] == '\n') return std::nullopt;
    out.push_back(lx.s[lx.i++]);
  }
  if (lx.eof()) return std::nullopt;
  ++lx.i;
  return out;
}

}  // namespace

Result<ConfFile> ConfFile::parse(std::string_view text, const std::string& filename) {
  ConfFile f;
  Lexer lx{text};
  for (;;) {
    lx.skipBlank(true);
    if (lx.eof()) break;
    size_t start = lx.i;
    while (!lx.eof() && (std::isalnum(static_cast<unsigned char>(lx.s[lx.i])) || lx.s[lx.i] == '_')) ++lx.i;
    if (start == lx.i) return confError(filename, lx.line, "expecting a name");
    std::string key(lx.s.substr(start, lx.i - start));
    lx.skipBlank(false);
    if (lx.eof() || lx.s[lx.i] != '=') return confError(filename, lx.line, "expecting an assignment");
    ++lx.i;
    lx.skipBlank(false);
    if (lx.eof()) return confError(filename, lx.line, "expecting a value");
    char c = lx.s[lx.i];
    if (c == '"') {
      auto s = parseString(lx);
      if (!s) return confError(filename, lx.line, "unterminated string");
      f.entries_[key] = *s;
    } else if (c == '[') {
      ++lx.i;
      std::vector<std::string> list;
      for (;;) {
        lx.skipBlank(true);
        if (lx.eof()) return confError(filename, lx.line, "expecting a separator in list");
        if (lx.s[lx.i] == ']') {
          ++lx.i;
          break;
        }
        auto s = parseString(lx);
        if (!s) return confError(filename, lx.line, "expecting a string in list");
        list.push_back(*s);
        lx.skipBlank(true);
        if (!lx.eof() && lx.s[lx.i] == ',') ++lx.i;
      }
      f.entries_[key] = std::move(list);
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t s0 = lx.i;
      ++lx.i;
      while (!lx.eof() && std::isdigit(static_cast<unsigned char>(lx.s[lx.i]))) ++lx.i;
      std::string num(lx.s.substr(s0, lx.i - s0));
      if (num == "-") return confError(filename, lx.line, "invalid number");
      f.entries_[key] = std::stoll(num);
    } else {
      return confError(filename, lx.line, "expecting a value");
    }
    lx.skipBlank(false);
    if (!lx.eof() && lx.s[lx.i] == ';') ++lx.i;
    lx.skipBlank(false);
    if (!lx.eof() && lx.s[lx.i] != '\n') return confError(filename, lx.line, "expecting a separator");
  }
  return f;
}

Result<ConfFile> ConfFile::load(const std::string& path) {
  if (!fs::exists(path)) return ConfFile{};
  auto text = fs::readFile(path, ErrorDomain::Conf);
  if (!text) return text.error();
  return parse(*text, path);
}

std::optional<std::string> ConfFile::getString(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (auto* s = std::get_if<std::string>(&it->second)) return *s;
  return std::nullopt;
}

std::optional<long long> ConfFile::getInt(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (auto* i = std::get_if<long long>(&it->second)) return *i;
  return std::nullopt;
}

Result<DaemonConfig> daemonConfigFrom(const ConfFile& f, const std::string& filename) {
  DaemonConfig c;
  auto typeErr = [&](const std::string& key, const char* want) {
    return Error::make(ErrorCode::ConfSyntax, ErrorDomain::Conf, "configuration file syntax error: %s",
                       "configuration file syntax error",
                       filename + ": " + key + ": expected " + want);
  };
  auto perms = [&](const std::string& key, unsigned& out) -> Result<void> {
    if (!f.entries().count(key)) return {};
    auto s = f.getString(key);
    if (!s) return typeErr(key, "a string");
    char* end = nullptr;
    unsigned long v = std::strtoul(s->c_str(), &end, 8);
    if (s->empty() || *end || v > 07777)
      return Error::make(ErrorCode::ConfSyntax, ErrorDomain::Conf, "configuration file syntax error: %s",
                         "configuration file syntax error", "Failed to parse mode '" + *s + "'");
    out = static_cast<unsigned>(v);
    return {};
  };
  auto num = [&](const std::string& key, auto& out, long long lo, long long hi) -> Result<void> {
    if (!f.entries().count(key)) return {};
    auto v = f.getInt(key);
    if (!v) return typeErr(key, "a number");
    if (*v < lo || *v > hi) return typeErr(key, "a number in range");
    out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
    return {};
  };
  if (f.entries().count("unix_sock_dir")) {
    auto s = f.getString("unix_sock_dir");
    if (!s) return typeErr("unix_sock_dir", "a string");
    c.unixSockDir = *s;
  }
  if (auto s = f.getString("unix_sock_group")) c.unixSockGroup = *s;
  if (auto r = perms("unix_sock_rw_perms", c.rwPerms); !r) return r.error();
  if (auto r = perms("unix_sock_ro_perms", c.roPerms); !r) return r.error();
  if (auto r = perms("unix_sock_admin_perms", c.adminPerms); !r) return r.error();
  if (auto r = num("max_clients", c.maxClients, 1, 1000000); !r) return r.error();
  if (auto r = num("max_client_requests", c.maxClientRequests, 1, 100000); !r) return r.error();
  if (auto r = num("keepalive_interval", c.keepaliveInterval, -1, 1000000); !r) return r.error();
  if (auto r = num("keepalive_count", c.keepaliveCount, 0, 1000000); !r) return r.error();
  if (auto r = num("log_level", c.logLevel, 1, 4); !r) return r.error();
  if (auto r = num("max_workers", c.maxWorkers, 1, 10000); !r) return r.error();
  if (f.entries().count("log_outputs")) {
    auto s = f.getString("log_outputs");
    if (!s) return typeErr("log_outputs", "a string");
    c.logOutputs = *s;
  }
  return c;
}

}  // namespace splitvirt::daemon
