// The domain snapshot XML object model (libvirt 9.0's snapshot_conf.c,
// schema domainsnapshot.rng): a plain value type parsed from and formatted
// to the XML `virsh snapshot-create` / `snapshot-dumpxml` exchange and the
// metadata files libvirt keeps in <snapshotDir>/<vm>/<snap>.xml.
//
// Three steps (architecture.md 2.7): parseSnapshotDef (structure and
// libvirt's parse-time rules, flag-dependent), the driver-side checks
// (validateSnapshotRedefine, alignSnapshotDisks; the tree-level ones are in
// objects/snapshot_tree.hpp), then formatSnapshotDef.
//
// Our extension, in libvirt's own metadata style (libvirt >= 9.9 has it,
// protocol.md 7.3): <revertDisks>, a sibling of <disks> with the same <disk>
// syntax, holding the overlays created by reverting to a snapshot that has
// children. It is read only with kSnapshotParseRedefine (internal metadata
// and --redefine, never from a plain create) and written only in the
// internal (metadata) format. <snapshotDeleteInProgress/> inside a <disk>
// is read under the same flag and printed whenever set, as libvirt does.
//
// Not modelled (dropped like unknown elements): <cookie> (the QEMU save
// cookie: CPU model of a running snapshot), <seclabel>/<auth>/<encryption>
// inside disk sources, fdgroup, network source extras other than hosts.
// The embedded <domain> is parsed with parseDomainDef, which also runs
// domain validation (libvirt uses SKIP_VALIDATE there).
#pragma once

#include "conf/domain_def.hpp"
#include "conf/uuid.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::conf {

// VIR_FROM_DOMAIN_SNAPSHOT: the error domain of every snapshot_conf error.
inline constexpr ErrorDomain kFromDomainSnapshot = static_cast<ErrorDomain>(35);
inline constexpr std::string_view kDomainSnapshotSchemaPath = "/usr/share/libvirt/schemas/domainsnapshot.rng";

// virDomainSnapshotState: virDomainState plus disk-snapshot.
enum class SnapshotState : uint8_t {
  NoState, Running, Blocked, Paused, Shutdown, Shutoff, Crashed, PmSuspended, DiskSnapshot
};
std::string_view snapshotStateName(SnapshotState s);  // "running", "disk-snapshot", ...

// virDomainSnapshotLocation ("default" is never printed).
enum class SnapshotLocation : uint8_t { Default, No, Internal, External, Manual };
std::string_view snapshotLocationName(SnapshotLocation l);  // "no", "internal", ...

// virStorageType names of DiskType ("file", "block", "network", ...).
std::string_view storageTypeName(DiskType t);

struct SnapshotNetHost {
  std::string name;
  unsigned port = 0;           // 0: not printed
  std::string transport;       // "" (tcp, not printed), "unix", "rdma"
  std::optional<std::string> socket;
  bool operator==(const SnapshotNetHost&) const = default;
};

// One <disk> of <disks> / <revertDisks>: virDomainSnapshotDiskDef with the
// virStorageSource parts a snapshot target uses.
struct SnapshotDiskDef {
  std::string name;  // target dev (alignSnapshotDisks turns a source path into it)
  SnapshotLocation snapshot = SnapshotLocation::Default;
  bool deleteInProgress = false;  // <snapshotDeleteInProgress/>
  DiskType type = DiskType::File;  // file, block or network (volume/dir refused)
  std::optional<std::string> format;  // <driver type='qcow2'/>
  uint64_t metadataCacheMaxSize = 0;  // <driver><metadata_cache><max_size>, bytes; 0: none
  std::optional<std::string> path;    // file= / dev= / network name=
  std::optional<std::string> protocol;  // network: nbd, rbd, gluster, ...
  std::vector<SnapshotNetHost> hosts;
  bool operator==(const SnapshotDiskDef&) const = default;
};

struct SnapshotDef {
  std::string name;
  std::optional<std::string> description;
  SnapshotState state = SnapshotState::NoState;
  std::optional<std::string> parentName;  // <parent><name>
  long long creationTime = 0;
  SnapshotLocation memory = SnapshotLocation::Default;
  std::optional<std::string> memoryFile;  // external memory state
  std::vector<SnapshotDiskDef> disks;
  std::vector<SnapshotDiskDef> revertDisks;  // our extension, see above
  // The domain at snapshot time (post-parse defaults applied), and for a
  // snapshot of a running VM whose persistent config differed, that config.
  // A redefined snapshot of libvirt < 0.9.5 may have neither.
  std::shared_ptr<const DomainDef> dom;
  std::shared_ptr<const DomainDef> inactiveDom;

  // virDomainSnapshotDefIsExternal: external memory or any external disk.
  bool isExternal() const;
};

// virDomainSnapshotParseFlags
inline constexpr unsigned kSnapshotParseRedefine = 1u << 0;  // creationTime/state/parent/<domain> read, name required
inline constexpr unsigned kSnapshotParseInternal = 1u << 1;  // our own metadata file: <active> required
inline constexpr unsigned kSnapshotParseOffline = 1u << 2;   // VM inactive or disk-only: no memory state
inline constexpr unsigned kSnapshotParseValidate = 1u << 3;  // VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE: domainsnapshot.rng

struct SnapshotParseOptions {
  unsigned flags = 0;
  // The creation time a new (not redefined) snapshot gets, and the name
  // when it has none (libvirt's moment post-parse). Unset: the clock.
  std::optional<long long> now;
};

struct ParsedSnapshot {
  SnapshotDef def;
  bool current = false;  // <active>1</active>, with kSnapshotParseInternal
};

// virDomainSnapshotDefParseString: errors carry libvirt's code and text in
// VIR_FROM_DOMAIN_SNAPSHOT, VIR_FROM_XML for attribute helpers, and the
// domain parser's own errors for the embedded <domain>.
Result<ParsedSnapshot> parseSnapshotDef(std::string_view xml, const SnapshotParseOptions& opts);

// virDomainSnapshotFormatFlags
inline constexpr unsigned kSnapshotFormatSecure = 1u << 0;    // passwords in the embedded domain
inline constexpr unsigned kSnapshotFormatInternal = 1u << 1;  // metadata file: <active>, <revertDisks>
inline constexpr unsigned kSnapshotFormatCurrent = 1u << 2;   // with internal: <active>1</active>

// Public VIR_DOMAIN_SNAPSHOT_XML_SECURE (virDomainSnapshotGetXMLDesc flags).
inline constexpr unsigned kSnapshotXmlSecure = 1u << 0;
// virDomainSnapshotFormatConvertXMLFlags: public flags -> format flags.
unsigned snapshotFormatFlagsFromXmlFlags(unsigned xmlFlags);

// virDomainSnapshotDefFormat. `vmUuid` fills <domain><uuid> when the
// snapshot has no embedded domain (libvirt passes the VM's uuid).
std::string formatSnapshotDef(const SnapshotDef& def, unsigned flags, const Uuid* vmUuid = nullptr);

// virDomainSnapshotRedefineValidate (without the ABI-stability comparison
// of the two embedded domains). `existing` is the snapshot of the same name
// being redefined, if any; `createFlags` the public create flags
// (VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY = 1 << 4 is the one looked at).
Result<void> validateSnapshotRedefine(const SnapshotDef& def, const Uuid& vmUuid, const SnapshotDef* existing,
                                      unsigned createFlags);

// virDomainSnapshotAlignDisks: one entry per disk of the domain (def.dom,
// else `existingDomain`), in the domain's order; requested disks checked
// (unknown, given twice, file without external mode, uniform internal
// mode), names turned into targets, missing ones defaulted (empty drives
// and disks the domain marks snapshot='no' -> no, else `defaultLocation`),
// then default external file names generated (libvirt's rule: current
// image with its last ".suffix" dropped, plus ".<snapshot name>"; the image
// must be a regular file).
// `forceDefaultLocation` (libvirt >= 9.9, used by external revert) gives
// every defaulted disk that is not empty or marked 'no' `defaultLocation`.
Result<void> alignSnapshotDisks(SnapshotDef& def, const DomainDef* existingDomain, SnapshotLocation defaultLocation,
                                bool uniformInternal, bool forceDefaultLocation = false);

// The <domain> libvirt records in a new snapshot: the VM definition formatted
// "migratable" (qemuDomainDefFormatLive: the default USB controller and
// pci-root dropped) and parsed again, so implicit controllers come back in
// post-parse order (on i440fx: ide, then usb, then pci-root). Pass the
// inactive definition of an inactive VM, the live one of a running VM.
Result<std::shared_ptr<const DomainDef>> snapshotDomainFromVm(const DomainDef& vm);

// The snapshot mode a domain disk asks for. DomainDef does not keep the
// <disk snapshot=...> attribute yet, so this is libvirt's post-parse
// default: readonly and vhost-user disks 'no', others default.
SnapshotLocation domainDiskSnapshotLocation(const DiskDef& disk);

// libvirt's default external file name for `image` and snapshot `snapName`.
std::string defaultExternalSnapshotPath(std::string_view image, std::string_view snapName);

}  // namespace splitvirt::conf
