// virsh qemu-monitor-command: QMP (or HMP) passthrough to a running guest.
// libvirt marks such guests tainted; the command is the caller's business.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "protocol/qemu_procs.hpp"
#include "qemu_driver.hpp"

#include <boost/json.hpp>

namespace splitvirt::qemu {

using namespace protocol;

void QemuDriver::bindQemu(rpc::Program& p) {
  p.bind(kQemuDomainMonitorCommand, [this](rpc::ConnContext&, QemuMonitorCommandArgs&& a) -> Result<QemuMonitorCommandRet> {
    constexpr uint32_t kHmp = 1;
    if (a.flags & ~kHmp) return Error::unsupportedFlags(kErr, a.flags & ~kHmp, "qemuDomainQemuMonitorCommandWithFiles");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    auto rt = runtime(a.dom.uuid);
    if (!v->active() || !rt || !rt->mon) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");

    if (a.flags & kHmp) {
      boost::json::object args{{"command-line", a.cmd}};
      auto r = rt->mon->execute("human-monitor-command", boost::json::serialize(args));
      if (!r) return r.error();
      boost::system::error_code ec;
      auto text = boost::json::parse(*r, ec);
      if (ec || !text.is_string()) return Error::internal(kErr, "unexpected reply to human-monitor-command");
      return QemuMonitorCommandRet{std::string(text.as_string())};
    }
    boost::system::error_code ec;
    auto cmd = boost::json::parse(a.cmd, ec);
    const boost::json::object* obj = (!ec && cmd.is_object()) ? &cmd.as_object() : nullptr;
    const boost::json::value* exec = obj ? obj->if_contains("execute") : nullptr;
    if (!exec || !exec->is_string())
      return Error::internal(kErr, "cannot parse json " + a.cmd + ": missing 'execute' member");
    std::string args = "{}";
    if (auto* ar = obj->if_contains("arguments")) args = boost::json::serialize(*ar);
    auto r = rt->mon->execute(std::string(exec->as_string()), args);
    if (!r) return r.error();
    std::string id = obj->contains("id") ? boost::json::serialize(obj->at("id")) : "\"libvirt-" +
                                                                                      std::to_string(++rt->hotplugSeq) + "\"";
    return QemuMonitorCommandRet{"{\"return\":" + *r + ",\"id\":" + id + "}"};
  });
}

}  // namespace splitvirt::qemu
