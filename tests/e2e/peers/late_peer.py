#!/usr/bin/python3
"""A Modbus device that answers its first request late (libmodbus issue 255's failure).

  late_peer.py PORT tcp|rtu DELAY_MS

Serves one connection at a time. Reads of holding registers are answered with words 1111 for
the first request, after DELAY_MS; every later request at once with 2222, 2223, ... Prints
"ready" when listening.
"""
import socket
import struct
import sys
import threading
import time


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def main():
    port, mode, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) / 1000.0
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    print("ready", flush=True)
    count = 0
    lock = threading.Lock()
    while True:
        conn, _ = srv.accept()
        try:
            while True:
                if mode == "tcp":
                    head = recv_exact(conn, 7)
                    tid, _, length, unit = struct.unpack(">HHHB", head)
                    pdu = recv_exact(conn, length - 1)
                else:
                    frame = recv_exact(conn, 8)
                    unit, pdu = frame[0], frame[1:6]
                    tid = 0
                fn, addr, qty = struct.unpack(">BHH", pdu[:5])
                first = count == 0
                count += 1
                words = [1111] * qty if first else [2222 + i for i in range(qty)]
                body = bytes([fn, 2 * qty]) + b"".join(struct.pack(">H", w) for w in words)
                if mode == "tcp":
                    reply = struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body
                else:
                    adu = bytes([unit]) + body
                    reply = adu + crc16(adu)

                def send(data=reply):
                    with lock:
                        try:
                            conn.sendall(data)
                        except OSError:
                            pass

                if first:
                    threading.Timer(delay, send).start()
                else:
                    send()
        except (EOFError, OSError):
            conn.close()


if __name__ == "__main__":
    main()
