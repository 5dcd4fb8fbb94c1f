#include "proxy_daemon.hpp"

int main(int argc, char** argv) { return splitvirt::proxy::runProxy(argc, argv); }
