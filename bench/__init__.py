"""The benchmark suite (issue #6): `python -m bench` runs benchmarks 1-6, `python -m bench.soak` 7.

Every benchmark starts the real server (`python -m loki_mode serve`) as a subprocess
on 127.0.0.1 and drives it from other processes: wrk for plain requests, and
`bench.load` (raw asyncio SSE clients) for streams. Modules, one per benchmark:

    overhead  1  requests/s of /health/live and /api/sessions vs bare apps on granian
    scale     2  the task, session and history endpoints at 1k, 10k and 100k tasks
    fanout    3  SSE fan-out of 2,000 lines to 100 and 500 subscribers
    ingest    4  provider lines per second from pipe to committed event
    memory    5  server RSS with 0 and 1,000 idle SSE subscribers
    latency   6  POST -> session:started and provider line -> event, p50/p99
    soak      7  sessions and subscribers churning for minutes; resources must not grow

The harness measures; it never asserts a time. Goals are shown next to each number.
"""
