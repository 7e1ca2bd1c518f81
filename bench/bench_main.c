/* bench_main.c: mqgate-bench, the bundled MQTT-over-mTLS load tool. See
 * bench.h for how it is put together and `mqgate-bench --help` for use.
 *
 * Exit codes: 0 every unit succeeded, 1 some failed or the run was cut
 * short (--timeout, Ctrl-C), 2 the command line or the setup is wrong. */
#include "bench.h"

int main(int argc, char **argv) {
  mqb_opts o;
  int rc = mqb_opts_parse(&o, argc, argv);
  if (rc >= 0)
    return rc;
  return mqb_run_main(&o);
}
