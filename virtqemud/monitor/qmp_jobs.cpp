#include "monitor/qmp_jobs.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <thread>

namespace splitvirt::qemu {

namespace json = boost::json;

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Qemu;

std::string devicesJson(const std::vector<std::string>& devices) {
  std::string out = "[";
  for (size_t i = 0; i < devices.size(); ++i) out += (i ? "," : "") + jsonString(devices[i]);
  return out + "]";
}

}  // namespace

Result<std::vector<QmpJobInfo>> parseQueryJobs(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::array* arr = ec ? nullptr : v.if_array();
  if (!arr) return Error::internal(kErr, "query-jobs reply data was missing 'return'");
  std::vector<QmpJobInfo> out;
  for (const auto& item : *arr) {
    const json::object* o = item.if_object();
    if (!o) continue;
    QmpJobInfo j;
    auto str = [&](const char* key) -> std::optional<std::string> {
      auto it = o->find(key);
      if (it == o->end() || !it->value().is_string()) return std::nullopt;
      return std::string(it->value().as_string());
    };
    auto id = str("id");
    auto status = str("status");
    if (!id || !status) return Error::internal(kErr, "query-jobs reply data was missing 'id' or 'status'");
    j.id = *id;
    j.status = *status;
    j.type = str("type").value_or("");
    j.error = str("error");
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::vector<QmpJobInfo>> queryJobs(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-jobs", "{}", d);
  if (!r) return r.error();
  return parseQueryJobs(*r);
}

Result<void> runJob(QmpClient& c, std::string_view cmd, const std::string& argsJson, const std::string& jobId,
                    QmpDeadline d, bool completeOnReady) {
  if (auto r = c.execute(cmd, argsJson, d); !r) return r.error();
  const auto until = std::chrono::steady_clock::now() + d;
  // Snapshot jobs of small guests finish within milliseconds (environment.md
  // 1): poll with a short, growing interval rather than wiring events here.
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    auto jobs = queryJobs(c, d);
    if (!jobs) return jobs.error();
    const QmpJobInfo* job = nullptr;
    for (auto& j : *jobs)
      if (j.id == jobId) job = &j;
    if (!job) return Error::internal(kErr, "job '" + jobId + "' of QEMU command '" + std::string(cmd) + "' vanished");
    if (completeOnReady && job->status == "ready") {
      completeOnReady = false;
      if (auto r = c.execute("job-complete", JsonArgs().str("id", jobId).json(), d); !r) return r.error();
    }
    if (job->status == "concluded") {
      auto err = job->error;
      (void)c.execute("job-dismiss", JsonArgs().str("id", jobId).json(), d);
      if (err) return Error::internal(kErr, "unable to execute QEMU command '" + std::string(cmd) + "': " + *err);
      return {};
    }
    if (std::chrono::steady_clock::now() > until) {
      (void)c.execute("job-cancel", JsonArgs().str("id", jobId).json(), d);
      return Error::make(ErrorCode::OperationTimeout, kErr, "operation timed out: %s", "operation timed out",
                         "QEMU job '" + jobId + "' did not finish");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

Result<void> snapshotSave(QmpClient& c, const std::string& jobId, const std::string& tag, const std::string& vmstateNode,
                          const std::vector<std::string>& devices, QmpDeadline d) {
  auto args = JsonArgs().str("job-id", jobId).str("tag", tag).str("vmstate", vmstateNode).raw("devices",
                                                                                               devicesJson(devices));
  return runJob(c, "snapshot-save", args.json(), jobId, d);
}

Result<void> snapshotLoad(QmpClient& c, const std::string& jobId, const std::string& tag, const std::string& vmstateNode,
                          const std::vector<std::string>& devices, QmpDeadline d) {
  auto args = JsonArgs().str("job-id", jobId).str("tag", tag).str("vmstate", vmstateNode).raw("devices",
                                                                                               devicesJson(devices));
  return runJob(c, "snapshot-load", args.json(), jobId, d);
}

Result<void> snapshotDelete(QmpClient& c, const std::string& jobId, const std::string& tag,
                            const std::vector<std::string>& devices, QmpDeadline d) {
  auto args = JsonArgs().str("job-id", jobId).str("tag", tag).raw("devices", devicesJson(devices));
  return runJob(c, "snapshot-delete", args.json(), jobId, d);
}

Result<std::vector<QmpNamedNode>> queryNamedBlockNodes(QmpClient& c, QmpDeadline d) {
  auto r = c.execute("query-named-block-nodes", JsonArgs().boolean("flat", true).json(), d);
  if (!r) return r.error();
  boost::system::error_code ec;
  json::value v = json::parse(*r, ec);
  const json::array* arr = ec ? nullptr : v.if_array();
  if (!arr) return Error::internal(kErr, "query-named-block-nodes reply data was missing 'return'");
  std::vector<QmpNamedNode> out;
  for (const auto& item : *arr) {
    const json::object* o = item.if_object();
    if (!o) continue;
    QmpNamedNode n;
    if (auto* x = o->if_contains("node-name"); x && x->is_string()) n.nodeName = std::string(x->as_string());
    if (auto* x = o->if_contains("drv"); x && x->is_string()) n.drv = std::string(x->as_string());
    if (auto* x = o->if_contains("file"); x && x->is_string()) n.file = std::string(x->as_string());
    if (auto* img = o->if_contains("image"); img && img->is_object()) {
      const json::object& io = img->get_object();
      if (auto* x = io.if_contains("virtual-size"); x && x->is_number()) n.virtualSize = x->to_number<uint64_t>();
      if (auto* x = io.if_contains("actual-size"); x && x->is_number()) n.actualSize = x->to_number<uint64_t>();
    }
    out.push_back(std::move(n));
  }
  return out;
}

void dropImageNodes(QmpClient& c, const std::string& file) {
  auto nodes = queryNamedBlockNodes(c);
  if (!nodes) return;
  for (bool protocol : {false, true})
    for (auto& n : *nodes)
      if (n.file == file && !n.nodeName.empty() && ((n.drv == "file" || n.drv == "host_device") == protocol))
        (void)blockdevDel(c, n.nodeName);
}

Result<void> flushImage(QmpClient& c, const std::string& file) {
  auto node = formatNodeOf(c, file);
  if (!node) return node.error();
  auto r = c.execute("human-monitor-command",
                     JsonArgs().str("command-line", "qemu-io " + *node + " \"flush\"").json());
  if (!r) return r.error();
  // HMP answers with text; qemu-io's own errors go to QEMU's stderr.
  if (r->find("Error") != std::string::npos)
    return Error::operationFailed(ErrorDomain::Qemu, "cannot flush image '" + file + "': " + *r);
  return {};
}

Result<std::string> formatNodeOf(QmpClient& c, const std::string& file) {
  auto nodes = queryNamedBlockNodes(c);
  if (!nodes) return nodes.error();
  for (auto& n : *nodes)
    if (n.file == file && n.drv != "file" && n.drv != "host_device" && !n.nodeName.empty()) return n.nodeName;
  return Error::make(ErrorCode::InvalidArg, ErrorDomain::Storage, "invalid argument: %s", "invalid argument",
                     "could not find base disk source in disk source chain");
}

void settleBlockJobs(QmpClient& c, QmpDeadline d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    auto jobs = queryJobs(c);
    if (!jobs || jobs->empty()) return;
    bool busy = false;
    for (auto& j : *jobs) {
      if (j.status == "ready")
        (void)c.execute("job-complete", JsonArgs().str("id", j.id).json());
      else if (j.status == "concluded")
        (void)c.execute("job-dismiss", JsonArgs().str("id", j.id).json());
      else if (j.status == "pending")
        (void)c.execute("job-finalize", JsonArgs().str("id", j.id).json());
      busy = true;
    }
    if (!busy) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<void> blockCommit(QmpClient& c, const std::string& jobId, const std::string& deviceNode,
                         const std::string& topNode, const std::string& baseNode, bool active, QmpDeadline d) {
  auto args = JsonArgs().str("job-id", jobId).str("device", deviceNode).str("base-node", baseNode);
  if (!active) args.str("top-node", topNode);
  args.boolean("auto-dismiss", false);
  return runJob(c, "block-commit", args.json(), jobId, d, active);
}

}  // namespace splitvirt::qemu
