// Golden-file comparison for unit tests (architecture.md 2.9).
//
// compareToGolden(actual, path) checks `actual` against the file at `path`
// byte for byte. With SPLITVIRT_REGENERATE=1 in the environment it writes
// `actual` to `path` instead (and the check passes): review the diff of the
// regenerated files very carefully before committing them.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::test {

inline std::optional<std::string> readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool regenerateGoldens() {
  const char* v = std::getenv("SPLITVIRT_REGENERATE");
  return v && std::string_view(v) == "1";
}

// Files in `dir` whose names end in `suffix`, sorted by name.
inline std::vector<std::filesystem::path> goldenFiles(const std::filesystem::path& dir, std::string_view suffix) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > suffix.size() && name.ends_with(suffix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The first differing line, for a readable failure message.
inline std::string firstDifference(const std::string& expected, const std::string& actual) {
  std::istringstream e(expected), a(actual);
  std::string le, la;
  for (int line = 1;; line++) {
    bool he = static_cast<bool>(std::getline(e, le));
    bool ha = static_cast<bool>(std::getline(a, la));
    if (!he && !ha) return "(difference in trailing newline)";
    if (!he || !ha || le != la) {
      return "line " + std::to_string(line) + ":\n  expected: " + (he ? le : "<end of file>") +
             "\n  actual:   " + (ha ? la : "<end of file>");
    }
  }
}

inline void compareToGolden(const std::string& actual, const std::filesystem::path& path) {
  if (regenerateGoldens()) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    REQUIRE_MESSAGE(out.good(), "cannot write golden file " << path.string());
    MESSAGE("regenerated " << path.string());
    return;
  }
  auto expected = readFile(path);
  REQUIRE_MESSAGE(expected.has_value(), "missing golden file " << path.string()
                                                               << " (run with SPLITVIRT_REGENERATE=1 to create it)");
  CHECK_MESSAGE(actual == *expected, "golden mismatch for " << path.string() << ", "
                                                            << firstDifference(*expected, actual));
}

}  // namespace splitvirt::test
