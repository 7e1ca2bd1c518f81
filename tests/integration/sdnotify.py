"""sdnotify.py: a stand-in for systemd's notification socket.

A Unix datagram socket in the abstract namespace (so that a chrooted
process reaches it too; the network namespace is shared), bound by the test
and handed to mqgate as NOTIFY_SOCKET=@name. Every datagram is kept with the
sender's pid from SCM_CREDENTIALS, which the kernel attaches (SO_PASSCRED),
as systemd itself reads it for NotifyAccess=main.
"""
import os
import socket
import struct
import time

_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class NotifySocket:
    def __init__(self):
        self.name = "mqgate-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind("\0" + self.name)
        self.messages = []  # (pid, uid, {field: value}) in arrival order

    @property
    def env(self):
        """The value of NOTIFY_SOCKET for the process under test."""
        return "@" + self.name

    def recv(self, timeout):
        """Returns the next message (pid, uid, fields) or None at timeout."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(_CRED.size))
        except socket.timeout:
            return None
        pid = uid = -1
        for level, kind, val in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = _CRED.unpack(val[:_CRED.size])
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        msg = (pid, uid, fields)
        self.messages.append(msg)
        return msg

    def wait_for(self, field, timeout=10.0):
        """Reads until a message that sets |field| arrives; returns it, or
        None at timeout (the messages read meanwhile are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            m = self.recv(left)
            if m is not None and field in m[2]:
                return m

    def quiet_for(self, field, seconds):
        """True if no message setting |field| arrives within |seconds|."""
        return self.wait_for(field, seconds) is None

    def close(self):
        self.sock.close()
