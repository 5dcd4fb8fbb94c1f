#include "monitor/qmp_migration.hpp"

#include "monitor/qmp_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <thread>

namespace splitvirt::qemu {

namespace json = boost::json;

namespace {

constexpr ErrorDomain kDom = ErrorDomain::Qemu;
constexpr auto kPoll = std::chrono::milliseconds(5);

Error timedOut(const char* what) {
  return Error::make(ErrorCode::OperationTimeout, kDom, "operation timed out: %s", "operation timed out", what);
}

// Polls query-migrate until the outgoing migration ends.
Result<void> waitOutgoing(QmpClient& c, QmpDeadline d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    auto r = c.execute("query-migrate", "{}");
    if (!r) return r.error();
    auto info = parseQueryMigrate(*r);
    if (!info) return info.error();
    if (info->status == "completed") return {};
    if (info->status == "failed" || info->status == "cancelled" || info->status.empty())
      return Error::operationFailed(
          kDom, "failed to save the memory state: " + (info->error.empty() ? info->status : info->error));
    std::this_thread::sleep_for(kPoll);
  }
  return timedOut("saving the memory state did not finish");
}

// The incoming side leaves the "inmigrate" run state when the stream is in
// (a stream it cannot load makes QEMU exit, which fails the next command).
// query-migrate has no status before migrate-incoming was given.
Result<void> waitIncoming(QmpClient& c, QmpDeadline d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    auto st = queryStatus(c);
    if (!st) return st.error();
    auto r = c.execute("query-migrate", "{}");
    if (!r) return r.error();
    auto info = parseQueryMigrate(*r);
    if (!info) return info.error();
    if (info->status == "failed" || info->status == "cancelled")
      return Error::operationFailed(
          kDom, "failed to load the memory state: " + (info->error.empty() ? info->status : info->error));
    if (st->status != "inmigrate") return {};
    if (info->status.empty())
      return Error::operationFailed(kDom, "the memory state was never given to QEMU");
    std::this_thread::sleep_for(kPoll);
  }
  return timedOut("loading the memory state did not finish");
}

}  // namespace

Result<QmpMigrationInfo> parseQueryMigrate(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::object* ret = ec ? nullptr : v.if_object();
  if (!ret) return Error::internal(kDom, "query-migrate reply was missing return data");
  QmpMigrationInfo info;
  const json::object& o = *ret;
  if (auto* s = o.if_contains("status"); s && s->is_string()) info.status = std::string(s->get_string());
  if (auto* e = o.if_contains("error-desc"); e && e->is_string()) info.error = std::string(e->get_string());
  return info;
}

Result<void> migrateToFd(QmpClient& c, int fd, QmpDeadline d) {
  SV_TRY_VOID(c.executeWithFd("getfd", JsonArgs().str("fdname", "snapshot-memory").json(), fd));
  SV_TRY_VOID(c.execute("migrate", JsonArgs().str("uri", "fd:snapshot-memory").json()));
  auto r = waitOutgoing(c, d);
  if (!r) (void)c.execute("migrate_cancel", "{}");
  return r;
}

Result<void> migrateFromFd(QmpClient& c, int fd, QmpDeadline d) {
  SV_TRY_VOID(c.executeWithFd("getfd", JsonArgs().str("fdname", "snapshot-memory").json(), fd));
  SV_TRY_VOID(c.execute("migrate-incoming", JsonArgs().str("uri", "fd:snapshot-memory").json()));
  return waitIncoming(c, d);
}

Result<void> waitIncomingMigration(QmpClient& c, QmpDeadline d) {
  auto st = queryStatus(c);
  if (!st) return st.error();
  if (st->status != "inmigrate") return {};
  return waitIncoming(c, d);
}

}  // namespace splitvirt::qemu
