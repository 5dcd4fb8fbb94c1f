// Durable file updates: temp file, fsync, rename, fsync of the directory.
#pragma once

#include "util/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::fs {

// Suffix of in-progress temp files; loaders delete leftovers with it.
inline constexpr std::string_view kTempSuffix = ".new";

Result<void> atomicWriteFile(const std::string& path, std::string_view content, unsigned mode = 0600,
                             ErrorDomain d = ErrorDomain::None);
// Same, for several files of one directory: one directory fsync for all.
Result<void> atomicWriteFiles(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files,
                              unsigned mode = 0600, ErrorDomain d = ErrorDomain::None);
Result<void> removeFileDurably(const std::string& path, ErrorDomain d = ErrorDomain::None);
Result<void> makeDirs(const std::string& path, unsigned mode = 0755, ErrorDomain d = ErrorDomain::None);
Result<std::string> readFile(const std::string& path, ErrorDomain d = ErrorDomain::None);
bool exists(const std::string& path);
Result<void> fsyncDir(const std::string& dir, ErrorDomain d = ErrorDomain::None);

}  // namespace splitvirt::fs
