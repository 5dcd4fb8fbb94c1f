#!/usr/bin/python3
"""External snapshots with memory state (virsh snapshot-create-as --memspec):
the running guest's RAM goes to the memory file, its disk gets an overlay, and
it keeps running (also with --live); deleting the snapshot removes the memory
file and merges the overlay back; reverting to it gives a clear error (libvirt
9.0 refuses external reverts too, with the same code)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

NAME = "svmem-g"


def main():
    if harness.target_is_reference():
        print("SKIP: checks our behaviour for reverts the reference refuses\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_snapshot_memory")
    target = harness.make_target()
    try:
        runner.start(target)
        work = target.root
        disk = os.path.join(work, "base.qcow2")
        ga.make_qcow2(disk)
        xml = os.path.join(work, "g.xml")
        with open(xml, "w") as f:
            f.write(ga.domain_xml(NAME, disk=disk))
        mem1, mem2 = os.path.join(work, "m1.mem"), os.path.join(work, "m2.mem")

        def active_disk():
            rc, out, err = target.virsh("domblklist", NAME)
            return [l.split()[1] for l in out.splitlines() if l.strip().startswith("vda")][0]

        def t_create():
            for args in (["define", xml], ["start", NAME]):
                rc, out, err = target.virsh(*args)
                expect(rc == 0, err)
            rc, out, err = target.virsh("snapshot-create-as", NAME, "m1", "--memspec",
                                        "file=%s,snapshot=external" % mem1, "--diskspec", "vda,snapshot=external")
            expect(rc == 0, err)
            expect(os.path.getsize(mem1) > 64 * 1024, "memory file too small: %d" % os.path.getsize(mem1))
            expect_eq(active_disk(), os.path.join(work, "base.m1"), "disk moved to the overlay")
            rc, out, err = target.virsh("domstate", NAME)
            expect_eq(out.strip(), "running", "guest runs on")
            rc, out, err = target.virsh("snapshot-dumpxml", NAME, "m1")
            expect("<memory snapshot='external' file='%s'/>" % mem1 in out, out)
            expect("<state>running</state>" in out, out)
        runner.check("--memspec on a running guest: memory file, overlay, guest keeps running", t_create)

        def t_live():
            rc, out, err = target.virsh("snapshot-create-as", NAME, "m2", "--memspec", "file=%s" % mem2, "--live")
            expect(rc == 0, err)
            expect(os.path.getsize(mem2) > 64 * 1024, "memory file too small")
            rc, out, err = target.virsh("domstate", NAME)
            expect_eq(out.strip(), "running", "guest runs on after --live")
        runner.check("--memspec --live", t_live)

        def t_revert_refused():
            rc, out, err = target.virsh("snapshot-revert", NAME, "m1")
            expect(rc != 0 and "unsupported configuration" in err, err)
            rc, out, err = target.virsh("domstate", NAME)
            expect_eq(out.strip(), "running", "refused revert leaves the guest alone")
        runner.check("revert to a memory snapshot: refused, guest untouched", t_revert_refused)

        def t_delete():
            for snap in ("m2", "m1"):
                rc, out, err = target.virsh("snapshot-delete", NAME, snap)
                expect(rc == 0, err)
            expect(not os.path.exists(mem1) and not os.path.exists(mem2), "memory files left behind")
            expect_eq(active_disk(), disk, "overlays merged back into the base")
            chain = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", disk], capture_output=True,
                                   text=True).stdout
            expect("backing file" not in chain, chain)
            left = sorted(f for f in os.listdir(work) if f.startswith("base."))
            expect_eq(left, ["base.qcow2"], "image files")
        runner.check("delete both: memory files gone, overlays merged", t_delete)
    finally:
        target.virsh("destroy", NAME)
        harness._cleanup_all()
    runner.finish()


if __name__ == "__main__":
    main()
