"""compare_lib: the code of bench/compare, the benchmark driver (that script
is the entry point and holds the documentation).

  util        constants, PLANS, METRICS, /proc and formatting helpers
  systems     the servers under test (Server classes, SERVERS)
  run         Run: set-up, launching, measuring, go()
  phases      handshakes, publish, latency, idle, the crypto limit
  revocation  the revocation measurement (and its MQTT bytes)
  report      the markdown report, the table, latest.json
  cli         main(): the arguments
"""
