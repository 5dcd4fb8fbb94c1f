// DOMAIN_OPEN_CONSOLE: find the guest's serial pty through QMP and bridge it
// to an RPC stream.
#include "domain/console.hpp"
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_commands.hpp"
#include "protocol/domain_procs.hpp"
#include "qemu_driver.hpp"

namespace splitvirt::qemu {

using namespace protocol;
using rpc::ConnContext;

void QemuDriver::bindConsole(rpc::Program& p) {
  p.bindStream(kDomainOpenConsole, [this](ConnContext&, DomainOpenConsoleArgs&& a) -> Result<rpc::StreamEndpointPtr> {
    constexpr uint32_t kForce = 1, kSafe = 2;
    if (a.flags & ~(kForce | kSafe)) return Error::unsupportedFlags(kErr, a.flags & ~(kForce | kSafe), "qemuDomainOpenConsole");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto rt = runtime(a.dom.uuid);
    if (!v->active() || !rt || !rt->mon) return Error::operationInvalid(kErr, "domain is not running");

    // No name: the first console, which QEMU exposes as the serial port.
    std::string dev = a.dev_name.value_or("serial0");
    if (dev.rfind("console", 0) == 0) dev = "serial" + dev.substr(7);
    auto chardevs = queryChardev(*rt->mon);
    if (!chardevs) return chardevs.error();
    std::string pty;
    for (auto& c : *chardevs)
      if (c.label == "char" + dev && c.filename.rfind("pty:", 0) == 0) pty = c.filename.substr(4);
    if (pty.empty())
      return Error::operationFailed(kErr, "cannot find character device " + a.dev_name.value_or("<null>"));

    std::lock_guard lk(consolesMutex_);
    if (auto old = consoles_[a.dom.uuid].lock()) {
      auto* oldConsole = static_cast<PtyConsole*>(old.get());
      if (oldConsole->active()) {
        if (!(a.flags & kForce))
          return Error::operationFailed(kErr, "Active console session exists for this domain");
        oldConsole->kick(Error::operationFailed(kErr, "Console session taken over by another client"));
      }
    }
    auto console = PtyConsole::open(pty);
    if (!console) return console.error();
    consoles_[a.dom.uuid] = *console;
    return rpc::StreamEndpointPtr(*console);
  });
}

}  // namespace splitvirt::qemu
