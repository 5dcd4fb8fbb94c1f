// Internal to virtqemud/process/command_builder*.cpp: the shared state of one
// build and the small helpers the device families use.
#pragma once

#include "process/command_builder.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::qemu::cmd {

// An ordered JSON object, written compactly the way libvirt's
// virJSONValueToString does (no spaces, '/' not escaped).
class JsonProps {
 public:
  JsonProps& str(std::string_view key, std::string_view value);
  JsonProps& num(std::string_view key, int64_t value);
  JsonProps& boolean(std::string_view key, bool value);
  JsonProps& object(std::string_view key, const JsonProps& value);
  std::string text() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

std::string jsonQuote(std::string_view s);
// QEMU's legacy option syntax: a ',' inside a value is written ",,".
std::string escapeComma(std::string_view s);

// A device's QEMU id: the user's alias ("ua-...") or libvirt's own.
inline const std::string& aliasOr(const conf::DeviceInfo& info, const std::string& fallback) {
  return info.alias.empty() ? fallback : info.alias;
}

inline Error cfgErr(std::string detail) { return Error::configUnsupported(ErrorDomain::Qemu, std::move(detail)); }
inline Error intErr(std::string detail) { return Error::internal(ErrorDomain::Qemu, std::move(detail)); }

class Builder {
 public:
  Builder(const conf::DomainDef& def, const CommandOptions& opts) : def_(def), opts_(opts) {}

  const conf::DomainDef& def() const { return def_; }
  const CommandOptions& opts() const { return opts_; }
  std::vector<std::string>& argv() { return argv_; }

  void add(std::string opt, std::string value) {
    argv_.push_back(std::move(opt));
    argv_.push_back(std::move(value));
  }
  void add(std::string opt) { argv_.push_back(std::move(opt)); }
  void addDevice(const JsonProps& p) { add("-device", p.text()); }

  bool isQ35() const;
  // "bus"/"multifunction"/"addr" for a PCI device; nothing when the model
  // left the device without an address (QEMU then picks a slot on bus 0).
  Result<void> addPciAddress(JsonProps& p, const conf::DeviceInfo& info) const;
  // The alias (QEMU id) of the controller of `type` with `index`.
  std::string controllerAlias(conf::ControllerType type, int index) const;
  const conf::ControllerDef* findController(conf::ControllerType type, int index) const;

  // command_builder_devices.cpp
  Result<DiskArgs> diskArgs(size_t i, const std::string& node, unsigned bootIndex) const;
  Result<std::string> netDeviceArgs(size_t i, unsigned bootIndex) const;
  Result<void> buildControllers();
  Result<void> buildDisks();
  Result<void> buildNets();
  Result<void> buildSerials();
  Result<void> buildConsoles();
  // command_builder_display.cpp
  Result<void> buildInputs();
  Result<void> buildAudio();
  Result<void> buildGraphics();
  Result<void> buildVideos();
  Result<void> buildMemballoon();

 private:
  const conf::DomainDef& def_;
  const CommandOptions& opts_;
  std::vector<std::string> argv_;
};

}  // namespace splitvirt::qemu::cmd
