#include "daemon/run_daemon.hpp"
#include "storage_driver.hpp"

int main(int argc, char** argv) {
  using namespace splitvirt;
  daemon::DaemonSpec spec{"virtstoraged", "virtstoraged", ErrorDomain::Storage};
  return daemon::runDaemon(spec, std::make_unique<storage::StorageDriver>(), argc, argv);
}
