#include "process/proc_stats.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace splitvirt::qemu {

namespace {

uint64_t ticksToNs(unsigned long long ticks) {
  static const long hz = ::sysconf(_SC_CLK_TCK);
  return ticks * (1000000000ull / static_cast<unsigned long long>(hz > 0 ? hz : 100));
}

std::string procPath(pid_t pid, pid_t tid) {
  std::string p = "/proc/" + std::to_string(pid);
  if (tid > 0) p += "/task/" + std::to_string(tid);
  return p;
}

std::optional<int64_t> readCounter(const std::string& path) {
  std::ifstream f(path);
  long long v = 0;
  if (!(f >> v)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<ProcessStat> readProcessStat(pid_t pid, pid_t tid) {
  std::ifstream f(procPath(pid, tid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  auto rp = line.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream in(line.substr(rp + 1));
  std::vector<std::string> fields{"", "", ""};  // so that fields[n] is field n of proc(5)
  for (std::string tok; in >> tok;) fields.push_back(tok);
  if (fields.size() <= 39) return std::nullopt;
  ProcessStat s;
  try {
    s.userNs = ticksToNs(std::stoull(fields[14]));
    s.systemNs = ticksToNs(std::stoull(fields[15]));
    s.vsizeBytes = std::stoull(fields[23]);
    s.rssPages = std::stoull(fields[24]);
    s.lastCpu = std::stoi(fields[39]);
  } catch (...) {
    return std::nullopt;
  }
  return s;
}

std::optional<uint64_t> readThreadWaitNs(pid_t pid, pid_t tid) {
  std::ifstream f(procPath(pid, tid) + "/schedstat");
  unsigned long long run = 0, wait = 0;
  if (!(f >> run >> wait)) return std::nullopt;
  return wait;
}

uint64_t processCpuTimeNs(pid_t pid) {
  auto s = readProcessStat(pid);
  return s ? s->totalNs() : 0;
}

std::optional<NetStats> readTapStats(const std::string& dev) {
  if (dev.empty() || dev.find('/') != std::string::npos) return std::nullopt;
  const std::string base = "/sys/class/net/" + dev + "/statistics/";
  auto rxB = readCounter(base + "rx_bytes");
  if (!rxB) return std::nullopt;
  NetStats host;
  host.rxBytes = *rxB;
  host.rxPackets = readCounter(base + "rx_packets").value_or(0);
  host.rxErrs = readCounter(base + "rx_errors").value_or(0);
  host.rxDrop = readCounter(base + "rx_dropped").value_or(0);
  host.txBytes = readCounter(base + "tx_bytes").value_or(0);
  host.txPackets = readCounter(base + "tx_packets").value_or(0);
  host.txErrs = readCounter(base + "tx_errors").value_or(0);
  host.txDrop = readCounter(base + "tx_dropped").value_or(0);
  NetStats guest;
  guest.rxBytes = host.txBytes;
  guest.rxPackets = host.txPackets;
  guest.rxErrs = host.txErrs;
  guest.rxDrop = host.txDrop;
  guest.txBytes = host.rxBytes;
  guest.txPackets = host.rxPackets;
  guest.txErrs = host.rxErrs;
  guest.txDrop = host.rxDrop;
  return guest;
}

}  // namespace splitvirt::qemu
