// Typed QMP commands: argument JSON out, plain structs in.  Parsing is
// exception-free (architecture.md 2.2): missing or mistyped members become
// INTERNAL_ERROR in the QEMU domain, worded like libvirt's qemu_monitor_json.c.
#include "monitor/qmp_commands.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <limits>

namespace splitvirt::qemu {

namespace json = boost::json;

// ---- argument building -------------------------------------------------------

std::string jsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

JsonArgs& JsonArgs::key(std::string_view k) {
  if (body_.size() > 1) body_ += ',';
  body_ += jsonString(k);
  body_ += ':';
  return *this;
}
JsonArgs& JsonArgs::str(std::string_view k, std::string_view value) {
  key(k).body_ += jsonString(value);
  return *this;
}
JsonArgs& JsonArgs::num(std::string_view k, int64_t value) {
  key(k).body_ += std::to_string(value);
  return *this;
}
JsonArgs& JsonArgs::boolean(std::string_view k, bool value) {
  key(k).body_ += value ? "true" : "false";
  return *this;
}
JsonArgs& JsonArgs::raw(std::string_view k, std::string_view json) {
  key(k).body_ += json;
  return *this;
}

// ---- parsing helpers ---------------------------------------------------------

namespace {

Error malformed(std::string_view cmd, std::string_view what) {
  return Error::internal(ErrorDomain::Qemu, std::string(cmd) + " reply was missing " + std::string(what));
}

Result<json::value> parseReturn(std::string_view cmd, std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Error::internal(ErrorDomain::Qemu, "cannot parse " + std::string(cmd) + " reply: " + ec.message());
  return v;
}

std::string strMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return {};
  return std::string(v->get_string());
}

std::optional<int64_t> intMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}

std::optional<bool> boolMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_bool()) return std::nullopt;
  return v->get_bool();
}

Result<void> noReturn(QmpClient& c, std::string_view cmd, std::string_view args, QmpDeadline d) {
  auto r = c.execute(cmd, args, d);
  if (!r) return r.error();
  return {};
}

}  // namespace

// ---- pure parsers -----------------------------------------------------------------

Result<QmpStatus> parseQueryStatus(std::string_view text) {
  auto v = parseReturn("query-status", text);
  if (!v) return v.error();
  const json::object* o = v->if_object();
  if (!o) return malformed("query-status", "return data");
  auto running = boolMember(*o, "running");
  if (!running) return malformed("query-status", "running state");
  QmpStatus s;
  s.running = *running;
  s.status = strMember(*o, "status");
  if (s.status.empty()) return malformed("query-status", "status");
  return s;
}

Result<std::vector<QmpBlockInfo>> parseQueryBlock(std::string_view text) {
  auto v = parseReturn("query-block", text);
  if (!v) return v.error();
  const json::array* a = v->if_array();
  if (!a) return malformed("query-block", "return data");
  std::vector<QmpBlockInfo> out;
  for (const json::value& e : *a) {
    const json::object* o = e.if_object();
    if (!o) return malformed("query-block", "device entry");
    QmpBlockInfo b;
    b.device = strMember(*o, "device");
    b.qdev = strMember(*o, "qdev");
    b.ioStatus = strMember(*o, "io-status");
    if (const json::value* ins = o->if_contains("inserted"); ins && ins->is_object()) {
      const json::object& io = ins->get_object();
      b.nodeName = strMember(io, "node-name");
      b.file = strMember(io, "file");
      b.format = strMember(io, "drv");
      b.readOnly = boolMember(io, "ro").value_or(false);
      const json::value* img = io.if_contains("image");
      for (img = img && img->is_object() ? img->get_object().if_contains("backing-image") : nullptr;
           img && img->is_object(); img = img->get_object().if_contains("backing-image"))
        b.backingChain.emplace_back(strMember(img->get_object(), "filename"), strMember(img->get_object(), "format"));
    }
    out.push_back(std::move(b));
  }
  return out;
}

Result<std::vector<QmpChardevInfo>> parseQueryChardev(std::string_view text) {
  auto v = parseReturn("query-chardev", text);
  if (!v) return v.error();
  const json::array* a = v->if_array();
  if (!a) return malformed("query-chardev", "return data");
  std::vector<QmpChardevInfo> out;
  for (const json::value& e : *a) {
    const json::object* o = e.if_object();
    if (!o) return malformed("query-chardev", "chardev entry");
    QmpChardevInfo c{strMember(*o, "label"), strMember(*o, "filename")};
    if (c.label.empty()) return malformed("query-chardev", "chardev label");
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<std::string> ptyPath(const QmpChardevInfo& c) {
  constexpr std::string_view kPrefix = "pty:";
  if (!c.filename.starts_with(kPrefix) || c.filename.size() == kPrefix.size()) return std::nullopt;
  return c.filename.substr(kPrefix.size());
}

Result<std::vector<QmpCpuInfo>> parseQueryCpusFast(std::string_view text) {
  auto v = parseReturn("query-cpus-fast", text);
  if (!v) return v.error();
  const json::array* a = v->if_array();
  if (!a) return malformed("query-cpus-fast", "return data");
  std::vector<QmpCpuInfo> out;
  for (const json::value& e : *a) {
    const json::object* o = e.if_object();
    if (!o) return malformed("query-cpus-fast", "cpu entry");
    auto idx = intMember(*o, "cpu-index");
    auto tid = intMember(*o, "thread-id");
    if (!idx || !tid) return malformed("query-cpus-fast", "cpu-index or thread-id");
    out.push_back(QmpCpuInfo{static_cast<int>(*idx), *tid});
  }
  return out;
}

Result<QmpKvmInfo> parseQueryKvm(std::string_view text) {
  auto v = parseReturn("query-kvm", text);
  if (!v) return v.error();
  const json::object* o = v->if_object();
  if (!o) return malformed("query-kvm", "return data");
  auto enabled = boolMember(*o, "enabled");
  auto present = boolMember(*o, "present");
  if (!enabled || !present) return malformed("query-kvm", "enabled or present");
  return QmpKvmInfo{*enabled, *present};
}

// ---- commands ------------------------------------------------------------------

Result<QmpStatus> queryStatus(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-status", "{}", d);
  if (!r) return r.error();
  return parseQueryStatus(*r);
}

Result<void> cont(QmpClient& c, QmpDeadline d) { return noReturn(c, "cont", "{}", d); }
Result<void> stop(QmpClient& c, QmpDeadline d) { return noReturn(c, "stop", "{}", d); }
Result<void> systemPowerdown(QmpClient& c, QmpDeadline d) { return noReturn(c, "system_powerdown", "{}", d); }
Result<void> systemReset(QmpClient& c, QmpDeadline d) { return noReturn(c, "system_reset", "{}", d); }

Result<void> quit(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("quit", "{}", d);
  if (!r && c.alive()) return r.error();
  return {};
}

Result<std::vector<QmpBlockInfo>> queryBlock(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-block", "{}", d);
  if (!r) return r.error();
  return parseQueryBlock(*r);
}

Result<void> blockdevAdd(QmpClient& c, const std::string& argsJson, QmpDeadline d) {
  return noReturn(c, "blockdev-add", argsJson, d);
}
Result<void> blockdevDel(QmpClient& c, std::string_view nodeName, QmpDeadline d) {
  return noReturn(c, "blockdev-del", JsonArgs().str("node-name", nodeName).json(), d);
}
Result<void> deviceAdd(QmpClient& c, const std::string& argsJson, QmpDeadline d) {
  return noReturn(c, "device_add", argsJson, d);
}
Result<void> deviceDel(QmpClient& c, std::string_view id, QmpDeadline d) {
  return noReturn(c, "device_del", JsonArgs().str("id", id).json(), d);
}
Result<void> netdevAdd(QmpClient& c, const std::string& argsJson, QmpDeadline d) {
  return noReturn(c, "netdev_add", argsJson, d);
}
Result<void> netdevDel(QmpClient& c, std::string_view id, QmpDeadline d) {
  return noReturn(c, "netdev_del", JsonArgs().str("id", id).json(), d);
}

Result<std::vector<QmpChardevInfo>> queryChardev(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-chardev", "{}", d);
  if (!r) return r.error();
  return parseQueryChardev(*r);
}

Result<std::vector<QmpCpuInfo>> queryCpusFast(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-cpus-fast", "{}", d);
  if (!r) return r.error();
  return parseQueryCpusFast(*r);
}

Result<QmpKvmInfo> queryKvm(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-kvm", "{}", d);
  if (!r) return r.error();
  return parseQueryKvm(*r);
}

}  // namespace splitvirt::qemu
