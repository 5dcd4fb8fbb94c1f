// QEMU probing and capabilities assembly (libvirt 9.0 qemu_capabilities.c:
// virQEMUCapsInit, virQEMUCapsInitGuestFromBinary,
// virQEMUCapsGetMachineTypesCaps; qemu_conf.c virQEMUDriverCreateCapabilities).
#include "caps/qemu_caps.hpp"

#include "host/hostinfo.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

extern char** environ;

namespace splitvirt::qemu {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kProbeTimeout{15000};

// ---- a minimal JSON reader (QMP replies only) ----------------------------------

struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::string> keys;  // object members: keys[i] -> vals[i]
  std::vector<Json> vals;          // (a pair<string, Json> would need Json complete)

  const Json* get(std::string_view k) const {
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == k) return &vals[i];
    return nullptr;
  }
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}
  std::optional<Json> parse() {
    auto v = value(0);
    ws();
    if (!v || p_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  bool lit(std::string_view l) {
    if (s_.substr(p_, l.size()) != l) return false;
    p_ += l.size();
    return true;
  }
  std::optional<std::string> string() {
    if (p_ >= s_.size() || s_[p_] != '"') return std::nullopt;
    ++p_;
    std::string out;
    while (p_ < s_.size() && s_[p_] != '"') {
      char c = s_[p_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= s_.size()) return std::nullopt;
      char e = s_[p_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (p_ + 4 > s_.size()) return std::nullopt;
          unsigned cp = static_cast<unsigned>(std::stoul(std::string(s_.substr(p_, 4)), nullptr, 16));
          p_ += 4;
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
          } else {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
          }
          break;
        }
        default: out += e;
      }
    }
    if (p_ >= s_.size()) return std::nullopt;
    ++p_;
    return out;
  }
  std::optional<Json> value(int depth) {
    if (depth > 64) return std::nullopt;
    ws();
    if (p_ >= s_.size()) return std::nullopt;
    Json v;
    char c = s_[p_];
    if (c == '{') {
      ++p_;
      v.type = Json::Type::Object;
      ws();
      if (p_ < s_.size() && s_[p_] == '}') {
        ++p_;
        return v;
      }
      for (;;) {
        ws();
        auto k = string();
        if (!k) return std::nullopt;
        ws();
        if (!lit(":")) return std::nullopt;
        auto m = value(depth + 1);
        if (!m) return std::nullopt;
        v.keys.push_back(std::move(*k));
        v.vals.push_back(std::move(*m));
        ws();
        if (lit("}")) return v;
        if (!lit(",")) return std::nullopt;
      }
    }
    if (c == '[') {
      ++p_;
      v.type = Json::Type::Array;
      ws();
      if (p_ < s_.size() && s_[p_] == ']') {
        ++p_;
        return v;
      }
      for (;;) {
        auto m = value(depth + 1);
        if (!m) return std::nullopt;
        v.arr.push_back(std::move(*m));
        ws();
        if (lit("]")) return v;
        if (!lit(",")) return std::nullopt;
      }
    }
    if (c == '"') {
      auto s = string();
      if (!s) return std::nullopt;
      v.type = Json::Type::String;
      v.str = std::move(*s);
      return v;
    }
    if (lit("true")) {
      v.type = Json::Type::Bool;
      v.b = true;
      return v;
    }
    if (lit("false")) {
      v.type = Json::Type::Bool;
      return v;
    }
    if (lit("null")) return v;
    size_t start = p_;
    while (p_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[p_])) || std::strchr("+-.eE", s_[p_])))
      ++p_;
    if (start == p_) return std::nullopt;
    v.type = Json::Type::Number;
    v.num = std::strtod(std::string(s_.substr(start, p_ - start)).c_str(), nullptr);
    return v;
  }

  std::string_view s_;
  size_t p_ = 0;
};

QemuMachine machineFromJson(const Json& m) {
  QemuMachine qm;
  if (auto* n = m.get("name")) qm.name = n->str;
  if (auto* a = m.get("alias")) qm.alias = a->str;
  if (auto* d = m.get("is-default")) qm.isDefault = d->b;
  if (auto* x = m.get("cpu-max")) qm.maxCpus = static_cast<int>(x->num);
  if (auto* d = m.get("deprecated")) qm.deprecated = d->b;
  if (auto* h = m.get("hotpluggable-cpus")) qm.hotplugCpus = h->b;
  if (auto* t = m.get("default-cpu-type")) qm.defaultCpuType = t->str;
  if (auto* t = m.get("default-ram-id")) qm.defaultRamId = t->str;
  return qm;
}

// ---- child processes ------------------------------------------------------------

// A spawned child with piped stdin/stdout; killed and reaped on destruction.
class Child {
 public:
  static std::unique_ptr<Child> spawn(const std::vector<std::string>& argv, bool wantStdin) {
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0) return nullptr;
    // stdin is a socket so writes can use MSG_NOSIGNAL: a QEMU that died
    // must not take the daemon down with SIGPIPE.
    if (wantStdin && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return nullptr;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (wantStdin)
      posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    else
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // no daemon fds leak into QEMU
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // A fixed, C locale environment so QEMU's output is predictable.
    std::vector<std::string> envStore{"LC_ALL=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    std::vector<char*> envp;
    for (auto& e : envStore) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (wantStdin) ::close(in[0]);
    if (rc != 0) {
      ::close(out[0]);
      if (wantStdin) ::close(in[1]);
      return nullptr;
    }
    auto c = std::unique_ptr<Child>(new Child);
    c->pid_ = pid;
    c->out_ = out[0];
    c->in_ = wantStdin ? in[1] : -1;
    return c;
  }

  ~Child() {
    closeStdin();
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
      }
    }
  }

  bool write(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(in_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void closeStdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  // Next '\n'-terminated line, or nullopt on EOF/deadline.
  std::optional<std::string> readLine(Clock::time_point deadline) {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      if (!fill(deadline)) {
        if (buf_.empty()) return std::nullopt;
        return std::exchange(buf_, {});
      }
    }
  }
  std::string readAll(Clock::time_point deadline) {
    while (fill(deadline)) {
    }
    return std::exchange(buf_, {});
  }
  // Exit status once stdout hit EOF (waits up to the deadline, then kills).
  int wait(Clock::time_point deadline) {
    int st = 0;
    for (;;) {
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      if (r < 0 && errno != EINTR) return -1;
      if (Clock::now() >= deadline) return -1;  // destructor kills it
      ::usleep(2000);
    }
  }

 private:
  Child() = default;
  bool fill(Clock::time_point deadline) {
    if (out_ < 0) return false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      struct pollfd p{out_, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      char tmp[8192];
      ssize_t got = ::read(out_, tmp, sizeof tmp);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(out_);
        out_ = -1;
        return false;
      }
      buf_.append(tmp, static_cast<size_t>(got));
      return true;
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int in_ = -1;
  std::string buf_;
};

std::optional<std::string> runOutput(const std::vector<std::string>& argv) {
  auto c = Child::spawn(argv, false);
  if (!c) return std::nullopt;
  auto deadline = Clock::now() + kProbeTimeout;
  std::string out = c->readAll(deadline);
  if (c->wait(deadline) != 0) return std::nullopt;
  return out;
}

struct QmpResult {
  std::vector<QemuMachine> machines;
  bool kvm = false;
  std::optional<QemuVersion> version;
};

// Waits for the reply to the command sent last (skipping events).
std::optional<Json> qmpReply(Child& c, Clock::time_point deadline) {
  while (auto line = c.readLine(deadline)) {
    auto j = JsonReader(*line).parse();
    if (!j || j->type != Json::Type::Object) continue;
    if (j->get("event")) continue;
    if (j->get("return") || j->get("error")) return j;
  }
  return std::nullopt;
}

std::optional<QmpResult> probeQmp(const std::string& path, bool tryKvm) {
  std::vector<std::string> argv{path, "-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none"};
  if (tryKvm) {
    argv.insert(argv.end(), {"-accel", "kvm", "-accel", "tcg"});
  }
  argv.insert(argv.end(), {"-qmp", "stdio"});
  auto c = Child::spawn(argv, true);
  if (!c) return std::nullopt;
  auto deadline = Clock::now() + kProbeTimeout;
  QmpResult r;
  auto greeting = c->readLine(deadline);
  if (!greeting) return std::nullopt;
  if (auto g = JsonReader(*greeting).parse()) {
    const Json* v = g->get("QMP");
    v = v ? v->get("version") : nullptr;
    const Json* q = v ? v->get("qemu") : nullptr;
    if (q && q->get("major") && q->get("minor") && q->get("micro")) {
      QemuVersion qv;
      qv.version = static_cast<uint64_t>(q->get("major")->num) * 1000000 +
                   static_cast<uint64_t>(q->get("minor")->num) * 1000 + static_cast<uint64_t>(q->get("micro")->num);
      if (auto* p = v->get("package")) qv.package = p->str;
      r.version = qv;
    }
  }
  if (!c->write("{\"execute\":\"qmp_capabilities\"}\n") || !qmpReply(*c, deadline)) return std::nullopt;
  if (!c->write("{\"execute\":\"query-machines\"}\n")) return std::nullopt;
  auto machines = qmpReply(*c, deadline);
  if (!machines || !machines->get("return")) return std::nullopt;
  const Json* ret = machines->get("return");
  if (ret->type != Json::Type::Array) return std::nullopt;
  for (auto& m : ret->arr) {
    QemuMachine qm = machineFromJson(m);
    if (!qm.name.empty()) r.machines.push_back(std::move(qm));
  }
  if (c->write("{\"execute\":\"query-kvm\"}\n")) {
    if (auto k = qmpReply(*c, deadline); k && k->get("return")) {
      const Json* ret = k->get("return");
      r.kvm = ret->get("enabled") && ret->get("enabled")->b && ret->get("present") && ret->get("present")->b;
    }
  }
  c->write("{\"execute\":\"quit\"}\n");
  c->closeStdin();
  c->readAll(Clock::now() + std::chrono::seconds(2));
  c->wait(Clock::now() + std::chrono::seconds(2));
  return r;
}

struct CacheEntry {
  struct timespec mtime {};
  struct timespec ctime {};
  off_t size = 0;
  QemuBinaryInfo info;
};

std::mutex gCacheMu;
std::map<std::string, CacheEntry> gCache;  // guarded by gCacheMu

bool sameTime(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

std::string dirName(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? std::string(".") : p.substr(0, s);
}

bool isExecutable(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

std::optional<std::string> findBinary(const std::string& name, const std::string& preferDir) {
  if (isExecutable(preferDir + "/" + name)) return preferDir + "/" + name;
  const char* p = ::getenv("PATH");
  std::string_view sv = p ? p : "/usr/local/bin:/usr/bin:/bin";
  while (!sv.empty()) {
    auto c = sv.find(':');
    std::string dir(sv.substr(0, c));
    if (!dir.empty() && isExecutable(dir + "/" + name)) return dir + "/" + name;
    if (c == std::string_view::npos) break;
    sv.remove_prefix(c + 1);
  }
  return std::nullopt;
}

}  // namespace

// ---- parsers ----------------------------------------------------------------------

std::optional<QemuVersion> parseQemuVersion(std::string_view text) {
  auto p = text.find("version ");
  if (p == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(p + 8);
  unsigned parts[3] = {0, 0, 0};
  size_t i = 0;
  for (int k = 0; k < 3; ++k) {
    size_t start = i;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    if (i == start) return std::nullopt;
    parts[k] = static_cast<unsigned>(std::stoul(std::string(rest.substr(start, i - start))));
    if (k < 2) {
      if (i >= rest.size() || rest[i] != '.') {
        if (k == 1) break;  // "X.Y" means micro 0
        return std::nullopt;
      }
      ++i;
    }
  }
  QemuVersion v;
  v.version = parts[0] * 1000000ULL + parts[1] * 1000ULL + parts[2];
  auto line = rest.substr(i, rest.find('\n', i) == std::string_view::npos ? std::string_view::npos
                                                                            : rest.find('\n', i) - i);
  auto open = line.find('(');
  auto close = line.rfind(')');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open)
    v.package = std::string(line.substr(open + 1, close - open - 1));
  return v;
}

std::vector<QemuMachine> parseMachineHelp(std::string_view text) {
  std::vector<QemuMachine> out;
  std::vector<std::pair<std::string, std::string>> aliases;  // (alias, target)
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.empty() || line.rfind("Supported machines", 0) == 0 || std::isspace(static_cast<unsigned char>(line[0])))
      continue;
    size_t sp = 0;
    while (sp < line.size() && !std::isspace(static_cast<unsigned char>(line[sp]))) ++sp;
    std::string name(line.substr(0, sp));
    std::string_view desc = line.substr(sp);
    if (auto a = desc.find("(alias of "); a != std::string_view::npos) {
      auto e = desc.find(')', a);
      if (e != std::string_view::npos) aliases.push_back({name, std::string(desc.substr(a + 10, e - a - 10))});
      continue;
    }
    QemuMachine m;
    m.name = std::move(name);
    m.isDefault = desc.find("(default)") != std::string_view::npos;
    m.deprecated = desc.find("(deprecated)") != std::string_view::npos;
    out.push_back(std::move(m));
  }
  for (auto& [alias, target] : aliases)
    for (auto& m : out)
      if (m.name == target) m.alias = alias;
  return out;
}

std::optional<std::vector<QemuMachine>> parseQueryMachines(std::string_view json) {
  if (json.empty()) return std::nullopt;
  auto j = JsonReader(json).parse();
  if (!j) return std::nullopt;
  const Json* arr = &*j;
  if (j->type == Json::Type::Object) arr = j->get("return");
  if (!arr || arr->type != Json::Type::Array) return std::nullopt;
  std::vector<QemuMachine> out;
  for (auto& m : arr->arr) {
    if (m.type != Json::Type::Object) return std::nullopt;
    QemuMachine qm = machineFromJson(m);
    if (qm.name.empty()) return std::nullopt;
    out.push_back(std::move(qm));
  }
  return out;
}

std::vector<QemuMachine> orderMachines(std::vector<QemuMachine> machines) {
  machines.erase(std::remove_if(machines.begin(), machines.end(), [](auto& m) { return m.name == "none"; }),
                 machines.end());
  // virQEMUCapsSetDefaultMachine: only when the default is not first already.
  auto it = std::find_if(machines.begin(), machines.end(), [](auto& m) { return m.isDefault; });
  if (it != machines.end() && it != machines.begin()) std::rotate(machines.begin(), it, it + 1);
  return machines;
}

std::vector<conf::GuestMachine> machinesToCaps(const std::vector<QemuMachine>& ordered) {
  std::vector<conf::GuestMachine> out;
  for (auto& m : ordered) {
    conf::GuestMachine g;
    if (m.alias) {
      g.name = *m.alias;
      g.canonical = m.name;
    } else {
      g.name = m.name;
    }
    g.maxCpus = m.maxCpus;
    g.deprecated = m.deprecated;
    out.push_back(std::move(g));
  }
  // Every canonical name also gets its own entry, just before the alias.
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].canonical) continue;
    const std::string canon = *out[i].canonical;
    bool found = std::any_of(out.begin(), out.end(), [&](auto& g) { return g.name == canon; });
    if (found) continue;
    conf::GuestMachine g;
    g.name = canon;
    g.maxCpus = out[i].maxCpus;
    g.deprecated = out[i].deprecated;
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(i), std::move(g));
    ++i;
  }
  return out;
}

std::string archFromBinaryName(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  constexpr std::string_view prefix = "qemu-system-";
  if (base.substr(0, prefix.size()) != prefix) return "";
  std::string a(base.substr(prefix.size()));
  if (a == "i386") return "i686";
  if (a == "arm") return "armv7l";
  if (a == "or1k") return "or32";
  if (a == "sh4eb" || a == "sh4") return a;
  return a;
}

// ---- probing ------------------------------------------------------------------------

Result<QemuBinaryInfo> probeQemuBinary(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Error::systemError(ErrorDomain::Qemu, errno, "Cannot check QEMU binary " + path);
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0)
    return Error::systemError(ErrorDomain::Qemu, errno ? errno : EACCES, "QEMU binary " + path + " is not executable");
  {
    std::lock_guard lk(gCacheMu);
    auto it = gCache.find(path);
    if (it != gCache.end() && sameTime(it->second.mtime, st.st_mtim) && sameTime(it->second.ctime, st.st_ctim) &&
        it->second.size == st.st_size)
      return it->second.info;
  }

  QemuBinaryInfo info;
  info.path = path;
  info.arch = archFromBinaryName(path);
  if (info.arch.empty()) info.arch = "x86_64";

  auto verOut = runOutput({path, "--version"});
  if (verOut)
    if (auto v = parseQemuVersion(*verOut)) {
      info.version = v->version;
      info.package = v->package;
    }

  std::vector<QemuMachine> helpMachines;
  if (auto help = runOutput({path, "-machine", "help"})) helpMachines = parseMachineHelp(*help);

  auto qmp = probeQmp(path, host::kvmAvailable());
  std::vector<QemuMachine> machines;
  if (qmp && !qmp->machines.empty()) {
    machines = std::move(qmp->machines);
    info.fromQmp = true;
    info.kvm = qmp->kvm;
    if (!info.version && qmp->version) {
      info.version = qmp->version->version;
      info.package = qmp->version->package;
    }
    // QMP carries no alias for some old QEMUs; fill it from -machine help.
    for (auto& m : machines)
      if (!m.alias)
        for (auto& h : helpMachines)
          if (h.name == m.name && h.alias) m.alias = h.alias;
  } else {
    machines = std::move(helpMachines);
    info.kvm = host::kvmAvailable();
  }
  if (!info.version || machines.empty())
    return Error::internal(ErrorDomain::Qemu, "Failed to probe QEMU binary with QMP: " + path);

  info.qemuMachines = orderMachines(std::move(machines));
  info.machines = machinesToCaps(info.qemuMachines);
  for (auto& m : info.qemuMachines)
    if (m.isDefault) {
      info.defaultMachine = m.name;
      info.defaultMachineAlias = m.alias;
    }
  if (info.defaultMachine.empty() && !info.qemuMachines.empty()) info.defaultMachine = info.qemuMachines.front().name;

  std::lock_guard lk(gCacheMu);
  gCache[path] = CacheEntry{st.st_mtim, st.st_ctim, st.st_size, info};
  return info;
}

namespace {

conf::GuestCaps guestFor(const QemuBinaryInfo& info, const std::string& arch, const std::string& hostArch) {
  conf::GuestCaps g;
  g.arch = arch;
  g.wordsize = (arch == "i686" || arch == "armv7l" || arch == "ppc" || arch == "riscv32" || arch == "mips" ||
                arch == "mipsel" || arch == "sparc" || arch == "s390" || arch == "m68k")
                   ? 32
                   : 64;
  g.emulator = info.path;
  g.machines = info.machines;
  g.domains.push_back({"qemu", {}, {}});
  bool native = arch == hostArch || (hostArch == "x86_64" && arch == "i686");
  if (native && info.kvm && host::kvmAvailable()) g.domains.push_back({"kvm", {}, {}});
  g.features = conf::GuestCaps::qemuFeaturesFor(arch);
  return g;
}

conf::HostCaps hostCaps() {
  conf::HostCaps h;
  h.uuid = host::hostUuid();
  // libvirt probes the host CPU once per daemon start (CPUID decoding, a
  // throw-away KVM vCPU for the TSC rate); so do we.
  static const host::HostCpu cpu = host::readHostCpu();
  h.cpu.arch = cpu.arch;
  h.cpu.model = cpu.model;
  h.cpu.vendor = cpu.vendor;
  h.cpu.microcode = cpu.microcode;
  h.cpu.sigFamily = cpu.family;
  h.cpu.sigModel = cpu.modelNumber;
  h.cpu.sigStepping = cpu.stepping;
  h.cpu.tscFrequency = cpu.tscFrequency;
  h.cpu.tscScaling = cpu.tscScaling;
  h.cpu.sockets = cpu.sockets;
  h.cpu.dies = cpu.dies;
  h.cpu.cores = cpu.cores;
  h.cpu.threads = cpu.threads;
  h.cpu.maxPhysAddrBits = cpu.physAddrBits;
  h.cpu.features = cpu.features;
  h.cpu.pageSizesKiB = cpu.pageSizesKiB;
  h.powerManagement = host::powerManagementTargets();
  h.iommu = host::hasIommu();
  h.migrateTransports = {"tcp", "rdma"};
  std::vector<conf::NumaCellCaps> cells;
  for (auto& c : host::readNumaTopology()) {
    conf::NumaCellCaps cc;
    cc.id = c.id;
    cc.memoryKiB = c.memoryKiB;
    for (auto& p : c.pages) cc.pages.push_back({p.sizeKiB, p.count});
    cc.distances = c.distances;
    for (auto& cpu2 : c.cpus) cc.cpus.push_back({cpu2.id, cpu2.online, cpu2.socketId, cpu2.dieId, cpu2.coreId, cpu2.siblings});
    cells.push_back(std::move(cc));
  }
  h.cells = std::move(cells);
  for (auto& b : host::readCacheBanks()) h.cache.push_back({b.id, b.level, b.type, b.sizeBytes, b.cpus});
  // No security driver: libvirt with security_driver="none" still stacks DAC.
  // QEMU runs as root:root here, hence the +0:+0 labels.
  h.secModels.push_back({"none", "0", {}});
  h.secModels.push_back({"dac", "0", {{"kvm", "+0:+0"}, {"qemu", "+0:+0"}}});
  return h;
}

}  // namespace

Result<conf::Capabilities> buildCapabilities(const std::string& emulatorPath) {
  conf::Capabilities caps;
  caps.host = hostCaps();
  const std::string hostArch = caps.host.cpu.arch;

  std::string mainArch = archFromBinaryName(emulatorPath);
  if (mainArch.empty()) mainArch = hostArch;

  // libvirt walks its arch list in enum order: i686 comes before x86_64.
  std::vector<std::pair<std::string, std::string>> wanted;  // (arch, binary)
  if (mainArch == "x86_64") {
    if (auto i386 = findBinary("qemu-system-i386", dirName(emulatorPath)))
      wanted.push_back({"i686", *i386});
    else if (hostArch == "x86_64")
      wanted.push_back({"i686", emulatorPath});
  }
  wanted.push_back({mainArch, emulatorPath});

  for (auto& [arch, bin] : wanted) {
    struct stat st;
    if (::stat(bin.c_str(), &st) != 0) continue;  // no binary: no guest, as in libvirt
    auto info = probeQemuBinary(bin);
    if (!info) return info.error();
    caps.guests.push_back(guestFor(*info, arch, hostArch));
  }
  return caps;
}

Result<std::string> buildCapabilitiesXml(const std::string& emulatorPath) {
  auto caps = buildCapabilities(emulatorPath);
  if (!caps) return caps.error();
  return conf::formatCapabilities(*caps);
}

}  // namespace splitvirt::qemu
