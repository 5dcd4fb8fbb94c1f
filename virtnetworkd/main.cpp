#include "daemon/run_daemon.hpp"
#include "network_driver.hpp"

int main(int argc, char** argv) {
  using namespace splitvirt;
  daemon::DaemonSpec spec{"virtnetworkd", "virtnetworkd", ErrorDomain::Network};
  return daemon::runDaemon(spec, std::make_unique<network::NetworkDriver>(), argc, argv);
}
