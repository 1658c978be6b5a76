#!/usr/bin/env python3
"""Split a CPU profile of `jetjobs bench --profile-dir` into the parts of a
job's path, in CPU microseconds per job (docs/performance.md, "Per-job
budget").

Usage: budget.py BINARY PROFILE JOBS     (DEBUG=1 lists what fell through)

Each sample's stack goes to the first part in RULES whose pattern matches
one of its frames, so the order of RULES matters: the decode of the
arguments is matched before the handler call that contains it, and so on.
Allocation and GC assist count with the part that allocated; the
background GC workers are a part of their own.
"""
import re, subprocess, sys
from collections import OrderedDict

RULES = [
    ("GC (background, all parts)", r"gcBgMarkWorker|bgsweep|bgscavenge"),
    ("bench accounting (both sides)", r"bench\.\(\*run\)\.(worked|started|progress)|bench\.\(\*framework\)\.start\.func[0-9]+$|bench\.\(\*run\)\.wait"),
    ("publish and headers", r"job\.\(\*Client\)|PublishMsgAsync|PublishMsg\b|jetstream\.\(\*jetStream\)\.handleAsyncReply|asyncPublisherContext|bench\.\(\*rawSide\)\.publish|bench\.\(\*framework\)\.(publish|enqueue)|json\.Marshal|produceWhileWorking|enqueueRange|awaitPublished"),
    ("ack and its confirmation", r"worker\.\(\*acker\)|worker\.\(\*message\)\.(Ack|settle|DoubleAck)|jetstream\.\(\*jetStreamMsg\)\.(Ack|ackReply)"),
    ("logging/bookkeeping", r"worker\.\(\*Pool\)\.(logVerdict|finish|fire|settle)|worker\.Hooks|inflight|stateWriter|slog\."),
    ("decode (envelope: ReadInfo)", r"job\.ReadInfo"),
    ("decode (arguments: JSON)", r"encoding/json|bench\.\(\*rawSide\)\.handle"),
    ("handler call (context, cancel tracking, chain)", r"worker\.\(\*Pool\)\.(run|work)\b|worker\.\(\*Pool\)\.run\.|worker\.\(\*cancels\)|worker\.decide|register\.go|worker\.Handle|bench\.\(\*framework\)\.start"),
    ("dispatch (hand-off to a runner)", r"worker\.\(\*runners\)|worker\.\(\*Pool\)\.(dispatch|execute)|worker\.\(\*puller\)\.settled|semaphore"),
    ("pull and delivery", r"worker\.\(\*puller\)|worker\.newMessage|wire\.ParseAckReply|jetstream\.\(\*pullConsumer\)|jetstream\.\(\*pullSubscription\)|jetstream\.checkMsg|jetstream\.\(\*jetStreamMsg\)\.Metadata|nats\.go\.\(\*Conn\)\.waitForMsgs"),
    ("socket reads and parsing (all inbound)", r"nats\.go\.\(\*Conn\)\.(readLoop|parse|processMsg)"),
    ("socket writes (flusher)", r"nats\.go\.\(\*Conn\)\.flusher"),
    ("scheduler and other runtime", r"."),
]

import os
DEBUG=os.environ.get('DEBUG')
other={}
def main():
    binary, prof, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = subprocess.run(["go", "tool", "pprof", "-traces", binary, prof], capture_output=True, text=True).stdout
    parts = OrderedDict((name, 0.0) for name, _ in RULES)
    total = 0.0
    for block in out.split("-----------+-------------------------------------------------------"):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        m = re.match(r"\s*([0-9.]+)(ms|s|us)\s+(.*)", lines[0])
        if not m:
            continue
        v = float(m.group(1)) * {"s": 1e6, "ms": 1e3, "us": 1}[m.group(2)]
        frames = [m.group(3).strip()] + [l.strip() for l in lines[1:]]
        frames = [f.replace("%2e", ".") for f in frames]
        total += v
        for name, pat in RULES:
            if any(re.search(pat, f) for f in frames):
                parts[name] += v
                if name.startswith("scheduler") and DEBUG:
                    other[frames[-1]+" <- "+frames[0]] = other.get(frames[-1]+" <- "+frames[0],0)+v
                break
    for name, v in parts.items():
        print(f"{name}\t{v/jobs:.2f}")
    print(f"total\t{total/jobs:.2f}")
    if DEBUG:
        for k,v in sorted(other.items(), key=lambda x:-x[1])[:25]: print(f"  {v/jobs:.2f} {k}")

main()
