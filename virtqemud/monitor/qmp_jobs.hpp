// QMP jobs (query-jobs / job-dismiss) and the commands that run as jobs:
// the internal snapshot trio snapshot-save / -load / -delete (QEMU >= 6.0).
// libvirt 9.0 still drives internal snapshots through HMP savevm/loadvm/delvm;
// the job API does the same work, reports errors as data and never blocks
// the monitor.
#pragma once

#include "monitor/qmp_commands.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::qemu {

struct QmpJobInfo {
  std::string id;
  std::string type;    // "snapshot-save", "commit", "stream", ...
  std::string status;  // "created", "running", "ready", "pending", "concluded", ...
  std::optional<std::string> error;
};

Result<std::vector<QmpJobInfo>> parseQueryJobs(std::string_view json);
Result<std::vector<QmpJobInfo>> queryJobs(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);

// Runs `cmd` (which starts job `jobId`), waits until the job concludes,
// dismisses it and returns its error, if any, as libvirt words a failed
// QEMU command ("internal error: unable to execute QEMU command '<cmd>': <error>").
// `completeOnReady`: an active block-commit reaches "ready" and waits for
// job-complete, which pivots the device to the base.
Result<void> runJob(QmpClient& c, std::string_view cmd, const std::string& argsJson, const std::string& jobId,
                    QmpDeadline d = kQmpDefaultDeadline, bool completeOnReady = false);

// One node of query-named-block-nodes (flat): the format node of an image
// has drv "qcow2"/"raw", its protocol node drv "file".
struct QmpNamedNode {
  std::string nodeName, drv, file;
  uint64_t virtualSize = 0;  // image.virtual-size
  uint64_t actualSize = 0;   // image.actual-size (host blocks in use; 0 when unknown)
};
Result<std::vector<QmpNamedNode>> queryNamedBlockNodes(QmpClient& c, QmpDeadline d = kQmpDefaultDeadline);
// After a merge took `file` out of a chain: its format and protocol nodes
// (blockdev-added ones stay until deleted, and would keep the image open
// and block the next job: "Need a root block node").
void dropImageNodes(QmpClient& c, const std::string& file);
// Writes QEMU's cached metadata of the image `file` (qcow2 L2/refcount
// tables, through fdatasync) to disk. A block job that moved data into an
// image leaves its new mappings in that cache: the image the data came
// from may go only after this (HMP qemu-io, QMP has no flush command).
Result<void> flushImage(QmpClient& c, const std::string& file);
// The format node whose image is `file`.
Result<std::string> formatNodeOf(QmpClient& c, const std::string& file);

// Brings every job left by a previous daemon to its end: a ready active
// commit is completed (pivot), running ones are waited for, concluded ones
// dismissed.
void settleBlockJobs(QmpClient& c, QmpDeadline d = std::chrono::minutes(30));

// block-commit of `topNode` into `baseNode` on the chain of `deviceNode`
// (the active format node). Active commit when top is the active layer:
// waits for ready, then job-complete pivots the device onto the base.
Result<void> blockCommit(QmpClient& c, const std::string& jobId, const std::string& deviceNode,
                         const std::string& topNode, const std::string& baseNode, bool active,
                         QmpDeadline d = std::chrono::minutes(30));

// `devices` are block node names (the format nodes of the disks);
// `vmstateNode` the one that stores the VM state.
Result<void> snapshotSave(QmpClient& c, const std::string& jobId, const std::string& tag, const std::string& vmstateNode,
                          const std::vector<std::string>& devices, QmpDeadline d = kQmpDefaultDeadline);
Result<void> snapshotLoad(QmpClient& c, const std::string& jobId, const std::string& tag, const std::string& vmstateNode,
                          const std::vector<std::string>& devices, QmpDeadline d = kQmpDefaultDeadline);
Result<void> snapshotDelete(QmpClient& c, const std::string& jobId, const std::string& tag,
                            const std::vector<std::string>& devices, QmpDeadline d = kQmpDefaultDeadline);

}  // namespace splitvirt::qemu
