// The QEMU command line builder: a pure translator from a (post-parsed)
// domain definition plus per-start options to QEMU 7.2's argv, modelled on
// what libvirt 9.0 generates (qemuBuildCommandLine) for the same definition.
//
// Option order and spelling follow libvirt 9.0 as observed with
// `virsh domxml-to-native qemu-argv` and /proc/PID/cmdline of a reference
// libvirtd on this host: JSON -device/-blockdev/-netdev/-audiodev, device ids
// are libvirt's aliases (usb, ide0-0-0, virtio-disk0, net0, serial0, input0,
// video0, balloon0, ...), block nodes libvirt-N-storage / libvirt-N-format.
//
// Differences from libvirt's argv, on purpose:
//   * no `-object secret,id=masterKey0` (no secrets are passed on argv);
//   * the QMP monitor is a socket *path* (opts.monitorSocketPath), not an fd;
//   * `-pidfile` is passed when opts.pidFilePath is set;
//   * no environment (LC_ALL, HOME, XDG_*): the caller sets it.
// Not done here (the caller's job at start, as in libvirt): the VNC autoport
// choice (pass a def whose port is set, or opts.vncPortBase is used), creating
// tap devices, balloon target/stats period, lifecycle `set-action`, `cont`.
#pragma once

#include "conf/domain_def.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace splitvirt::qemu {

struct CommandOptions {
  std::string emulator;            // empty: def.emulator, else /usr/bin/qemu-system-x86_64
  std::string monitorSocketPath;   // QMP unix socket; QEMU is the server (required)
  std::string pidFilePath;         // -pidfile when not empty
  std::string logFilePath;         // not passed to QEMU: the caller redirects stdout/stderr there
  std::string domainDir;           // per-domain runtime dir: default VNC socket <domainDir>/vnc.sock
  bool startPaused = true;         // -S: libvirt always starts paused and issues `cont` itself
  bool kvmAvailable = false;       // <domain type='kvm'> needs it; type 'qemu' => -accel tcg
  // `-incoming defer`: QEMU waits for migrate-incoming (restoring a saved
  // memory state) instead of booting.
  bool incomingDefer = false;
  // One tap fd per interface of type bridge, network or ethernet, in
  // <interface> order (passed as fd=N; the caller creates the taps).
  std::vector<int> tapFds;
  int vncPortBase = 5900;          // VNC port used when the def has none (autoport)
  // Seconds since the epoch for <clock offset='variable'>; 0 = now.
  int64_t clockNow = 0;
};

// argv[0] is the emulator. Refuses what it cannot express with libvirt-style
// errors in the QEMU error domain (CONFIG_UNSUPPORTED, INTERNAL_ERROR).
Result<std::vector<std::string>> buildCommandLine(const conf::DomainDef& def, const CommandOptions& opts);

// What hotplugging one disk takes: the blockdev-add argument objects, in
// order (storage, then format), and the device_add object.
struct DiskArgs {
  std::vector<std::string> blockdevs;
  std::string device;
  std::string alias;
  std::string nodeBase;  // "libvirt-N": nodes are <base>-storage and <base>-format
};
// `def` already holds the disk at `diskIndex`; `node` names its block nodes.
Result<DiskArgs> buildDiskHotplug(const conf::DomainDef& def, size_t diskIndex, const std::string& node);

// The device_add object for the interface at `netIndex` of `def` (its
// netdev is "host<alias>").
Result<std::string> buildNetHotplugDevice(const conf::DomainDef& def, size_t netIndex);

// For golden tests and logs: libvirt's virCommandToString layout, one option
// and its value per line joined with " \\\n", shell-quoted where needed. No
// trailing newline.
std::string formatCommandLine(const std::vector<std::string>& argv);

}  // namespace splitvirt::qemu
