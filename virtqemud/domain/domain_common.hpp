// What the domain procedure files share: libvirt's state/reason/event
// numbers and handle helpers.
#pragma once

#include "objects/domain_list.hpp"
#include "protocol/remote_types.hpp"
#include "util/error.hpp"

#include <functional>
#include <utility>

namespace splitvirt::qemu {

inline constexpr ErrorDomain kErr = ErrorDomain::Qemu;

// virDomainState reasons (protocol.md 4.2).
inline constexpr int kRunningBooted = 1, kRunningRestored = 3, kRunningFromSnapshot = 4, kRunningUnpaused = 5,
                     kRunningSaveCanceled = 7;
inline constexpr int kPausedUnknown = 0, kPausedUser = 1, kPausedMigration = 2, kPausedSave = 3,
                     kPausedFromSnapshot = 7;
inline constexpr int kShutoffUnknown = 0, kShutoffShutdown = 1, kShutoffDestroyed = 2, kShutoffCrashed = 3,
                     kShutoffSaved = 5, kShutoffFailed = 6, kShutoffFromSnapshot = 7;

// Lifecycle events and details (protocol.md 3.7).
inline constexpr int kEvDefined = 0, kEvUndefined = 1, kEvStarted = 2, kEvSuspended = 3, kEvResumed = 4,
                     kEvStopped = 5, kEvShutdown = 6;
inline constexpr int kDetailAdded = 0, kDetailUpdated = 1, kDetailRemoved = 0, kDetailBooted = 0,
                     kDetailPaused = 0, kDetailUnpaused = 0, kDetailStoppedShutdown = 0, kDetailDestroyed = 1,
                     kDetailFailed = 5, kDetailShutdownGuest = 1, kDetailShutdownHost = 2;
inline constexpr int kDetailStartedFromSnapshot = 3, kDetailSuspendedFromSnapshot = 5, kDetailResumedFromSnapshot = 2,
                     kDetailStoppedFromSnapshot = 6, kDetailDefinedFromSnapshot = 3;
inline constexpr int kDetailStartedRestored = 2, kDetailSuspendedRestored = 4, kDetailStoppedSaved = 4;

// startDomain flags: VIR_DOMAIN_START_PAUSED, and ours for a start that
// restores a snapshot (libvirt's FROM_SNAPSHOT reasons and event details,
// no RESUMED event for the first `cont`).
inline constexpr unsigned kStartPaused = 1;
inline constexpr unsigned kStartFromSnapshot = 1u << 16;
// Leaves QEMU paused with no state change or event recorded (state stays
// paused/starting-up): a snapshot revert loads the state first, then
// finishes with finishSnapshotStart().
inline constexpr unsigned kStartNoResume = 1u << 17;
// QEMU starts with `-incoming defer`, waiting for a memory state to load.
inline constexpr unsigned kStartIncoming = 1u << 18;

// A replacement definition for a saved guest (virsh save --xml, restore
// --xml, save-image-define) must describe the same guest (save_restore.cpp).
Result<void> checkSameGuest(const conf::DomainDef& src, const conf::DomainDef& dst);
// libvirt's error for a QEMU that exited while starting or loading a state.
Error qemuClosedMonitor(const std::string& logPath);

// virDomainObjUpdateModificationImpact: which definitions a call with
// VIR_DOMAIN_AFFECT_LIVE (1) / AFFECT_CONFIG (2) flags changes -> {live, config};
// neither flag means the live one of a running guest, else the persistent one.
inline Result<std::pair<bool, bool>> affectedDefs(const objects::DomainView& v, uint32_t flags) {
  bool live = flags & 1u, config = flags & 2u;
  if (!live && !config) (v.active() ? live : config) = true;
  if (live && !v.active()) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
  if (config && !v.persistent)
    return Error::operationInvalid(ErrorDomain::Domain, "transient domains do not have any persistent config");
  return std::make_pair(live, config);
}

// virConnectListAllDomains' filter flags (qemu_domain_procs.cpp);
// managedSave / hasSnapshots are asked only when the filter needs them.
bool matchesListFilter(const objects::DomainView& v, uint32_t flags, const std::function<bool()>& managedSave,
                       const std::function<bool()>& hasSnapshots);

inline protocol::NonnullDomain handleOf(const objects::DomainView& v) {
  return {v.def->name, v.def->uuid, v.id};
}

// libvirt's lookup failure for an API called on a domain handle.
inline Error noDomainByHandle(const protocol::NonnullDomain& d) {
  return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(d.uuid) + "' (" + d.name + ")");
}

inline Result<objects::DomainView> fromHandle(const objects::DomainList& list, const protocol::NonnullDomain& d) {
  auto v = list.findByUuid(d.uuid);
  if (!v) return noDomainByHandle(d);
  return *v;
}

}  // namespace splitvirt::qemu
