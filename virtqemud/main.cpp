#include "daemon/run_daemon.hpp"
#include "qemu_driver.hpp"

int main(int argc, char** argv) {
  using namespace splitvirt;
  daemon::DaemonSpec spec{"virtqemud", "virtqemud", ErrorDomain::Qemu};
  return daemon::runDaemon(spec, std::make_unique<qemu::QemuDriver>(), argc, argv);
}
