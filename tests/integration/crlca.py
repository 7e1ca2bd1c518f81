"""crlca.py: CRLs made the way operators make them, with `openssl ca`, for
the CRL tests (58, 59).

An OpensslCa is an `openssl ca` database (index.txt, crlnumber, a config
file) in the test's temporary directory for a CA made by mqgate-certgen:
revoke certificates, then `openssl ca -gencrl`. publish() writes the CRL
the way a sidecar should: to a temporary name, then rename(2) over the
file mqgate reads.
"""
import os
import subprocess
import time

CONF = """[ca]
default_ca = ca_default

[ca_default]
dir = {dir}
database = $dir/index.txt
crlnumber = $dir/crlnumber
new_certs_dir = $dir
serial = $dir/serial
certificate = {cert}
private_key = {key}
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
unique_subject = no
policy = policy_any

[policy_any]
commonName = supplied

[crl_ext]
authorityKeyIdentifier = keyid:always
"""


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr))
    return r


class OpensslCa:
    def __init__(self, wd, name, cert, key, crl_ext=True):
        """|crl_ext| False makes version 1 CRLs, without extensions."""
        self.dir = wd.file("openssl-ca-" + name)
        os.makedirs(self.dir)
        self.cert, self.key = cert, key
        self.index = os.path.join(self.dir, "index.txt")
        open(self.index, "w").close()
        with open(os.path.join(self.dir, "crlnumber"), "w") as f:
            f.write("01\n")
        self.conf = os.path.join(self.dir, "ca.cnf")
        with open(self.conf, "w") as f:
            conf = CONF.format(dir=self.dir, cert=cert, key=key)
            if not crl_ext:
                conf = conf.replace("crl_extensions = crl_ext\n", "")
            f.write(conf)

    def revoke(self, cert):
        """openssl ca -revoke: adds the certificate to the database as revoked."""
        _run(["openssl", "ca", "-config", self.conf, "-batch", "-revoke", cert])

    def revoke_many(self, count, start=0x100000, reason=None):
        """Writes |count| revoked serials into the database directly (an
        `openssl ca -revoke` per serial would take minutes); |reason| is an
        openssl reason name (keyCompromise, ...) or None."""
        lines = []
        when = "250101000000Z" + ("," + reason if reason else "")
        for i in range(count):
            lines.append("R\t301231235959Z\t%s\t%X\tunknown\t/CN=bulk-%d\n"
                         % (when, start + i, i))
        with open(self.index, "a") as f:
            f.write("".join(lines))

    def gencrl(self, out, der=False, last=None, next_=None):
        """openssl ca -gencrl into |out| (PEM, or DER); |last| and |next_|
        (YYYYMMDDHHMMSSZ) set thisUpdate and nextUpdate."""
        tmp = out + ".gen"
        cmd = ["openssl", "ca", "-config", self.conf, "-batch", "-gencrl", "-out", tmp]
        if last:
            cmd += ["-crl_lastupdate", last]
        if next_:
            cmd += ["-crl_nextupdate", next_]
        _run(cmd)
        if der:
            _run(["openssl", "crl", "-in", tmp, "-outform", "DER", "-out", out])
            os.remove(tmp)
        else:
            os.rename(tmp, out)
        return out

    def publish(self, path, **kw):
        """gencrl to a temporary file beside |path|, then rename it over
        |path| (atomic). Returns the time of the rename (time.monotonic)."""
        tmp = path + ".new"
        self.gencrl(tmp, **kw)
        os.chmod(tmp, 0o644)
        t = time.monotonic()
        os.rename(tmp, path)
        return t


def utc(offset_s):
    """YYYYMMDDHHMMSSZ for now + |offset_s| seconds."""
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + offset_s))
