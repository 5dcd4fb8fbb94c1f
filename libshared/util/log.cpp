#include "util/log.hpp"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <sstream>
#include <vector>

#include <syslog.h>
#include <unistd.h>

// journald through its native socket protocol would need libsystemd here; the
// daemon layer installs a sink for it instead (util stays dependency-free).
namespace splitvirt::log {

namespace {
struct Output {
  int level;
  enum Kind { Stderr, File, Journal } kind;
  FILE* file = nullptr;
};
std::mutex g_mutex;
std::vector<Output> g_outputs{{3, Output::Stderr}};
int g_minLevel = 3;
std::string g_ident = "splitvirt";
const char* levelName(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warning: return "warning";
    default: return "error";
  }
}
}  // namespace

void configure(int level, const std::string& outputs, bool journal, const std::string& ident) {
  std::lock_guard lk(g_mutex);
  g_ident = ident;
  g_outputs.clear();
  std::istringstream in(outputs);
  std::string tok;
  while (in >> tok) {
    auto c1 = tok.find(':');
    if (c1 == std::string::npos) continue;
    int lvl = std::atoi(tok.substr(0, c1).c_str());
    std::string rest = tok.substr(c1 + 1);
    if (rest == "stderr") {
      g_outputs.push_back({lvl, Output::Stderr});
    } else if (rest.rfind("file:", 0) == 0) {
      FILE* f = std::fopen(rest.substr(5).c_str(), "ae");
      if (f) g_outputs.push_back({lvl, Output::File, f});
    } else if (rest == "journald" || rest.rfind("syslog", 0) == 0) {
      g_outputs.push_back({lvl, Output::Journal});
    }
  }
  if (g_outputs.empty()) g_outputs.push_back({level, journal ? Output::Journal : Output::Stderr});
  g_minLevel = 4;
  for (auto& o : g_outputs) {
    if (o.level > level) o.level = std::max(o.level, level);
    if (o.level < g_minLevel) g_minLevel = o.level;
  }
  if (level < g_minLevel) g_minLevel = level;
  for (auto& o : g_outputs)
    if (o.kind == Output::Journal) openlog(g_ident.c_str(), LOG_PID, LOG_DAEMON);
}

bool enabled(Level l) { return static_cast<int>(l) >= g_minLevel; }

void write(Level l, const char* fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  std::lock_guard lk(g_mutex);
  for (auto& o : g_outputs) {
    if (static_cast<int>(l) < o.level) continue;
    if (o.kind == Output::Journal) {
      int pri = l == Level::Debug ? LOG_DEBUG : l == Level::Info ? LOG_INFO : l == Level::Warning ? LOG_WARNING : LOG_ERR;
      syslog(pri, "%s", msg);
      continue;
    }
    FILE* f = o.kind == Output::File ? o.file : stderr;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    std::fprintf(f, "%04d-%02d-%02d %02d:%02d:%02d.%03ld+0000: %d: %s : %s\n", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, getpid(), levelName(l), msg);
    std::fflush(f);
  }
}

}  // namespace splitvirt::log
