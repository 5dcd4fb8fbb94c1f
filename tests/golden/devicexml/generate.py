#!/usr/bin/python3
"""Regenerates out/ from the reference libvirtd 9.0 (tools/libvirt-ref).

    generate.py SOCKET [CASE...]

in/BASE--OP--DESC.xml is one device XML; BASE names base/BASE.xml and OP is
attach or detach. The base is defined, the device attached or detached with
VIR_DOMAIN_AFFECT_CONFIG (virsh attach-device/detach-device --config), and
out/CASE.xml receives `dumpxml --inactive`, or out/CASE.err "<code> <domain>"
and the message when libvirtd refused. The domain is undefined afterwards.
"""
import os
import sys

import libvirt

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    conn = libvirt.open('qemu:///system?socket=' + sys.argv[1])
    libvirt.registerErrorHandler(lambda c, e: None, None)
    names = sys.argv[2:] or sorted(f[:-4] for f in os.listdir(os.path.join(HERE, 'in')) if f.endswith('.xml'))
    for name in names:
        base, op, _ = name.split('--', 2)
        with open(os.path.join(HERE, 'base', base + '.xml')) as f:
            dom = conn.defineXML(f.read())
        with open(os.path.join(HERE, 'in', name + '.xml')) as f:
            dev = f.read()
        for ext in ('.xml', '.err'):
            try:
                os.unlink(os.path.join(HERE, 'out', name + ext))
            except FileNotFoundError:
                pass
        try:
            if op == 'attach':
                dom.attachDeviceFlags(dev, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            else:
                dom.detachDeviceFlags(dev, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            out, ext = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), '.xml'
        except libvirt.libvirtError as e:
            out, ext = '%d %d\n%s' % (e.get_error_code(), e.get_error_domain(), e.get_error_message()), '.err'
        finally:
            dom.undefine()
        with open(os.path.join(HERE, 'out', name + ext), 'w') as f:
            f.write(out)
        print(name + ext)


if __name__ == '__main__':
    main()
