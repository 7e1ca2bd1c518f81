"""50: SIGHUP reloads the server certificate and key, the CA bundle and the
limits for new connections, without dropping a live session; a broken
file is refused with a log line and the running settings stay."""
import hashlib
import shutil
import signal
import socket
import ssl
import subprocess

from harness import (CERTGEN, MQGATE, Client, Mosquitto, Pki, Workdir, check, client_context,
                     connect_packet, finish, free_port, handshake_error, publish_packet, run,
                     subscribe_packet, wait_for, wait_port)


def server_cn(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(DEV[0], DEV[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


wd = Workdir()
try:
    pki = Pki(wd)
    DEV = pki.device("device-0001")
    other_ca = pki.other_ca()
    stranger = pki.device("stranger", issuer=other_ca)
    broker = Mosquitto(wd)
    cert, key, bundle = wd.file("live.crt"), wd.file("live.key"), wd.file("bundle.pem")
    shutil.copy(pki.server_cert, cert)
    shutil.copy(pki.server_key, key)
    shutil.copy(pki.ca_cert, bundle)
    conf = wd.file("mqgate.ini")
    with open(conf, "w") as f:
        f.write("[mqgate]\ncert = %s\nkey = %s\nclient-ca = %s\n" % (cert, key, bundle))
    # The file alone (flags would win over it, and SIGHUP re-reads the file).
    port = free_port()
    p = subprocess.Popen([MQGATE, "--config", conf, "--listen", "127.0.0.1:%d" % port,
                          "--backend", "127.0.0.1:%d" % broker.port],
                         stderr=open(wd.file("reload.log"), "w"))
    wd.procs.append(p)
    wait_port(port)
    log = lambda: open(wd.file("reload.log")).read()
    ctx = client_context(*DEV, ca=pki.ca_cert)

    live = Client(port, ctx)
    live.send(connect_packet(4, "live"))
    live.recv_packet()
    live.send(subscribe_packet("reload/t", 0))
    live.recv_packet()
    live.sock.settimeout(5)
    fp1 = server_cn(port)

    # New server certificate and a CA bundle that now also trusts other_ca.
    run([CERTGEN, "server", "--cn", "localhost", "--issuer-cert", pki.ca_cert, "--issuer-key",
         pki.ca_key, "--out-cert", cert, "--out-key", key])
    with open(bundle, "a") as f:
        f.write(open(other_ca[0]).read())
    check(handshake_error(port, client_context(*stranger, ca=pki.ca_cert)) == "unknown ca",
          "before the reload the other CA's device is refused")
    p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "reloaded: certificates" in log()), "SIGHUP: reloaded")
    check(server_cn(port) != fp1, "new handshakes get the new server certificate")
    check(handshake_error(port, client_context(*stranger, ca=pki.ca_cert)) == "",
          "the new CA bundle applies: the other CA's device gets in")
    pub = Client(port, ctx)
    pub.send(connect_packet(4, "pub"))
    pub.recv_packet()
    pub.send(publish_packet("reload/t", b"after reload"))
    pkt = live.recv_packet()
    check(pkt is not None and pkt[1].endswith(b"after reload"),
          "the session opened before the reload is still alive")
    pub.close()

    # A broken key: refused, the running certificate stays.
    fp2 = server_cn(port)
    with open(key, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "reload refused" in log()), "a broken key: reload refused, logged")
    check(server_cn(port) == fp2, "the running certificate stays")
    check(handshake_error(port, ctx) == "", "devices still connect")
    live.close()
    p.terminate()
    check(p.wait(15) == 0, "exits 0")
finally:
    wd.cleanup()
finish()
