// QEMU binary probing (version, machine types) and the capabilities document
// virtqemud answers virConnectGetCapabilities with.
#pragma once

#include "conf/capabilities.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::qemu {

// One machine type as QEMU describes it (QMP query-machines).
struct QemuMachine {
  std::string name;
  std::optional<std::string> alias;
  bool isDefault = false;
  int maxCpus = 0;          // "cpu-max"; 0 when unknown (-machine help only)
  bool deprecated = false;
  bool hotplugCpus = false;
  std::string defaultCpuType;
  std::string defaultRamId;
};

struct QemuBinaryInfo {
  std::string path;
  uint64_t version = 0;                   // major*1e6 + minor*1e3 + micro, e.g. 7002022
  std::string package;                    // "Debian 1:7.2+dfsg-7+deb12u18+b3"
  std::string arch;                       // libvirt guest arch: "x86_64", "i686", ...
  std::vector<QemuMachine> qemuMachines;  // libvirt's order: default first, "none" dropped
  std::vector<conf::GuestMachine> machines;  // capabilities form (aliases expanded)
  std::string defaultMachine;             // canonical name, "pc-i440fx-7.2"
  std::optional<std::string> defaultMachineAlias;  // "pc"
  bool kvm = false;                       // QEMU could enable KVM on this host
  bool fromQmp = false;                   // false: machines from -machine help only
};

// Probes `path --version`, `path -machine help`, and a short-lived QMP
// session (query-machines, query-kvm) for maxCpus/deprecation; cached
// in-process by path + mtime/ctime/size.  Errors as libvirt reports them
// ("Cannot check QEMU binary %s: No such file or directory", ...).
Result<QemuBinaryInfo> probeQemuBinary(const std::string& path);

// Builds the full virConnectGetCapabilities document for this host.
Result<std::string> buildCapabilitiesXml(const std::string& emulatorPath = "/usr/bin/qemu-system-x86_64");

// The same, as a value (host part + guests), for callers that need fields.
Result<conf::Capabilities> buildCapabilities(const std::string& emulatorPath = "/usr/bin/qemu-system-x86_64");

// ---- pure parsers (exposed for tests) -----------------------------------------

struct QemuVersion {
  uint64_t version = 0;
  std::string package;
};
// "QEMU emulator version 7.2.22 (Debian ...)" -> 7002022.
std::optional<QemuVersion> parseQemuVersion(std::string_view text);

// `-machine help` output -> machines in printed order, aliases folded into
// their target, "(default)" and "(deprecated)" markers honoured.
std::vector<QemuMachine> parseMachineHelp(std::string_view text);

// The "return" array of query-machines (a whole QMP reply line or just the
// array) -> machines in QEMU's order.
std::optional<std::vector<QemuMachine>> parseQueryMachines(std::string_view json);

// virQEMUCapsProbeQMPMachineTypes + virQEMUCapsGetMachineTypesCaps: drop
// "none", move the default to the front, then emit alias entries with
// canonical='...' preceded by their canonical entry.
std::vector<QemuMachine> orderMachines(std::vector<QemuMachine> machines);
std::vector<conf::GuestMachine> machinesToCaps(const std::vector<QemuMachine>& ordered);

// Guest arch of a qemu-system-* binary name ("qemu-system-i386" -> "i686").
std::string archFromBinaryName(std::string_view path);

}  // namespace splitvirt::qemu
