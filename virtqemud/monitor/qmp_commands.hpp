// Typed QMP commands on top of QmpClient, and helpers to build argument JSON
// safely.  Plain structs; the JSON parsing stays in qmp_commands.cpp.
#pragma once

#include "monitor/qmp_client.hpp"
#include "util/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::qemu {

// ---- argument building -------------------------------------------------------

// `s` as a quoted JSON string, escaped per RFC 8259 ("a\"b" -> "\"a\\\"b\"").
std::string jsonString(std::string_view s);

// A flat JSON object built member by member, e.g.
//   JsonArgs().str("node-name", node).boolean("read-only", true).num("size", n).raw("file", nested).json()
class JsonArgs {
 public:
  JsonArgs& str(std::string_view key, std::string_view value);
  JsonArgs& num(std::string_view key, int64_t value);
  JsonArgs& boolean(std::string_view key, bool value);
  JsonArgs& raw(std::string_view key, std::string_view json);  // `json` must already be valid JSON
  std::string json() const { return body_ + "}"; }

 private:
  JsonArgs& key(std::string_view k);
  std::string body_ = "{";
};

// ---- results -----------------------------------------------------------------

struct QmpStatus {
  bool running = false;
  std::string status;  // "prelaunch", "running", "paused", "shutdown", ...
};

struct QmpBlockInfo {
  std::string device;    // legacy drive name; "" with -blockdev
  std::string qdev;      // the frontend's id or QOM path
  std::string nodeName;  // inserted.node-name ("" when no medium)
  std::string file;      // inserted.file
  std::string format;    // inserted.drv
  bool readOnly = false;  // inserted.ro
  std::string ioStatus;   // "ok", "failed", "nospace" (only with a stopping error policy)
  // inserted.image's backing-image chain below the top: (filename, format).
  std::vector<std::pair<std::string, std::string>> backingChain;
};

struct QmpChardevInfo {
  std::string label;
  std::string filename;  // "pty:/dev/pts/3", "unix:/path,server=on", ...
};
// "/dev/pts/N" for a pty chardev, nullopt otherwise.
std::optional<std::string> ptyPath(const QmpChardevInfo& c);

struct QmpCpuInfo {
  int cpuIndex = 0;
  int64_t threadId = 0;  // host TID of the vCPU thread
};

struct QmpKvmInfo {
  bool enabled = false;
  bool present = false;
};

// ---- commands (each waits up to `deadline` for the reply) --------------------

using QmpDeadline = std::chrono::milliseconds;
inline constexpr QmpDeadline kQmpDefaultDeadline{30000};

Result<QmpStatus> queryStatus(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
Result<void> cont(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
Result<void> stop(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
Result<void> systemPowerdown(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
Result<void> systemReset(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
// Success also when QEMU closes the monitor before it answers.
Result<void> quit(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);

Result<std::vector<QmpBlockInfo>> queryBlock(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
Result<void> blockdevAdd(QmpClient& c, const std::string& argsJson, QmpDeadline d = kQmpDefaultDeadline);
Result<void> blockdevDel(QmpClient& c, std::string_view nodeName, QmpDeadline d = kQmpDefaultDeadline);
Result<void> deviceAdd(QmpClient& c, const std::string& argsJson, QmpDeadline d = kQmpDefaultDeadline);
Result<void> deviceDel(QmpClient& c, std::string_view id, QmpDeadline d = kQmpDefaultDeadline);
Result<void> netdevAdd(QmpClient& c, const std::string& argsJson, QmpDeadline d = kQmpDefaultDeadline);
Result<void> netdevDel(QmpClient& c, std::string_view id, QmpDeadline d = kQmpDefaultDeadline);
Result<std::vector<QmpChardevInfo>> queryChardev(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
Result<std::vector<QmpCpuInfo>> queryCpusFast(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
Result<QmpKvmInfo> queryKvm(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);

// ---- pure reply parsers (the "return" member's JSON text; exposed for tests) --

Result<QmpStatus> parseQueryStatus(std::string_view json);
Result<std::vector<QmpBlockInfo>> parseQueryBlock(std::string_view json);
Result<std::vector<QmpChardevInfo>> parseQueryChardev(std::string_view json);
Result<std::vector<QmpCpuInfo>> parseQueryCpusFast(std::string_view json);
Result<QmpKvmInfo> parseQueryKvm(std::string_view json);

}  // namespace splitvirt::qemu
