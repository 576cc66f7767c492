"""A minimal SMTP sink for delivery benchmarks: `python -m paperfeed.bench.smtp_sink PORT`.

It answers each command a client sends with the reply that lets it go on, reads DATA up to
the end-of-data marker with one bytes search (aiosmtpd handles DATA line by line in Python
and, measured here, caps a benchmark at ~45 messages/s of 40 KB), and prints
`received N` when each session ends. It checks nothing: never use it as a real server.
"""

from __future__ import annotations

import asyncio
import sys

MAX_MESSAGE_BYTES = 2**24


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 paperfeed-bench-sink ESMTP\r\n")
    received = 0
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-paperfeed-bench-sink\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n.\r\n")
            received += 1
            writer.write(b"250 OK\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 Bye\r\n")
            break
        else:  # HELO, MAIL, RCPT, RSET, NOOP
            writer.write(b"250 OK\r\n")
        await writer.drain()
    print(f"received {received}", flush=True)
    writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(_session, "127.0.0.1", port, limit=MAX_MESSAGE_BYTES)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
