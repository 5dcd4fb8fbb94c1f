// A guest's memory state to and from a file, as QEMU migration streams over
// a descriptor passed with getfd: QEMU runs with -sandbox spawn=deny, so no
// exec: migration, and it never opens the file itself. The file holds the
// raw stream (no libvirt save-image header).
#pragma once

#include "monitor/qmp_commands.hpp"

#include <string>
#include <string_view>

namespace splitvirt::qemu {

// query-migrate's status ("setup", "active", "completed", "failed", ...)
// and error-desc, from its return object; on the destination it reports
// the incoming side.
struct QmpMigrationInfo {
  std::string status;
  std::string error;
};
Result<QmpMigrationInfo> parseQueryMigrate(std::string_view json);

// Creates `path` (must not exist) and migrates the guest into it; returns
// when the stream is complete. QEMU stops the vCPUs at the end.
Result<void> migrateToFile(QmpClient& c, const std::string& path, QmpDeadline d);

// Loads `path` into a QEMU started with `-incoming defer`; returns when the
// state is in. QEMU stays paused when it was started with -S.
Result<void> migrateFromFile(QmpClient& c, const std::string& path, QmpDeadline d);

// For a QEMU found in the middle of an incoming migration (after a daemon
// restart): waits until it is over. Ok when there was none.
Result<void> waitIncomingMigration(QmpClient& c, QmpDeadline d);

}  // namespace splitvirt::qemu
