"""compare: the command line. main(doc) takes the docstring of bench/compare,
whose first paragraph is the --help description."""
import argparse
import os
import signal
import sys

from .run import Run
from .systems import SERVERS
from .util import ROOT, _term


def main(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="the reduced set (under 3 minutes): ECDSA only, fewer systems, "
                         "connections and seconds")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="the build directory (default build/)")
    ap.add_argument("--bench", help="mqgate-bench (default BUILD/bench/mqgate-bench)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"),
                    help="where the results go (default bench/results)")
    ap.add_argument("--systems", help="comma-separated subset of: " + ", ".join(SERVERS))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs)")
    ap.add_argument("--only", help="run only these parts: storm (the reconnect storm), "
                                   "field (the field-profile handshake rows), or both, "
                                   "comma-separated")
    ap.add_argument("--storm-devices", type=int,
                    help="devices of the reconnect storm (default: the plan's, at most what "
                         "the open-file limit allows)")
    args = ap.parse_args()
    if args.only and set(args.only.split(",")) - {"storm", "field"}:
        ap.error("--only takes storm and/or field")
    if args.systems:
        bad = [s for s in args.systems.split(",") if s not in SERVERS]
        if bad:
            ap.error("unknown system(s): %s" % ", ".join(bad))
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)
    run = Run(args)
    try:
        return run.go()
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temp dir removed", file=sys.stderr)
        return 130
