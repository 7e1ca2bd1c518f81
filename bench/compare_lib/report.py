"""compare: the output: the machine description, the markdown table and
report (bench/results/<date>-<kind>.md) and latest.json."""
import datetime
import json
import os
import platform
import subprocess

from .systems import SERVERS
from .util import (CLIENT_CORE, LABELS, METRICS, PEERS, ROOT, SERVER_CORE, STEAL_MAX, fmt,
                   pkg_version)


class ReportMixin:
    """The output, methods of Run (compare_lib.run)."""

    # -- output --

    def machine(self):
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        mem = "?"
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "?"
        return {
            "cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "memory": mem, "nofile": self.nofile,
            "load_at_start": self.load_at_start,
            "mqgate_commit": commit, "mqgate_libssl": self.libssl,
            "packages": {p: pkg_version(p) for p in (
                "haproxy", "nginx", "libnginx-mod-stream", "hitch", "stunnel4",
                "mosquitto", "redis-server", "android-boringssl",
                "android-libboringssl-dev", "openssl")},
        }

    def table(self):
        systems = [s for s in SERVERS if s in self.plan["systems"] or
                   any(r["system"] == s for r in self.rows)]
        head = "| metric | unit | " + " | ".join(LABELS[s] for s in systems) + " |"
        out = [head, "|" + "---|" * (len(systems) + 2)]
        for mid, label, unit, better in METRICS:
            vals = {s: self.value(s, mid) for s in systems}
            if all(v is None for v in vals.values()):
                continue
            best = None
            peer_vals = [v for s, v in vals.items() if s in PEERS and isinstance(v, (int, float))]
            if better and peer_vals:
                best = min(peer_vals) if better == "lower" else max(peer_vals)
            cells = []
            for s in systems:
                v = vals[s]
                cell = fmt(v)
                if best and isinstance(v, (int, float)):
                    cell += " (%.2f×)" % (v / best)
                cells.append(cell)
            arrow = {"lower": " ↓", "higher": " ↑"}.get(better, "")
            if mid.startswith("lat_"):
                label += " at %s msg/s" % fmt(self.lat_rate)
            if mid == "fleet_cpu":
                label += ", %s devices at %s msg/s" % ("{:,}".format(self.plan["fleet"][0]),
                                                       fmt(self.plan["fleet"][1]))
            if mid == "idle_bytes":
                label += ", %s held" % "{:,}".format(self.plan["idle"])
            out.append("| %s | %s%s | %s |" % (label.replace("  ", "&nbsp;&nbsp;"), unit,
                                                arrow, " | ".join(cells)))
        # The ratio: value / best peer; peers are the five systems that are
        # not mqgate.
        return "\n".join(out)

    def write(self, status):
        date = datetime.date.today().isoformat()
        outdir = os.path.abspath(self.args.out)
        os.makedirs(outdir, exist_ok=True)
        mach = self.machine()
        for r in self.rows:
            r["ratio_to_best_peer"] = None
        for mid, _, _, better in METRICS:
            if not better:
                continue
            peer = [r["value"] for r in self.rows if r["metric"] == mid and
                    r["system"] in PEERS and isinstance(r["value"], (int, float))]
            if peer:
                best = min(peer) if better == "lower" else max(peer)
                for r in self.rows:
                    if r["metric"] == mid and best and isinstance(r["value"], (int, float)):
                        r["ratio_to_best_peer"] = r["value"] / best
        rows = list(self.rows)
        for name, t in (self.crypto or {}).get("tools", {}).items():
            for k, us in t["per_handshake_us"].items():
                rows.append({"system": "bssl:" + name, "metric": "crypto_us_" + k,
                             "label": "crypto of the server side of one full mTLS "
                                      "handshake, %s server key" % k,
                             "value": us, "unit": "µs", "better": "lower",
                             "ratio_to_best_peer": None, "tool": t["label"],
                             "ops_us": t["ops_us"]})
        for r in rows:
            r["kind"] = self.kind
            r["date"] = date
        # A partial run (--only) leaves the full run's files as they are.
        only = "+".join(sorted(set((self.args.only or "").split(",")) - {""}))
        tag = self.kind + ("-" + only if only else "")
        with open(os.path.join(outdir, "latest%s.json" % ("-" + only if only else "")),
                  "w") as f:
            json.dump(rows, f, indent=1, ensure_ascii=False)
            f.write("\n")

        p = self.plan
        lines = ["# mqgate bench/compare, %s run, %s" % (tag, date), ""]
        lines.append("Status: %s; %.0f s in all." % (status, self.elapsed()))
        lines.append("")
        lines.append("## Machine")
        lines.append("")
        lines.append("- CPU: %s, %d cores; kernel %s; memory %s; open files %d (hard)" %
                     (mach["cpu"], mach["cores"], mach["kernel"], mach["memory"],
                      mach["nofile"]))
        lines.append("- load average at start %s, at the end %s (other work on the machine "
                     "skews rates and latencies; CPU time per operation much less)" %
                     (mach["load_at_start"], " ".join(open("/proc/loadavg").read().split()[:3])))
        lines.append("- mqgate %s (working tree as built), BoringSSL %s" %
                     (mach["mqgate_commit"], mach["mqgate_libssl"]))
        lines.append("- packages: " + ", ".join("%s %s" % kv for kv in
                                                mach["packages"].items()))
        lines.append("")
        lines.append("## Conditions")
        lines.append("")
        lines.append(
            "- One common backend, a plain Mosquitto on loopback with `set_tcp_nodelay "
            "true` (Mosquitto TLS too): with Mosquitto's default, Nagle's algorithm on "
            "its subscriber legs adds 4-14 ms to every system's latency at these rates. "
            "Every system: the same "
            "server certificate, CA and TLS settings (TLS 1.3, which every row but the "
            "TLS 1.2 field profile negotiates; HAProxy and mqgate accept 1.2 too; client certificate "
            "required, verified against the demo CA; device keys ECDSA P-256).")
        lines.append(
            "- Server pinned to core %d; mqgate-bench, the backend broker, Redis and this "
            "script to core %d." % (SERVER_CORE, CLIENT_CORE))
        lines.append(
            "- The machine is a shared virtual machine: each run's steal (the share of a core "
            "the hypervisor gave to other guests) is in the Runs table. %s" % (
                "A system's block of runs (handshakes and publish; idle) with more than "
                "%.0f%% steal in one of them is taken again on a fresh process while the "
                "budget allows, and the quieter attempt counts." % STEAL_MAX
                if p["retries"] else "The quick run takes nothing again."))
        lines.append(
            "- Handshakes: %s connections per run (conn: TCP, mTLS, MQTT CONNECT/CONNACK, "
            "close), concurrency 64; resumed: %d devices x %d reconnections with "
            "--resume, the cost of each device's first (full) handshake taken out. "
            "\"server CPU per connection\" is utime+stime of the server's process tree "
            "over the run divided by completed connections (it includes the backend "
            "connection for proxies and CONNECT handling)." %
            ("{:,}".format(p["conn"]), p["resume"][0], p["resume"][1]))
        lines.append(
            "- Publish: %d publishers flooding QoS 0 for %d s per run, no subscriber (the "
            "broker drops them): 64 B with one send per message, as MQTT client libraries "
            "write; then 64 B and 1 KiB in corked bursts (mqgate-bench --cork: up to 256 "
            "messages, one TLS record each, leave in full TCP segments), where the load "
            "tool spends about half as much per message and so loads the server more than "
            "its own core (load tool and broker share it). Latency: %d publisher/subscriber pairs, "
            "64 B, %s msg/s in all (half of the lowest 64 B publish peak above, one send per message; each "
            "message crossing the system twice: in, then out to its subscriber), %d "
            "run(s) of %d s taken in turn with the other systems, each percentile the "
            "median over the runs during which the hypervisor took at most %.0f%% of "
            "either core for other guests (steal; a run with more is taken again, at most "
            "%d times, and counts only if no run was quiet)." % (
                p["pub_conns"], p["pub_s"], p["lat_pairs"], fmt(self.lat_rate),
                p["lat_runs"], p["lat_s"], STEAL_MAX, p["lat_retries"]))
        lines.append(
            "- Fleet: %s devices, each its own certificate and connection, publishing 64 B "
            "QoS 0 at %s msg/s in all (paced); the server's CPU time over %d s of the run "
            "phase (after the devices connected) per message; capacity per core is one "
            "second over that. Unlike the flood above, no device sends a second message "
            "before the proxy has forwarded its first, so nothing can be batched: each "
            "message costs a read, a decryption and a write." % (
                "{:,}".format(p["fleet"][0]), fmt(p["fleet"][1]), p["fleet"][2]))
        lines.append(
            "- Idle: %s connections held %d s by a fresh server process; RSS growth of "
            "the process holding them (nginx and hitch: the worker) per connection. "
            "The server key type does not enter the data path (same cipher suite), so "
            "publish, latency and idle are measured with the ECDSA key only." %
            ("{:,}".format(p["idle"]), p["idle_s"]))
        if "mqgate-reg" in p["systems"]:
            lines.append(
                "- mqgate registry: Redis on core %d, the %s pool devices registered with "
                "`mqgatectl cert register --from-index ... "
                "--unsafe-bypass-rate-limit-for-test-setup`, cache warmed by one pass over "
                "the pool after each start." % (CLIENT_CORE, "{:,}".format(p["pool"])))
        lines += self.storm_conditions()
        lines.append(
            "- Field profiles (handshake rows): a TLS 1.2 client offering groups in mbedTLS "
            "2.28's order (P-521, P-384 before P-256 and X25519; no brainpool, which "
            "BoringSSL lacks) against the systems set to accept TLS 1.2 too (HAProxy "
            "`ssl-min-ver TLSv1.2`, mqgate `--tls-min 1.2`), the group each handshake got "
            "as the client saw it; and connect -> CONNACK one device at a time, with "
            "TCP_NODELAY and with Nagle on (the CONNECT a write of its own after the "
            "handshake, as device stacks do).")
        if self.kind == "quick":
            lines.append(
                "- Quick run: ECDSA only (no RSA), systems %s (no hitch, no stunnel), "
                "fewer connections, no largest-idle probe, %d revocations." %
                (", ".join(p["systems"]), p["revokes"]))
        lines.append("")
        lines.append("## Results")
        lines.append("")
        lines.append("Each cell: the value and, in parentheses, its ratio to the best of "
                     "the five peers (Mosquitto, HAProxy, NGINX, hitch, stunnel) on that "
                     "row; ↓ lower is better, ↑ higher is better.")
        lines.append("")
        lines.append(self.table())
        lines.append("")
        for r in self.rows:
            if r.get("aux_cpu_us") is not None:
                lines.append(
                    "mqgate registry, %s: Redis spent %.0f µs of CPU per connection "
                    "(the associated-client record of each CONNECT; lookups are cache "
                    "hits), not counted in the server figure above." %
                    (r["metric"].rsplit("_", 1)[1].upper(), r["aux_cpu_us"]))
                lines.append("")
        if "mosquitto" in p["systems"]:
            lines.append("Mosquitto TLS is its own broker: its figures include the broker's "
                         "work (and its idle memory the broker's per-client state), which "
                         "for the proxies happens in the common backend, not counted.")
            lines.append("")
        if self.crypto:
            for name, t in self.crypto["tools"].items():
                lines.append("## Crypto limit: %s" % t["label"])
                lines.append("")
                lines.append(
                    "CPU µs per operation on core %d (bssl speed's wall-clock figures "
                    "times its CPU/wall ratio, %.2f, under the machine's other load)%s." %
                    (SERVER_CORE, t["cpu_wall_ratio"],
                     "; mqgate's percentage of the crypto limit is taken against this one, "
                     "the library it is linked with" if name == self.crypto["matching"]
                     else "; used by default, but mqgate is not linked with it"))
                lines.append("")
                lines.append("| operation | µs |")
                lines.append("|---|---|")
                for op in ("ECDSA P-256 signing", "ECDSA P-256 verify",
                           "Curve25519 base-point multiplication",
                           "Curve25519 arbitrary point multiplication", "RSA 2048 signing"):
                    if op in t["ops_us"]:
                        lines.append("| %s | %.1f |" % (op, t["ops_us"][op]))
                for k, us in t["per_handshake_us"].items():
                    lines.append("| server side of one full mTLS handshake, %s key (sign + 2 "
                                 "ECDSA verify + X25519 keygen + shared secret) | %.1f "
                                 "(%s/s per core) |" % (k, us, fmt(1e6 / us)))
                lines.append("")
            lines.append(
                "mqgate in registry mode skips the chain check for a cached active "
                "certificate (one ECDSA verify less), so it may pass 100%.")
            lines.append("")
        if self.revoke_detail:
            d = self.revoke_detail
            lines.append("## Revocation")
            lines.append("")
            lines.append(
                "%d live devices, each its own certificate, spread over two mqgate "
                "(registry) processes on one Redis; %d revoked one by one with `mqgatectl "
                "cert revoke`, alternating between the proxies. From the CLI returning to "
                "the device seeing its connection closed: p50 %.1f ms, p99 %.1f ms "
                "(min %.1f, max %.1f; negative: cut before the CLI process had exited); "
                "from the CLI starting: p50 %.1f ms, p99 %.1f ms. Cuts not seen within "
                "2 s: %d. Devices not revoked and still connected: %s." %
                (d["devices"], d["samples"] + d["missed"], self.value("mqgate-reg",
                                                                      "revoke_p50"),
                 self.value("mqgate-reg", "revoke_p99"), d["min_ms"], d["max_ms"],
                 d["from_start_p50_ms"], d["from_start_p99_ms"], d["missed"],
                 d["others_still_open"]))
            lines.append("")
        lines.append("## Runs")
        lines.append("")
        lines.append("Server CPU % of its core over the run, client (mqgate-bench) CPU % "
                     "of its core, each core's total busy %: on core 0 what is not the "
                     "server is other work on the machine; steal: the larger share of "
                     "either core the hypervisor gave to other guests meanwhile.")
        lines.append("")
        lines.append("| system | run | s | server CPU % | client CPU % | core 0 / core 1 busy % "
                     "| steal % | saturated | ok | errors |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for m in self.runs:
            b = m["bench"]
            lines.append("| %s | %s | %.1f | %.0f | %.0f | %.0f / %.0f | %.0f | %s | %s | %s |" % (
                LABELS.get(m["system"], m["system"]), m["what"], m["wall_s"],
                m["server_cpu_pct"], m["client_cpu_pct"], m["core_busy_pct"].get(0, 0),
                m["core_busy_pct"].get(1, 0), m["steal_pct"], m["saturated"], m.get("units", b.get("ok")),
                json.dumps(b.get("errors") or {})))
        lines.append("")
        if self.notes:
            lines.append("## Notes")
            lines.append("")
            lines += ["- " + n for n in self.notes]
            lines.append("")
        path = os.path.join(outdir, "%s-%s.md" % (date, tag))
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path
