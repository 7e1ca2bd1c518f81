"""57: `make install` (cmake --install, packaging/): the programs, the
configuration, the systemd unit, the manual pages and the documentation
land under the prefix given at install time (any prefix; /etc and
/lib/systemd/system for /usr), staged with DESTDIR; the installed programs
run from there and find BoringSSL through their RUNPATH (Debian's
android-libboringssl, or the private full-speed copy beside them); an
operator's edited configuration survives a second install."""
import os
import re
import shutil
import subprocess
import tempfile

from harness import BUILD, check, finish, free_port, wait_port

PROGRAMS = ("mqgate", "mqgatectl", "mqgate-certgen", "mqgate-admin")
stage = tempfile.mkdtemp(prefix="mqgate-install-")


def install(prefix):
    env = dict(os.environ, DESTDIR=stage)
    return subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], env=env,
                          capture_output=True, text=True, timeout=120)


def readelf_runpath(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    m = re.search(r"\((?:RUNPATH|RPATH)\)\s+Library r\w*path: \[([^\]]*)\]", out)
    return m.group(1) if m else None


try:
    # --- prefix /usr/local -----------------------------------------------------
    r = install("/usr/local")
    check(r.returncode == 0, "cmake --install --prefix /usr/local with DESTDIR (%s)" %
          r.stderr.strip()[-300:])
    root = stage + "/usr/local"
    for p in PROGRAMS:
        path = "%s/bin/%s" % (root, p)
        check(os.access(path, os.X_OK), "bin/%s installed, executable" % p)
        check(os.path.exists("%s/share/man/man1/%s.1.gz" % (root, p)),
              "share/man/man1/%s.1.gz installed" % p)
    mq = root + "/bin/mqgate"
    rp = readelf_runpath(mq) or ""
    private = rp.startswith("$ORIGIN")
    check(rp == "/usr/lib/x86_64-linux-gnu/android" or rp.startswith("$ORIGIN/"),
          "RUNPATH is Debian's android directory or $ORIGIN-relative (%r), never the build "
          "tree" % rp)
    if private:
        libdir = os.path.normpath(os.path.join(root, "bin", rp[len("$ORIGIN/"):]))
        check(all(os.path.exists(os.path.join(libdir, f))
                  for f in ("libssl.so.0", "libcrypto.so.0")),
              "the private BoringSSL is installed beside the programs (%s)" % libdir)
    r = subprocess.run(["ldd", mq], capture_output=True, text=True)
    m = re.search(r"libssl\.so\.0 => (\S+)", r.stdout)
    where = m.group(1) if m else ""
    check("not found" not in r.stdout and
          (where.startswith(stage) if private else "/android/" in where),
          "the installed mqgate finds libssl.so.0 at %s" % where)
    r = subprocess.run([mq, "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "--config" in r.stdout, "the installed mqgate runs (--help)")
    # Its BoringSSL, told truthfully (policy/bsslinfo.h): the private copy is
    # the full-speed build (its marker installed beside it), Debian's the
    # OPENSSL_SMALL one.
    r = subprocess.run([mq, "--version"], capture_output=True, text=True)
    want = ("full-speed build (without OPENSSL_SMALL)" if private
            else "the slow OPENSSL_SMALL build")
    check(r.returncode == 0 and want in r.stdout,
          "the installed mqgate --version: %s (%s)" % (want, r.stdout.strip()[-160:]))
    for p in ("mqgatectl", "mqgate-certgen", "mqgate-admin"):
        r = subprocess.run([root + "/bin/" + p, "--help"], capture_output=True, text=True)
        check(r.returncode == 0, "the installed %s runs (--help)" % p)
    # mqgate-admin serves the console installed beside it (share/mqgate/console)
    check(os.path.exists(root + "/share/mqgate/console/index.html") and
          os.path.exists(root + "/share/mqgate/console/js/app.js") and
          not os.path.exists(root + "/share/mqgate/console/screenshot.png"),
          "share/mqgate/console: the console's files (not the README's screenshot)")
    port = free_port()
    admin = subprocess.Popen([root + "/bin/mqgate-admin", "--plain-http", "--listen",
                              "127.0.0.1:%d" % port, "--redis", "redis://127.0.0.1:1/0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_port(port)
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/js/app.js" % port, timeout=5) as u:
            served = u.read().decode()
        check(served == open(root + "/share/mqgate/console/js/app.js").read(),
              "the installed mqgate-admin serves the installed console")
    finally:
        admin.terminate()
        err = admin.communicate(timeout=10)[1]
    check("share/mqgate/console" in err, "... found beside its binary")

    ini = root + "/etc/mqgate/mqgate.ini"
    check(os.path.exists(ini), "etc/mqgate/mqgate.ini under the prefix")
    repo_ini = os.path.join(os.path.dirname(__file__), "..", "..", "docker", "mqgate.ini")
    check(open(ini).read() == open(repo_ini).read(), "... and it is docker/mqgate.ini")
    unit = root + "/lib/systemd/system/mqgate.service"
    text = open(unit).read() if os.path.exists(unit) else ""
    check("ExecStart=/usr/local/bin/mqgate --config /usr/local/etc/mqgate/mqgate.ini\n" in text,
          "the unit (lib/systemd/system under the prefix) runs the installed mqgate with the "
          "installed configuration")
    check(not re.search(r"@[A-Z_]+@", text), "the unit has no unsubstituted @VAR@")
    for doc in ("README.md", "copyright", "changelog.Debian.gz"):
        check(os.path.exists(root + "/share/doc/mqgate/" + doc), "share/doc/mqgate/" + doc)

    # An operator's edit survives a second install.
    with open(ini, "a") as f:
        f.write("\n; edited by the operator\nbackend = 10.0.0.9:1883\n")
    r = install("/usr/local")
    check(r.returncode == 0 and "edited by the operator" in open(ini).read() and
          "Keeping" in r.stdout, "a second install keeps the edited configuration")

    # --- prefix /usr: /etc and /lib/systemd/system, as the package has them -----
    r = install("/usr")
    check(r.returncode == 0, "cmake --install --prefix /usr with DESTDIR")
    check(os.path.exists(stage + "/etc/mqgate/mqgate.ini") and
          not os.path.exists(stage + "/usr/etc"), "prefix /usr: the configuration goes to /etc")
    unit = stage + "/lib/systemd/system/mqgate.service"
    check(os.path.exists(unit) and
          "ExecStart=/usr/bin/mqgate --config /etc/mqgate/mqgate.ini\n" in open(unit).read(),
          "prefix /usr: the unit goes to /lib/systemd/system, runs /usr/bin/mqgate")
    check(os.access(stage + "/usr/bin/mqgate", os.X_OK), "prefix /usr: /usr/bin/mqgate")
finally:
    shutil.rmtree(stage, ignore_errors=True)
finish()
