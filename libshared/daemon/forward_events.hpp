// Event callbacks of a forwarded procedure family (network and storage pool
// events on a qemu:///system connection, as libvirt's virtqemud relays them
// from virtnetworkd and virtstoraged): the client's registration is made on
// a backend connection of its own, whose events come back with the
// client's callback ids. Ids are shared with the daemon's own callbacks.
#pragma once

#include "daemon/forward.hpp"

namespace splitvirt::daemon {

// Binds the family's register/deregister procedures (called by
// bindForwarding).
void bindEventForwarding(rpc::Program& program, const ForwardTarget& target);

}  // namespace splitvirt::daemon
