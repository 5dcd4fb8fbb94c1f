// Running a helper program (qemu-img, mkfs, ...) to completion, with its
// output captured and a time limit. Call from blocking-pool threads only.
#pragma once

#include "util/error.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace splitvirt {

struct CommandResult {
  int exitStatus = -1;  // -1: killed by a signal
  std::string out, err;
};

Result<CommandResult> runCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout = std::chrono::minutes(10),
                                 ErrorDomain d = ErrorDomain::None);

// runCommand, and a non-zero exit becomes libvirt's INTERNAL_ERROR
// "Child process (cmd) unexpected exit status N: <stderr>".
Result<CommandResult> runCommandChecked(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout = std::chrono::minutes(10),
                                        ErrorDomain d = ErrorDomain::None);

}  // namespace splitvirt
