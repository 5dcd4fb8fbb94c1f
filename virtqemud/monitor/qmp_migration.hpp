// A guest's memory state to and from a file, as QEMU migration streams over
// a descriptor passed with getfd: QEMU runs with -sandbox spawn=deny, so no
// exec: migration, and it never opens the file itself (the file's layout
// around the stream is snapshot/save_image's business).
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

// Migrates the guest into `fd` (taken over; QEMU writes from its current
// offset); returns when the stream is complete. QEMU stops the vCPUs at
// the end.
Result<void> migrateToFd(QmpClient& c, int fd, QmpDeadline d);

// Loads the stream at `fd`'s current offset (fd taken over) into a QEMU
// started with `-incoming defer`; returns when the state is in. QEMU stays
// paused when it was started with -S.
Result<void> migrateFromFd(QmpClient& c, int fd, QmpDeadline d);

// For a QEMU found in the middle of an incoming migration (after a daemon
// restart): waits until it is over. Ok when there was none.
Result<void> waitIncomingMigration(QmpClient& c, QmpDeadline d);

}  // namespace splitvirt::qemu
