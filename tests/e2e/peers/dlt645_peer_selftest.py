#!/usr/bin/python3
"""Self-test of dlt645_peer.py: starts it, sends hand-built DL/T 645-2007 frames over TCP and
checks the replies byte by byte. Exits 0 when every check passed; prints one line per check.

  dlt645_peer_selftest.py

The fixed frames below were worked out by hand from the standard (address lowest byte first,
data +33H, CS = sum from the first 68H); frames that depend on a time are built by frame().
"""
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dlt645_peer.py")
WAKE = b"\xfe" * 4
checks = 0
running = []  # peers to stop (and a directory to remove) when done or failed


def h(text):
    return bytes.fromhex(text)


def frame(address, control, data):
    """A request frame: address as 12 digits, data before the +33H."""
    body = b"\x68" + h(address)[::-1] + bytes([0x68, control, len(data)])
    body += bytes((b + 0x33) % 256 for b in data)
    return body + bytes([sum(body) % 256, 0x16])


def bcd_time(t):
    """ss mm hh DD MM YY as the standard's BCD bytes (before +33H)."""
    return h("".join(f"{v % 100:02d}" for v in (t.second, t.minute, t.hour, t.day, t.month, t.year)))


def relay(address, action, password="02000000", operator="00000000", until=None):
    until = until or datetime.datetime(2099, 12, 31, 23, 59, 59)
    return frame(address, 0x1C, h(password) + h(operator) + bytes([action, 0]) + bcd_time(until))


def ok(name, good, detail=""):
    global checks
    if not good:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    checks += 1
    print(f"ok   {name}")


class Peer:
    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, PEER, "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, text=True)
        running.append(self.proc)
        line = self.proc.stdout.readline().strip()
        words = line.split()
        ok(f"startup line {line!r}", line.startswith("dlt645 peer: ") and words[3] == "meters"
           and words[4] == "on" and words[5].startswith("127.0.0.1:"))
        self.port = int(words[5].rsplit(":", 1)[1])
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=3)

    def exchange(self, request, wait=2.0):
        """Sends request; returns one whole reply frame, or what came before the wait ran out."""
        self.sock.sendall(request)
        got, deadline = b"", time.monotonic() + wait
        while True:
            n = got.find(b"\x68")
            if n >= 0 and len(got) >= n + 10 and len(got) >= n + 12 + got[n + 9]:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                return got
            if not chunk:
                return got
            got += chunk

    def expect(self, name, request, *replies):
        got = self.exchange(request)
        ok(name, got in [WAKE + h(r) for r in replies],
           f"\n  sent {request.hex(' ')}\n  got  {got.hex(' ')}\n  want {replies}")

    def silent(self, name, request):
        got = self.exchange(request, wait=0.4)
        ok(name, got == b"", f"got {got.hex(' ')}")

    def read(self, address, di):
        """The value bytes of DI (after -33H), from a normal reply."""
        dib = int(di, 16).to_bytes(4, "little")
        got = self.exchange(frame(address, 0x11, dib))
        body = got[got.find(b"\x68"):]
        assert body[8] == 0x91 and body[10:14] == bytes(b + 0x33 for b in dib), got.hex(" ")
        return bytes((b - 0x33) % 256 for b in body[14:-2])

    def stop(self):
        self.sock.close()
        self.proc.send_signal(signal.SIGTERM)
        ok("SIGTERM: exit status 0", self.proc.wait(timeout=5) == 0)


def energy(value):
    """XXXXXX.XX kWh (4 BCD bytes, lowest first) in 0.01 kWh."""
    return int(value[::-1].hex())


def main():
    tmp = tempfile.mkdtemp(prefix="dlt645_selftest.")
    running.append(tmp)
    state = os.path.join(tmp, "state.json")
    M1 = "123456789012"
    read_total = h("68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16")
    total_zero = "68 12 90 78 56 34 12 68 91 08 33 33 34 33 33 33 33 33 b8 16"
    read_status = h("68 12 90 78 56 34 12 68 11 04 36 38 33 37 73 16")
    status = lambda word: "68 12 90 78 56 34 12 68 91 06 36 38 33 37 " + word
    done = "68 12 90 78 56 34 12 68 9c 00 22 16"
    refused = "68 12 90 78 56 34 12 68 dc 01 34 97 16"

    print("-- two meters, energy frozen (speed 0)")
    p = Peer("--meters", M1 + ",000000000002", "--speed", "0", "--state-file", state)
    p.expect("read 00010000 (energy total) of 123456789012", read_total, total_zero)
    p.expect("read 04000503 (status word 3): relay closed", read_status, status("33 33 5b 16"))
    p.expect("unknown DI 01010000: D1H, error word 02H",
             h("68 12 90 78 56 34 12 68 11 04 33 33 34 34 69 16"),
             "68 12 90 78 56 34 12 68 d1 01 35 8d 16")
    p.silent("frame for 111111111111: silence", h("68 11 11 11 11 11 11 68 11 04 33 33 34 33 18 16"))
    p.silent("bad checksum: silence", h("68 12 90 78 56 34 12 68 11 04 33 33 34 33 69 16"))
    p.silent("read data to broadcast address: silence", frame("999999999999", 0x11, h("00000100")))
    p.silent("read address with two meters: silence", frame("AAAAAAAAAAAA", 0x13, b""))
    p.expect("no wake-up bytes", read_total, total_zero)
    p.expect("one FEH", b"\xfe" + read_total, total_zero)
    p.expect("four FEH", WAKE + read_total, total_zero)
    p.expect("noise and a broken frame before", b"\x00\x16\x68\x01\x02" + WAKE + read_total, total_zero)
    p.sock.sendall(h("68 12 90 78 56 34 12 68 11 40 33"))
    time.sleep(0.8)
    p.expect("frame cut short (L=64), 0.8 s of silence, then a frame", read_total, total_zero)
    p.sock.sendall(WAKE)
    for b in read_total[:-1]:
        p.sock.sendall(bytes([b]))
        time.sleep(0.005)
    p.expect("frame sent byte by byte", read_total[-1:], total_zero)
    p.expect("second meter by its own address", frame("000000000002", 0x11, h("00000100")),
             frame("000000000002", 0x91, h("00000100 00000000")).hex())
    p.expect("shortened address 12 90 78 AA AA AA", frame("AAAAAA789012", 0x11, h("00000100")),
             total_zero)

    p.expect("trip, wrong password: DCH, error word 04H", relay(M1, 0x1A, password="02000001"),
             "68 12 90 78 56 34 12 68 dc 01 37 9a 16")
    p.expect("  relay still closed", read_status, status("33 33 5b 16"))
    p.expect("trip, valid-until already past: DCH 01H",
             relay(M1, 0x1A, until=datetime.datetime(2001, 1, 1)), refused)
    p.expect("trip, right password (hand-built frame): 9CH",
             h("68 12 90 78 56 34 12 68 1c 10 35 33 33 33 33 33 33 33 4d 33 8c 8c 56 64 45 cc af 16"),
             done)
    p.expect("  status word 3 = 0050H (bit 4 open, bit 6 commanded open)", read_status,
             status("83 33 ab 16"))
    ok("  state file: relay off", json.load(open(state))[M1]["relay"] == "off")
    p.expect("protect on (3AH)", relay(M1, 0x3A), done)
    p.expect("  status word 3 = 1050H (bit 12 protect)", read_status, status("83 43 bb 16"))
    p.expect("close while protected (1CH)", relay(M1, 0x1C), done)
    p.expect("trip while protected: DCH 01H", relay(M1, 0x1A), refused)
    p.expect("protect off (3BH)", relay(M1, 0x3B), done)
    p.expect("  status word 3 = 0000H", read_status, status("33 33 5b 16"))
    p.expect("unknown N1 (55H): DCH 01H", relay(M1, 0x55), refused)
    p.expect("short relay control: DCH 01H", frame(M1, 0x1C, h("02000000 00000000 1A")), refused)

    p.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    ok("SIGUSR1: state file relay off", json.load(open(state))[M1]["relay"] == "off")
    p.expect("  status word 3 = 0010H (open, not commanded)", read_status, status("43 33 6b 16"))
    p.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    ok("SIGUSR1 again: relay on", json.load(open(state))[M1]["relay"] == "on")

    p.silent("broadcast time 2024-03-15 12:34:56 (hand-built): silence",
             h("68 99 99 99 99 99 99 68 08 06 89 67 45 48 36 57 7e 16"))
    p.expect("read 04000102: 12:34:56", h("68 12 90 78 56 34 12 68 11 04 35 34 33 37 6e 16"),
             "68 12 90 78 56 34 12 68 91 07 35 34 33 37 89 67 45 26 16",
             "68 12 90 78 56 34 12 68 91 07 35 34 33 37 8a 67 45 27 16")
    p.expect("read 04000101: 24-03-15 week 5 (Friday)",
             h("68 12 90 78 56 34 12 68 11 04 34 34 33 37 6d 16"),
             "68 12 90 78 56 34 12 68 91 08 34 34 33 37 38 48 36 57 fe 16")
    ok("  second meter's clock set too", p.read("000000000002", "04000101") == h("05150324"))
    offset = json.load(open(state))[M1]["clock_offset"]
    expected = datetime.datetime(2024, 3, 15, 12, 34, 56, tzinfo=datetime.timezone.utc).timestamp() - time.time()
    ok(f"  state file clock_offset {offset}", abs(offset - expected) < 3)
    p.silent("broadcast time with a bad date (31 Feb): silence",
             frame("999999999999", 0x08, h("00 00 12 31 02 24")))
    ok("  clock kept", p.read(M1, "04000101") == h("05150324"))
    p.stop()

    print("-- one meter, 3.6 kW at speed 3600 (0.01 kWh every 2.8 ms), operator 11223344")
    M = "000000000161"
    p = Peer("--meters", M, "--speed", "3600", "--load-w", "3600", "--operator", "11223344",
             "--money", "123.45", "--purchases", "7")
    p.expect("read address AAAAAAAAAAAA: 93H with the address",
             h("68 aa aa aa aa aa aa 68 13 00 df 16"),
             "68 61 01 00 00 00 00 68 93 06 94 34 33 33 33 33 5f 16")
    trip = lambda: relay(M, 0x1A, operator="11223344")
    close = lambda: relay(M, 0x1C, operator="11223344")
    ok_reply = frame(M, 0x9C, b"").hex()
    p.expect("trip by another operator: DCH 04H", relay(M, 0x1A), frame(M, 0xDC, b"\x04").hex())
    p.expect("trip by operator 11223344", trip(), ok_reply)
    start = [energy(p.read(M, f"0001{i:02d}00")) for i in range(1, 5)]  # booked before the trip
    p.silent("broadcast time 19:30:00 (sharp)",
             frame("999999999999", 0x08, bcd_time(datetime.datetime(2024, 3, 15, 19, 30))))
    p.expect("close", close(), ok_reply)
    time.sleep(0.5)
    p.expect("trip", trip(), ok_reply)
    t = [energy(p.read(M, f"0001{i:02d}00")) - start[i - 1] for i in range(1, 5)]
    total = energy(p.read(M, "00010000"))
    ok(f"  tariffs {t}: only sharp grew", t[0] > 0 and t[1:] == [0, 0, 0])
    ok(f"  total {total} = sum of tariffs", total == sum(t) + sum(start))
    time.sleep(0.3)
    ok("  no growth while open", energy(p.read(M, "00010000")) == total)
    ok("  active power 0 while open", p.read(M, "02030000") == h("000000"))
    p.silent("broadcast time 10:59:59 (peak, flat from 11:00)",
             frame("999999999999", 0x08, bcd_time(datetime.datetime(2024, 3, 15, 10, 59, 59))))
    p.expect("close", close(), ok_reply)
    time.sleep(1.5)
    p.expect("trip", trip(), ok_reply)
    t2 = [energy(p.read(M, f"0001{i:02d}00")) - start[i - 1] for i in range(1, 5)]
    total = energy(p.read(M, "00010000"))
    ok(f"  tariffs {t2}: peak and flat grew", t2[0] == t[0] and t2[1] > 0 and t2[2] > 0 and t2[3] == 0)
    ok(f"  total {total} = sum of tariffs", total == sum(t2) + sum(start))
    p.expect("close", close(), ok_reply)
    expect_values = [("02030000", "00 60 03", "power 3.6000 kW"), ("02010100", "98 22", "voltage A 229.8 V"),
                     ("02020100", "97 54 00", "current A 5.497 A"), ("02060000", "50 09", "power factor 0.950"),
                     ("02800002", "00 50", "frequency 50.00 Hz"), ("00900200", "45 23 01 00", "money 123.45"),
                     ("03330201", "07 00", "purchase count 7")]
    for di, value, name in expect_values:
        dib = int(di, 16).to_bytes(4, "little")
        p.expect(f"read {di}: {name}", frame(M, 0x11, dib), frame(M, 0x91, dib + h(value)).hex())
    p.stop()
    print(f"all {checks} checks passed")


if __name__ == "__main__":
    try:
        main()
    finally:
        for thing in running:
            if isinstance(thing, str):
                shutil.rmtree(thing, ignore_errors=True)
            elif thing.poll() is None:
                thing.kill()
                thing.wait()
