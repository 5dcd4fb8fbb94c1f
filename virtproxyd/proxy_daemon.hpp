// virtproxyd's start-up: options, config, the legacy sockets (socket
// activated by name or bound), the optional TCP/TLS listeners, then serving
// every read-write/read-only client through a ProxySession.
#pragma once

namespace splitvirt::proxy {

int runProxy(int argc, char** argv);

}  // namespace splitvirt::proxy
