#!/usr/bin/python3
"""smtp_sink.py - a real SMTP server on loopback (Debian's python3-aiosmtpd)
that keeps every message it accepts as one file in a folder, for the quick
start and the tests to read: <dir>/<ms>-<uuid>.eml, written whole then
renamed, with the SMTP envelope's recipients first as X-Sink-Rcpt headers.

A recipient whose local part starts with "rejected-" is refused with 550, as
a real server refuses an unknown mailbox. Logs one JSON object per line on
stderr ("msg":"ready" once it listens); stops cleanly on SIGINT/SIGTERM.

    /usr/bin/python3 smtp_sink.py --port 2525 --dir var/mail
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid

from aiosmtpd.controller import Controller

REJECTED_PREFIX = "rejected-"


def log(msg, **fields):
    record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "info",
              "service": "smtp-sink", "msg": msg}
    record.update(fields)
    print(json.dumps(record), file=sys.stderr, flush=True)


class Sink:
    def __init__(self, folder):
        self.folder = folder

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith(REJECTED_PREFIX):
            log("recipient refused", to=address)
            return "550 5.1.1 <%s>: Recipient address rejected: no such mailbox" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%s.eml" % (int(time.time() * 1000), uuid.uuid4().hex)
        tmp = os.path.join(self.folder, "." + name + ".tmp")
        head = "".join("X-Sink-Rcpt: %s\r\n" % to for to in envelope.rcpt_tos).encode()
        with open(tmp, "wb") as f:
            f.write(head + envelope.content)
        os.replace(tmp, os.path.join(self.folder, name))
        log("message stored", to=envelope.rcpt_tos, file=name)
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser(description="SMTP sink: stores every message as a file.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    controller = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    log("ready", address="127.0.0.1:%d" % args.port, dir=args.dir)
    stop.wait()
    controller.stop()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
