// The virConnectGetCapabilities document: plain values + one formatter that
// reproduces libvirt 9.0's virCapabilitiesFormatXML byte for byte.
//
// Known differences from the reference libvirtd 9.0.  On the dev VM (AMD
// EPYC, 2 vCPUs, 1 NUMA node, no SMBIOS, /dev/kvm, qemu-system-i386 and
// -x86_64 7.2) virtqemud's document is byte-identical to the reference's
// except for the host UUID.  Remaining differences:
//  * <host><uuid>: with no readable SMBIOS product_uuid, libvirt and we both
//    make a random v4 UUID per daemon start; the values never match.
//    (host_uuid_source = "machine-id" / host_uuid from libvirtd.conf: not read.)
//  * <host><cpu>: decoded with libvirt's own cpu_map files and x86Decode
//    rules, but only from the CPUID leaves the map refers to; a CPU whose
//    decoding depends on other leaves, on hypervisor leaves or on MSRs other
//    than IA32_ARCH_CAPABILITIES could come out differently.  Without
//    /usr/share/libvirt/cpu_map only <vendor> (from CPUID) is known, no
//    <model>/<feature> (libvirt would fail to report a host CPU at all).
//  * <power_management>: logind is asked through `busctl` (libvirt: D-Bus),
//    then pm-is-supported.
//  * <secmodel>: always none + dac with +0:+0 labels (what libvirt prints
//    with security_driver="none" and QEMU running as root); qemu.conf
//    user/group, AppArmor and SELinux are not reflected.
//  * Not produced: <cache> <control>/<monitor> and <memory_bandwidth>
//    (resctrl), NUMA <interconnects> (HMAT), <netprefix>, guest <loader>.
//  * Guests: only i686 (qemu-system-i386, else the x86_64 binary) and the
//    given emulator's arch are probed, not every qemu-system-* in PATH.
//  * <cache> banks whose sysfs "id" file is missing are skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace splitvirt::conf {

struct GuestMachine {
  std::string name;
  std::optional<std::string> canonical;
  int maxCpus = 0;  // 0: not printed
  bool deprecated = false;
};

// A <features> child: <name default='on' toggle='yes'/>; unset parts are not printed.
struct GuestFeature {
  std::string name;
  std::optional<bool> defaultOn;
  std::optional<bool> toggle;
};

struct GuestDomain {
  std::string type;                        // "qemu", "kvm"
  std::optional<std::string> emulator;     // only when it differs from the arch's
  std::vector<GuestMachine> machines;      // likewise
};

struct GuestCaps {
  std::string osType = "hvm";
  std::string arch;
  int wordsize = 64;
  std::string emulator;
  std::vector<GuestMachine> machines;
  std::vector<GuestDomain> domains;        // printed in order
  std::vector<GuestFeature> features;      // printed in order

  // The libvirt 9.0 feature set for a QEMU guest of `arch` (x86: pae/nonpae
  // for i686, acpi, apic, cpuselection, deviceboot, disksnapshot).
  static std::vector<GuestFeature> qemuFeaturesFor(const std::string& arch);
};

struct HostCpuCaps {
  std::string arch;
  std::string model;                       // "" -> no <model>
  std::string vendor;                      // "" -> no <vendor>
  unsigned microcode = 0;                  // 0 -> not printed
  unsigned sigFamily = 0, sigModel = 0, sigStepping = 0;  // family 0 -> no <signature>
  uint64_t tscFrequency = 0;               // 0 -> no <counter>
  std::optional<bool> tscScaling;
  int sockets = 0, dies = 0, cores = 0, threads = 0;  // any 0 -> no <topology>
  int maxPhysAddrBits = -1;                // <0 -> no <maxphysaddr>
  std::vector<std::string> features;
  std::vector<unsigned> pageSizesKiB;
};

struct NumaCpuCaps {
  unsigned id = 0;
  bool hasTopology = true;                 // false: only id (offline CPU)
  int socketId = 0, dieId = 0, coreId = 0;
  std::string siblings;
};

struct NumaCellCaps {
  int id = 0;
  uint64_t memoryKiB = 0;                  // 0 -> no <memory>
  std::vector<std::pair<unsigned, uint64_t>> pages;   // (size KiB, count)
  std::vector<std::pair<int, int>> distances;         // (sibling id, value)
  std::vector<NumaCpuCaps> cpus;
};

struct CacheBankCaps {
  unsigned id = 0, level = 0;
  std::string type;                        // both/data/code
  uint64_t sizeBytes = 0;
  std::string cpus;
};

struct SecModelCaps {
  std::string model;                       // "none", "dac", "apparmor", ...
  std::string doi = "0";
  std::vector<std::pair<std::string, std::string>> baseLabels;  // (virt type, label)
};

struct HostCaps {
  std::string uuid;
  HostCpuCaps cpu;
  std::vector<std::string> powerManagement;   // suspend_mem/suspend_disk/suspend_hybrid
  bool iommu = false;
  bool offlineMigrate = true;
  bool liveMigrate = true;
  std::vector<std::string> migrateTransports;
  std::optional<std::vector<NumaCellCaps>> cells;
  std::vector<CacheBankCaps> cache;
  std::vector<SecModelCaps> secModels;
};

struct Capabilities {
  HostCaps host;
  std::vector<GuestCaps> guests;
};

// virCapabilitiesFormatXML.
std::string formatCapabilities(const Capabilities& caps);

// libvirt's virFormatIntPretty: the largest binary unit dividing `bytes`.
std::pair<uint64_t, const char*> formatIntPretty(uint64_t bytes);

}  // namespace splitvirt::conf
