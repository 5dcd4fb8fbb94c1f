#!/usr/bin/python3
"""fs pools: an ext4 file system in an image file (mount(8) loop-attaches
it) built with pool-build --overwrite, mounted by pool-start, unmounted by
pool-destroy; volumes live on it and survive a destroy/start cycle.
SKIPs where the machine does not allow loop mounts."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import expect  # noqa: E402


def mounted(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


def loop_mounts_work(tmp):
    img, mnt = os.path.join(tmp, "probe.img"), os.path.join(tmp, "probe")
    os.makedirs(mnt, exist_ok=True)
    try:
        subprocess.run(["truncate", "-s", "16M", img], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True, capture_output=True)
        if subprocess.run(["mount", img, mnt], capture_output=True).returncode != 0:
            return False
        subprocess.run(["umount", mnt], check=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False
    finally:
        if os.path.exists(img):
            os.unlink(img)


def main():
    if harness.target_is_reference():
        print("SKIP: developed against our daemon\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_storage_fs")
    target = harness.make_target(kind="storage")
    if not loop_mounts_work(target.root):
        target.cleanup()
        print("SKIP: this machine does not allow loop mounts\n0 passed, 0 failed, 1 skipped")
        return
    runner.start(target)
    img = os.path.join(target.root, "fs.img")
    mnt = os.path.join(target.root, "fsmnt")
    subprocess.run(["truncate", "-s", "64M", img], check=True)
    v = target.virsh

    def t_build_start():
        rc, out, err = v("pool-define-as", "fsp", "fs", "--source-dev", img, "--source-format", "ext4",
                         "--target", mnt)
        expect(rc == 0, err)
        rc, out, err = v("pool-build", "fsp", "--overwrite")
        expect(rc == 0, err)
        blkid = subprocess.run(["blkid", "-o", "value", "-s", "TYPE", img], capture_output=True, text=True)
        expect(blkid.stdout.strip() == "ext4", "no ext4 on the image: %r" % blkid.stdout)
        rc, out, err = v("pool-start", "fsp")
        expect(rc == 0, err)
        expect(mounted(mnt), "target not mounted after pool-start")
    runner.check("pool-build --overwrite makes ext4, pool-start mounts it", t_build_start)

    def t_volumes():
        rc, out, err = v("vol-create-as", "fsp", "a.qcow2", "8M", "--format", "qcow2")
        expect(rc == 0, err)
        rc, out, err = v("pool-build", "fsp", "--no-overwrite")
        expect(rc != 0, "building an active pool succeeded")
        rc, out, err = v("pool-destroy", "fsp")
        expect(rc == 0, err)
        expect(not mounted(mnt), "still mounted after pool-destroy")
        expect(not os.path.exists(os.path.join(mnt, "a.qcow2")), "volume visible without the file system")
        rc, out, err = v("pool-start", "fsp")
        expect(rc == 0, err)
        rc, out, err = v("vol-list", "fsp")
        expect("a.qcow2" in out, "volume gone after destroy/start:\n" + out)
    runner.check("volumes live on the file system across destroy/start", t_volumes)

    def t_no_overwrite():
        rc, out, err = v("pool-destroy", "fsp")
        expect(rc == 0, err)
        rc, out, err = v("pool-build", "fsp", "--no-overwrite")
        expect(rc != 0 and "already formatted" in err, "--no-overwrite on a formatted device: %s" % err)
        rc, out, err = v("pool-undefine", "fsp")
        expect(rc == 0, err)
    runner.check("pool-build --no-overwrite refuses a formatted device", t_no_overwrite)

    if mounted(mnt):
        subprocess.run(["umount", mnt])
    runner.finish()


if __name__ == "__main__":
    main()
