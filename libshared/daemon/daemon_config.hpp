// The daemon config file (virtqemud.conf etc.), libvirt's `key = value`
// syntax: strings in double quotes, integers, and [ "lists" ].
#pragma once

#include "util/error.hpp"

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace splitvirt::daemon {

using ConfValue = std::variant<long long, std::string, std::vector<std::string>>;

class ConfFile {
 public:
  static Result<ConfFile> parse(std::string_view text, const std::string& filename);
  static Result<ConfFile> load(const std::string& path);  // missing file = empty config

  std::optional<std::string> getString(const std::string& key) const;
  std::optional<long long> getInt(const std::string& key) const;
  const std::map<std::string, ConfValue>& entries() const { return entries_; }

 private:
  std::map<std::string, ConfValue> entries_;
};

struct DaemonConfig {
  std::string unixSockDir;  // empty = <root>/run/libvirt
  unsigned rwPerms = 0700;
  unsigned roPerms = 0777;
  unsigned adminPerms = 0700;
  std::string unixSockGroup;
  unsigned maxClients = 5000;
  unsigned maxClientRequests = 5;
  int keepaliveInterval = 5;
  unsigned keepaliveCount = 5;
  int logLevel = 3;
  std::string logOutputs;
  unsigned maxWorkers = 20;
};

// Reads the keys that matter now from a parsed file; bad values are errors
// naming the key, as libvirt reports them.
Result<DaemonConfig> daemonConfigFrom(const ConfFile& f, const std::string& filename);

}  // namespace splitvirt::daemon
