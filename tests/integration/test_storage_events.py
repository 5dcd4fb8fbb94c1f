#!/usr/bin/python3
"""Storage pool events from virtstoraged to a python3-libvirt client
registered with storagePoolEventRegisterAny: lifecycle (defined, created by
build, started, stopped, deleted, undefined) and refresh, in order; a
registration filtered on another pool sees nothing; deregistration works.
With SV_STORAGE_VIA_QEMU=1 the client is on virtqemud (qemu:///system),
which relays the registrations and events from virtstoraged."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda *a: None, None)


def main():
    runner = harness.Runner("test_storage_events")
    target = harness.make_target(kind="storage")
    runner.start(target)
    libvirt.virEventRegisterDefaultImpl()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()

    conn = libvirt.open(target.uri)
    got, other = [], []
    lock = threading.Lock()

    def on_lifecycle(c, pool, event, detail, opaque):
        with lock:
            opaque.append((pool.name(), "lifecycle", event))

    def on_refresh(c, pool, opaque):
        with lock:
            opaque.append((pool.name(), "refresh", None))

    cb1 = conn.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, on_lifecycle, got)
    cb2 = conn.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, on_refresh, got)
    pooldir = os.path.join(target.root, "evpool")
    xml = ("<pool type='dir'><name>evp</name><target><path>%s</path></target></pool>" % pooldir)
    decoy = conn.storagePoolDefineXML(
        "<pool type='dir'><name>decoy</name><target><path>%s</path></target></pool>" %
        os.path.join(target.root, "decoy"), 0)
    cb3 = conn.storagePoolEventRegisterAny(decoy, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, on_lifecycle, other)

    def wait_for(n):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with lock:
                if len([g for g in got if g[0] == "evp"]) >= n:
                    return
            time.sleep(0.02)

    def t_sequence():
        pool = conn.storagePoolDefineXML(xml, 0)
        pool.build(0)
        pool.create(0)
        pool.refresh(0)
        pool.destroy()
        pool.delete(0)
        pool.undefine()
        wait_for(7)
        with lock:
            seq = [(k, e) for n, k, e in got if n == "evp"]
        expect_eq(seq, [("lifecycle", libvirt.VIR_STORAGE_POOL_EVENT_DEFINED),
                        ("lifecycle", libvirt.VIR_STORAGE_POOL_EVENT_CREATED),
                        ("lifecycle", libvirt.VIR_STORAGE_POOL_EVENT_STARTED),
                        ("refresh", None),
                        ("lifecycle", libvirt.VIR_STORAGE_POOL_EVENT_STOPPED),
                        ("lifecycle", libvirt.VIR_STORAGE_POOL_EVENT_DELETED),
                        ("lifecycle", libvirt.VIR_STORAGE_POOL_EVENT_UNDEFINED)], "event sequence")
        with lock:
            expect(not other, "a registration filtered on another pool got %r" % other)
    runner.check("define/build/start/refresh/destroy/delete/undefine events in order", t_sequence)

    def t_deregister():
        conn.storagePoolEventDeregisterAny(cb1)
        conn.storagePoolEventDeregisterAny(cb2)
        conn.storagePoolEventDeregisterAny(cb3)
        with lock:
            got.clear()
        p = conn.storagePoolDefineXML(xml.replace("evp", "evq"), 0)
        p.undefine()
        time.sleep(0.3)
        with lock:
            expect(not got, "events after deregistration: %r" % got)
        try:
            conn.storagePoolEventDeregisterAny(cb1)
            raise AssertionError("deregistering twice succeeded")
        except libvirt.libvirtError as e:
            # the client library refuses it itself (it knows its callbacks)
            expect(e.get_error_code() in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_INTERNAL_ERROR), repr(e))
    runner.check("deregistered callbacks get nothing", t_deregister)

    decoy.undefine()
    conn.close()
    stop.set()
    runner.finish()


if __name__ == "__main__":
    main()
