"""61: the web console in a real browser (Debian's headless Chromium driven
by python3-selenium) against real redis-server, mqgate (auth registry),
Mosquitto and mqgate-admin over HTTPS (its self-signed certificate pinned
by SPKI): paste a token, register a CA and device certificates by upload,
find one by CN and by the expiring filter, open its details (associated
clients), revoke it and see a device connected through mqgate cut; a
certificate whose CN is <img src=x onerror=alert(1)> shows as text, no
alert, no image; settings (a single TLS version), audit log, proxies; no
request leaves the console's origin and no CSP violation is reported. A
screenshot of each page goes to <build>/test-output/console/."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import (BUILD, CERTGEN, Admin, Client, Mosquitto, Mqgate, Pki, Redis, Workdir,
                     admin_token, cert_fp, check, client_context, connect_packet, finish, run,
                     wait_for)

PREFIX = "console61"
XSS_CN = "<img src=x onerror=alert(1)>"
SHOTS = os.path.join(BUILD, "test-output", "console")


def spki_pin(cert_path):
    """base64 SHA-256 of the certificate's SubjectPublicKeyInfo (Chromium's
    --ignore-certificate-errors-spki-list format)."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_path, "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


wd = Workdir()
driver = None
profile = tempfile.mkdtemp(prefix="mqgate-chromium-")
try:
    os.makedirs(SHOTS, exist_ok=True)
    pki = Pki(wd)
    redis = Redis(wd)
    broker = Mosquitto(wd)
    gate = Mqgate(wd, pki, broker.port, ["--auth", "registry", "--redis", redis.url,
                                         "--redis-prefix", PREFIX])
    check(wait_for(lambda: "serving: every worker is ready" in gate.text()), "mqgate reaches Redis")
    admin = Admin(wd, redis.url, PREFIX)
    token = admin_token(redis.url, "console-test", "admin", PREFIX)

    dev_cert, dev_key = pki.device("device-ui-1", extra=("--ou", "line-3"))
    soon_cert, _ = pki.device("device-ui-soon", extra=("--valid-days", "12"))
    xss_cert, xss_key = wd.file("xss.crt"), wd.file("xss.key")
    run([CERTGEN, "device", "--cn", XSS_CN, "--issuer-cert", pki.ca_cert, "--issuer-key",
         pki.ca_key, "--out-cert", xss_cert, "--out-key", xss_key])
    fp_dev, fp_soon, fp_xss = cert_fp(dev_cert), cert_fp(soon_cert), cert_fp(xss_cert)

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,900",
              "--user-data-dir=" + profile,
              "--ignore-certificate-errors-spki-list=" +
              spki_pin(os.path.join(admin.state, "admin.crt"))):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or
                                              "/usr/bin/chromedriver"), options=opts)
    wait = WebDriverWait(driver, 15)

    def shot(name):
        path = os.path.join(SHOTS, name + ".png")
        driver.save_screenshot(path)
        return path

    def no_alert():
        try:
            driver.switch_to.alert
            return False
        except NoAlertPresentException:
            return True

    def toast_has(text):
        try:
            return wait.until(lambda d: text in d.find_element(By.ID, "toast").text)
        except TimeoutException:
            return False

    def rows():
        return driver.find_elements(By.CSS_SELECTOR, "#cert-table tbody tr")

    def confirm(expect_words):
        wait.until(EC.visibility_of_element_located((By.ID, "confirm")))
        text = driver.find_element(By.ID, "confirm").text
        ok = all(w in text for w in expect_words)
        driver.find_element(By.ID, "confirm-ok").click()
        return ok, text

    # --- sign in ---------------------------------------------------------------
    base = admin.base
    driver.get(base + "/")
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    shot("login")
    driver.find_element(By.ID, "token").send_keys("mqg_wrong")
    driver.find_element(By.ID, "login-button").click()
    err = wait.until(lambda d: d.find_element(By.ID, "login-error").text)
    check("not valid" in err, "a wrong token is refused on the page (%s)" % err)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login-button").click()
    wait.until(EC.visibility_of_element_located((By.ID, "nav")))
    check("console-test (admin)" in driver.find_element(By.ID, "who").text,
          "the pasted token signs in (name and role shown)")
    check(driver.execute_script("return sessionStorage.getItem('mqgate-token')") == token and
          driver.execute_script("return localStorage.length") == 0,
          "the token is kept in sessionStorage only")

    # --- CAs -------------------------------------------------------------------------
    driver.get(base + "/#/cas")
    wait.until(EC.presence_of_element_located((By.ID, "ca-upload")))
    driver.find_element(By.ID, "ca-upload").send_keys(pki.ca_cert)
    driver.find_element(By.ID, "ca-register").click()
    check(toast_has("Registered CA Test Fleet CA"), "a CA registered by file upload")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#ca-table tbody tr")) == 1)
    shot("cas")

    # --- client certificates: upload ---------------------------------------------------
    driver.get(base + "/#/certs")
    wait.until(EC.presence_of_element_located((By.ID, "cert-upload")))
    up = driver.find_element(By.ID, "cert-upload")
    up.send_keys("\n".join([dev_cert, soon_cert, xss_cert]))
    driver.find_element(By.ID, "cert-register").click()
    check(toast_has("3 registered, 0 refused"), "three device certificates registered by "
          "upload (one request)")
    wait.until(lambda d: len(rows()) == 3)

    # the hostile CN is text
    xss_row = driver.find_element(By.CSS_SELECTOR, "tr[data-fp='%s']" % fp_xss)
    cell = xss_row.find_element(By.CSS_SELECTOR, "a.cert-link")
    check(cell.text == XSS_CN, "the CN '<img src=x onerror=alert(1)>' is shown as text")
    check(driver.find_elements(By.TAG_NAME, "img") == [] and no_alert(),
          "no <img> element made from it and no alert")

    # search by CN
    Select(driver.find_element(By.ID, "search-field")).select_by_value("cn")
    driver.find_element(By.ID, "search-text").send_keys("device-ui-1")
    driver.find_element(By.ID, "search").click()
    wait.until(lambda d: len(rows()) == 1)
    check(rows()[0].get_attribute("data-fp") == fp_dev, "search by CN finds the certificate")
    shot("certs-search")
    # the expiring filter
    driver.find_element(By.ID, "search-text").clear()
    Select(driver.find_element(By.ID, "search-validity")).select_by_value("expiring")
    driver.find_element(By.ID, "search").click()
    wait.until(lambda d: len(rows()) == 1 and rows()[0].get_attribute("data-fp") == fp_soon)
    check("expires soon" in rows()[0].text,
          "'expired or expiring within 30 days' finds the 12-day certificate only")
    driver.find_element(By.ID, "search-reset").click()
    wait.until(lambda d: len(rows()) == 3)
    shot("certs")

    # --- a device connects through mqgate ------------------------------------------------
    dev = Client(gate.port, client_context(dev_cert, dev_key, pki.ca_cert))
    dev.send(connect_packet(4, "ui-sensor-7"))
    pkt = dev.recv_packet()
    check(pkt is not None and pkt[1][1] == 0, "the registered device connects through mqgate")

    # --- details ---------------------------------------------------------------------------
    def open_details():
        driver.get(base + "/#/cert/" + fp_dev)
        wait.until(EC.presence_of_element_located((By.ID, "cert-details")))
    check(wait_for(lambda: (open_details(), "ui-sensor-7" in driver.page_source)[1], timeout=10),
          "details show the associated client ID ui-sensor-7")
    check("device-ui-1" in driver.find_element(By.ID, "cert-details").text and
          "line-3" in driver.find_element(By.ID, "cert-details").text,
          "details show CN and OU")
    shot("details")
    driver.get(base + "/#/cert/" + fp_xss)
    wait.until(EC.presence_of_element_located((By.ID, "cert-details")))
    check(XSS_CN in driver.find_element(By.ID, "cert-details").text and no_alert() and
          driver.find_elements(By.TAG_NAME, "img") == [],
          "the hostile CN is text on its details page too")

    # --- revoke, and the live session is cut --------------------------------------------------
    open_details()
    dev.send(b"\xc0\x00")  # PINGREQ: the session is alive before the revoke
    pong = dev.recv_packet()
    check(pong is not None and pong[0] == 0xd0, "the device's session is alive (PINGRESP)")
    driver.find_element(By.CSS_SELECTOR, "#cert-actions .act-revoke").click()
    ok, text = confirm(["final", "cut", "cannot be undone"])
    t0 = time.time()
    check(ok, "the revoke confirmation says it is final and cuts the live connection")
    cut = dev.closed_within(5) is not None
    took = time.time() - t0
    check(cut and took < 3, "the device's live session is cut by the console's revoke "
          "(%.2f s)" % took)
    wait.until(lambda d: "REVOKED" in d.find_element(By.ID, "cert-details").text)
    check(driver.find_elements(By.CSS_SELECTOR, "#cert-actions .act-revoke") == [] and
          driver.find_elements(By.CSS_SELECTOR, "#cert-actions .act-activate") == [],
          "a revoked certificate offers neither revoke nor activate")

    # --- settings ---------------------------------------------------------------------------
    driver.get(base + "/#/settings")
    wait.until(EC.presence_of_element_located((By.ID, "settings-save")))
    driver.find_element(By.ID, "tls-single").click()
    Select(driver.find_element(By.ID, "set-tls-one")).select_by_value("1.2")
    Select(driver.find_element(By.ID, "set-registration")).select_by_value("auto")
    driver.find_element(By.ID, "settings-save").click()
    check(toast_has("Settings saved"), "settings saved from the page")
    s, d, _ = admin.call("GET", "/api/v1/settings", token)
    check((d["tls_min"], d["tls_max"], d["registration"]) == ("1.2", "1.2", "auto"),
          "the TLS window is one version (1.2) and registration automatic")
    check(not driver.find_element(By.ID, "tls-range-row").is_displayed() and
          driver.find_element(By.ID, "tls-single-row").is_displayed(),
          "one version: the range selectors are hidden")
    shot("settings")

    # --- audit -------------------------------------------------------------------------------
    driver.get(base + "/#/audit")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr")) >= 1)
    check("token.create" in driver.find_element(By.ID, "audit-table").text,
          "the audit page lists entries")
    shot("audit")

    # --- proxies -------------------------------------------------------------------------------
    beat = {"id": "gw-1", "host": "edge-a", "pid": 1, "version": "0.1.0",
            "boringssl": "13.0.0", "started_at": int(time.time()) - 3600,
            "connections_open": 3, "handshakes_1m": 5, "refusals_1m": {"cert_revoked": 1}}
    redis.cli("SET", PREFIX + ":proxy:gw-1", json.dumps(beat), "EX", "30")
    redis.cli("ZADD", PREFIX + ":proxies", int(time.time() * 1000), "gw-1")
    driver.get(base + "/#/proxies")
    wait.until(lambda d: "gw-1" in d.find_element(By.ID, "proxies-table").text)
    check("cert_revoked: 1" in driver.find_element(By.ID, "proxies-table").text,
          "the proxies page shows the heartbeat")
    # the real mqgate's own heartbeat (every 10 s, the first after 1 s)
    s, d, _ = admin.call("GET", "/api/v1/proxies", token)
    real = [p for p in d["proxies"] if p.get("pid") == gate.proc.pid]
    check(len(real) == 1 and real[0]["id"] in driver.find_element(By.ID, "proxies-table").text
          and isinstance(real[0].get("refusals_1m"), dict),
          "the running mqgate's heartbeat is listed too (%s)" % (real[0]["id"] if real else d))
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "policy", "admin",
                           "openapi.json")) as f:
        doc = json.load(f)
    import jsonschema
    try:
        jsonschema.Draft7Validator(doc["components"]["schemas"]["Proxies"],
                                   resolver=jsonschema.RefResolver.from_schema(doc)).validate(d)
        ok = True
    except jsonschema.ValidationError as e:
        ok = e.message
    check(ok is True, "the real heartbeats match the OpenAPI document (%s)" % ok)
    shot("proxies")

    # --- nothing from elsewhere, no CSP violation ------------------------------------------------
    urls = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    check(urls and all(u.startswith(base + "/") for u in urls),
          "every resource came from the console's origin (%d)" % len(urls))
    logs = driver.get_log("browser")
    csp = [l["message"] for l in logs if "Content Security Policy" in l["message"]]
    check(not csp, "no Content-Security-Policy violation reported (%s)" % csp[:2])
    check(no_alert(), "no alert ever fired")
    check(all(os.path.getsize(os.path.join(SHOTS, n + ".png")) > 5000 for n in
              ("login", "cas", "certs", "certs-search", "details", "settings", "audit",
               "proxies")), "screenshots of every page saved to " + SHOTS)
except TimeoutException as e:
    check(False, "the page did what was expected in time (%s)" % e)
    if driver is not None:
        driver.save_screenshot(os.path.join(SHOTS, "timeout.png"))
        print(driver.page_source[:3000])
finally:
    if driver is not None:
        driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
    wd.cleanup()
finish()
