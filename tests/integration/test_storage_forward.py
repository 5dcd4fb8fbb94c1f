#!/usr/bin/python3
"""The storage API on a qemu:///system connection: virtqemud forwards it to
virtstoraged (one root, both daemons socket-activated), streams included;
a guest disk of type='volume' starts with its path resolved through
virtstoraged; with virtstoraged down, the error names its socket."""
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

PREFIX = "svfw%s-" % uuid.uuid4().hex[:6]


def main():
    if harness.target_is_reference():
        print("SKIP: needs our two daemons\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_storage_forward")
    qemu = harness.Virtqemud()
    storage = harness.Virtstoraged(root=qemu.root)
    runner.start(storage)
    runner.start(qemu)
    pooldir = os.path.join(qemu.root, "pool")
    q = qemu.virsh

    def t_pool_and_vols():
        rc, out, err = q("pool-define-as", "fp", "dir", "--target", pooldir)
        expect(rc == 0, err)
        for cmd in (["pool-build", "fp"], ["pool-start", "fp"],
                    ["vol-create-as", "fp", "d.qcow2", "32M", "--format", "qcow2"],
                    ["vol-create-as", "fp", "r.raw", "4M", "--format", "raw"]):
            rc, out, err = q(*cmd)
            expect(rc == 0, "%s: %s" % (cmd, err))
        rc, out, err = q("vol-list", "fp")
        expect("d.qcow2" in out and "r.raw" in out, out)
        # the same pool, seen directly on virtstoraged
        rc, out, err = storage.virsh("pool-list", "--all")
        expect("fp" in out, "virtstoraged does not list the pool:\n" + out)
        info = subprocess.run(["qemu-img", "info", os.path.join(pooldir, "d.qcow2")], capture_output=True, text=True)
        expect("file format: qcow2" in info.stdout, info.stdout)
    runner.check("pool and volumes through virtqemud", t_pool_and_vols)

    def t_stream():
        src = os.path.join(qemu.root, "up.bin")
        dst = os.path.join(qemu.root, "down.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(4 << 20))
        rc, out, err = q("vol-upload", "r.raw", src, "--pool", "fp")
        expect(rc == 0, err)
        rc, out, err = q("vol-download", "r.raw", dst, "--pool", "fp")
        expect(rc == 0, err)
        with open(src, "rb") as a, open(dst, "rb") as b:
            expect(a.read() == b.read(), "downloaded data differs from the upload")
    runner.check("vol-upload / vol-download relayed through virtqemud", t_stream)

    def t_errors():
        rc, out, err = q("vol-info", "nosuch", "--pool", "fp")
        expect(rc != 0 and "Storage volume not found" in err, err)
        rc, out, err = q("pool-info", "nosuchpool")
        expect(rc != 0 and "Storage pool not found" in err, err)
    runner.check("virtstoraged's errors pass through unchanged", t_errors)

    name = PREFIX + "vg"

    def t_volume_disk():
        xml = os.path.join(qemu.root, "vg.xml")
        with open(xml, "w") as f:
            f.write(ga.domain_xml(name, serial=False, extra_devices=(
                "    <disk type='volume' device='disk'>\n"
                "      <driver name='qemu' type='qcow2'/>\n"
                "      <source pool='fp' volume='d.qcow2'/>\n"
                "      <target dev='vda' bus='virtio'/>\n"
                "    </disk>")))
        rc, out, err = q("define", xml)
        expect(rc == 0, err)
        rc, out, err = q("start", name)
        expect(rc == 0, err)
        pids = ga.qemu_pids(name)
        expect(len(pids) == 1, "QEMU processes: %r" % pids)
        with open("/proc/%d/cmdline" % pids[0], "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode()
        expect(os.path.join(pooldir, "d.qcow2") in cmd, "QEMU was not given the volume's path")
        rc, out, err = q("dumpxml", name)
        expect("pool='fp'" in out and "volume='d.qcow2'" in out, "live XML lost the volume source")
        rc, out, err = q("destroy", name)
        expect(rc == 0, err)
    runner.check("type='volume' disk resolved through virtstoraged", t_volume_disk)

    def t_storage_down():
        storage.stop()
        rc, out, err = q("pool-list", "--all")
        expect(rc != 0, "pool-list worked with virtstoraged down")
        expect("virtstoraged-sock" in err, "error does not name the socket: " + err)
        rc, out, err = q("start", name)
        expect(rc != 0 and "virtstoraged-sock" in err, err)
        rc, out, err = q("domstate", name)
        expect_eq(out.strip(), "shut off", "state after the failed start")
    runner.check("virtstoraged down: errors name its socket", t_storage_down)

    ga.kill_guests(PREFIX)
    storage.cleanup()
    runner.finish()


if __name__ == "__main__":
    main()
