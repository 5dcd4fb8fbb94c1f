#include "monitor/qmp_stats.hpp"

#include "monitor/qmp_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace splitvirt::qemu {

namespace json = boost::json;

namespace {

constexpr ErrorDomain kDom = ErrorDomain::Qemu;

int64_t num(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_number()) return 0;
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return v->to_number<int64_t>();
}

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Result<std::vector<QmpBlockStats>> parseQueryBlockstats(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::array* arr = ec ? nullptr : v.if_array();
  if (!arr) return Error::internal(kDom, "query-blockstats reply was missing return data");
  std::vector<QmpBlockStats> out;
  for (const auto& item : *arr) {
    const json::object* o = item.if_object();
    if (!o) continue;
    QmpBlockStats b;
    b.qdev = str(*o, "qdev");
    b.nodeName = str(*o, "node-name");
    if (auto* st = o->if_contains("stats"); st && st->is_object()) {
      const json::object& s = st->get_object();
      b.rdBytes = num(s, "rd_bytes");
      b.wrBytes = num(s, "wr_bytes");
      b.rdOps = num(s, "rd_operations");
      b.wrOps = num(s, "wr_operations");
      b.flushOps = num(s, "flush_operations");
      b.rdTimeNs = num(s, "rd_total_time_ns");
      b.wrTimeNs = num(s, "wr_total_time_ns");
      b.flushTimeNs = num(s, "flush_total_time_ns");
    }
    if (auto* p = o->if_contains("parent"); p && p->is_object())
      if (auto* ps = p->get_object().if_contains("stats"); ps && ps->is_object())
        b.wrHighestOffset = static_cast<uint64_t>(num(ps->get_object(), "wr_highest_offset"));
    out.push_back(std::move(b));
  }
  return out;
}

Result<std::vector<QmpBlockStats>> queryBlockstats(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-blockstats", "{}", d);
  if (!r) return r.error();
  return parseQueryBlockstats(*r);
}

std::optional<uint64_t> queryBalloonActual(QmpClient& c) {
  auto r = c.execute("query-balloon", "{}");
  if (!r) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*r, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (!o || !o->if_contains("actual")) return std::nullopt;
  return static_cast<uint64_t>(num(*o, "actual"));
}

std::vector<GuestMemStat> parseBalloonGuestStats(std::string_view text) {
  std::vector<GuestMemStat> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (!o) return out;
  const json::object* s = nullptr;
  if (auto* st = o->if_contains("stats"); st && st->is_object()) s = &st->get_object();
  // libvirt's order (qemuMonitorJSONGetMemoryStats); byte counts become KiB.
  struct Field {
    const char* name;
    int tag;
    bool bytes;
  };
  static constexpr Field kFields[] = {
      {"stat-swap-in", 0, true},       {"stat-swap-out", 1, true},        {"stat-major-faults", 2, false},
      {"stat-minor-faults", 3, false}, {"stat-free-memory", 4, true},     {"stat-total-memory", 5, true},
      {"stat-available-memory", 8, true},
  };
  auto add = [&](const json::object& from, const char* name, int tag, bool bytes) {
    const json::value* x = from.if_contains(name);
    if (!x || !x->is_number()) return;
    if (x->is_int64() && x->get_int64() < 0) return;
    if (x->is_uint64() && x->get_uint64() == UINT64_MAX) return;
    uint64_t val = x->to_number<uint64_t>();
    out.push_back({tag, bytes ? val / 1024 : val});
  };
  if (s)
    for (const auto& f : kFields) add(*s, f.name, f.tag, f.bytes);
  add(*o, "last-update", 9, false);
  if (s) {
    add(*s, "stat-disk-caches", 10, true);
    add(*s, "stat-htlb-pgalloc", 11, false);
    add(*s, "stat-htlb-pgfail", 12, false);
  }
  return out;
}

std::vector<GuestMemStat> queryBalloonGuestStats(QmpClient& c, const std::string& balloonPath) {
  auto r = c.execute("qom-get", JsonArgs().str("path", balloonPath).str("property", "guest-stats").json());
  if (!r) return {};
  return parseBalloonGuestStats(*r);
}

Result<QmpDirtyRate> queryDirtyRate(QmpClient& c) {
  auto r = c.execute("query-dirty-rate", "{}");
  if (!r) return r.error();
  boost::system::error_code ec;
  json::value v = json::parse(*r, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (!o) return Error::internal(kDom, "query-dirty-rate reply was missing return data");
  QmpDirtyRate d;
  std::string status = str(*o, "status");
  d.status = status == "measuring" ? 1 : status == "measured" ? 2 : 0;
  d.startTime = num(*o, "start-time");
  d.calcTime = static_cast<int>(num(*o, "calc-time"));
  d.mode = str(*o, "mode");
  if (d.status == 2 && o->if_contains("dirty-rate")) d.mbPerSecond = num(*o, "dirty-rate");
  return d;
}

}  // namespace splitvirt::qemu
