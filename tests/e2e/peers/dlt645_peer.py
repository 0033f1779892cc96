#!/usr/bin/python3
"""DL/T 645-2007 electricity meters behind a transparent serial server, for end-to-end tests.

  dlt645_peer.py --listen 127.0.0.1:0 --meters 123456789012,000000000002 [--speed 60]
                 [--password 02000000] [--operator 00000000] [--load-w 2000[,1500...]]
                 [--clock-offset S[,S...]] [--money 100.00] [--purchases 1]
                 [--broadcast-window S] [--state-file PATH]

Behaves like a TCP "RS-485 to Ethernet" converter with the given meters on its bus: whatever a
client sends is the bus, frames are taken one at a time and each connection is answered in
order. Prints "dlt645 peer: N meters on HOST:PORT" once listening; exits 0 on SIGTERM/SIGINT.

Written from the standard (frame 68 A0..A5 68 C L DATA CS 16, data +33H, BCD lowest byte
first). Understood: 11H read data, 13H read address (AAAAAAAAAAAA, or an address shortened
with AAH in its high bytes, when exactly one meter matches), 1CH relay control, 08H broadcast
time (999999999999, no reply). Frames for no meter, bad checksums, replies from other devices
and control codes not listed are met with silence, as on a bus.

Simulation: each meter's clock is real UTC time plus its own offset (--clock-offset, then set
by broadcast time) and runs at real rate. While the relay is closed energy grows at
load-w x speed watts, booked to the tariff of the meter's clock hour: 1 sharp 19-21, 2 peak
08-11 and 17-19, 4 valley 23-07, 3 flat otherwise. Total = sum of the four shown tariffs.
Instantaneous power, currents and power factor show the load itself (not x speed).

Relay control: 1AH trip opens the relay; 1BH (close allowed) and 1CH (direct close) close it
at once (no button press is simulated); 3AH/3BH protect (保电) on/off; 2AH/2BH alarm are
accepted and ignored. Errors (DCH, one error word): 04H wrong password or operator, 01H
anything else (bad length, unknown N1, expired or invalid valid-until, trip while protected).

Status word 3 (04000503), as in the standard and its later amendment: bit 4 relay state
(1 = open), bit 6 relay command state (1 = last command was a trip), bit 12 protect on.
SIGUSR1 toggles the relay of the first meter without a command (a tenant's button or an
overload trip), so then bit 4 and bit 6 disagree.

--state-file PATH is rewritten (atomically) at start, after every frame for a meter, after
SIGUSR1 and at exit: {"ADDRESS": {"relay": "on"|"off", "energy_wh": INT, "clock_offset": INT
seconds, "protect": BOOL, "operator": "HEX of the last control's operator code"}}.
"""
import argparse
import datetime
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

BROADCAST = bytes([0x99] * 6)
ERR_OTHER, ERR_NO_DATA, ERR_PASSWORD = 0x01, 0x02, 0x04
MAX_DATA = 200  # longest data field we wait for; longer "frames" are line noise
BYTE_GAP = 0.5  # seconds of silence after which a partial frame is dropped, as a meter does


def bcd(value, size, signed=False):
    """value as `size` BCD bytes, lowest first; with signed, the top bit is the sign."""
    negative = value < 0
    value = abs(int(value))
    limit = 10 ** (2 * size) - 1
    if signed:
        limit = min(limit, 8 * 10 ** (2 * size - 1) - 1)
    value = min(value, limit)
    out = bytearray()
    for _ in range(size):
        out.append((value // 10 % 10) << 4 | value % 10)
        value //= 100
    if signed and negative:
        out[-1] |= 0x80
    return bytes(out)


def unbcd(data):
    """BCD bytes, lowest first, as an int; None if a nibble is not a digit."""
    value = 0
    for b in reversed(data):
        if b >> 4 > 9 or b & 15 > 9:
            return None
        value = value * 100 + (b >> 4) * 10 + (b & 15)
    return value


def encode(address, control, data=b""):
    """A whole reply frame, with the four FEH wake-up bytes in front."""
    body = bytes([0x68]) + address + bytes([0x68, control, len(data)])
    body += bytes((b + 0x33) & 0xFF for b in data)
    return b"\xfe" * 4 + body + bytes([sum(body) & 0xFF, 0x16])


def take_frames(buf):
    """Frames (address, control, data) complete in buf; consumed bytes are removed from it."""
    frames = []
    while True:
        start = buf.find(b"\x68")
        if start < 0:
            buf.clear()  # wake-up bytes and noise
            return frames
        del buf[:start]
        if len(buf) < 10:
            return frames
        length = buf[9]
        if buf[7] != 0x68 or length > MAX_DATA or not all(address_byte(b) for b in buf[1:7]):
            del buf[0]
            continue
        if len(buf) < 12 + length:
            return frames
        frame = bytes(buf[:12 + length])
        if frame[-2] != sum(frame[:-2]) & 0xFF or frame[-1] != 0x16:
            del buf[0]  # a bad frame is ignored; look for the next start
            continue
        del buf[:12 + length]
        data = bytes((b - 0x33) & 0xFF for b in frame[10:-2])
        frames.append((frame[1:7], frame[8], data))


def address_byte(b):
    return b == 0xAA or (b >> 4 <= 9 and b & 15 <= 9)


def tariff_of(hour):
    if 19 <= hour < 21:
        return 1
    if 8 <= hour < 11 or 17 <= hour < 19:
        return 2
    if hour >= 23 or hour < 7:
        return 4
    return 3


def now_ms():
    return time.time_ns() // 1_000_000


def utc(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)


class Meter:
    VOLTS = (2298, 2301, 2304)  # 0.1 V, phases A B C
    PF_LOADED = 950             # 0.001

    def __init__(self, number, load_w, offset_s, speed):
        self.number = number
        self.wire = bytes.fromhex(number)[::-1]
        self.load_w = load_w
        self.speed = speed
        self.offset_ms = int(round(offset_s * 1000))
        self.tariff_wh = [0.0] * 4
        self.relay_closed = True     # the contacts (status word 3 bit 4)
        self.command_closed = True   # the last remote command (bit 6)
        self.protect = False
        self.operator = "00000000"
        self.updated = now_ms()

    def clock_ms(self, at=None):
        return (now_ms() if at is None else at) + self.offset_ms

    def advance(self, at=None):
        """Books the energy used since the last call, hour by hour of the meter's clock."""
        at = now_ms() if at is None else at
        t = self.updated
        while self.relay_closed and t < at:
            clock = t + self.offset_ms
            end = min(at, (clock // 3_600_000 + 1) * 3_600_000 - self.offset_ms)
            hour = clock // 3_600_000 % 24
            self.tariff_wh[tariff_of(hour) - 1] += self.load_w * self.speed * (end - t) / 3_600_000
            t = end
        self.updated = max(self.updated, at)

    def set_relay(self, closed):
        self.advance()
        self.relay_closed = closed

    def set_clock(self, when_ms):
        at = now_ms()
        self.advance(at)
        self.offset_ms = when_ms - at

    def tariff_hundredths(self):
        """The four tariff registers in 0.01 kWh, wrapping like a six-digit register."""
        self.advance()
        return [int(wh // 10) % 10 ** 8 for wh in self.tariff_wh]

    def status3(self):
        return ((0 if self.relay_closed else 1 << 4) | (0 if self.command_closed else 1 << 6)
                | (1 << 12 if self.protect else 0))

    def value(self, di, peer):
        """The data of DI as bytes, or None for a DI this meter does not have."""
        hundredths = self.tariff_hundredths()
        if di == 0x00010000:
            return bcd(sum(hundredths) % 10 ** 8, 4)
        if 0x00010100 <= di <= 0x00010400 and di & 0xFF == 0:
            return bcd(hundredths[(di >> 8 & 0xFF) - 1], 4)
        watts = self.load_w if self.relay_closed else 0
        if di in (0x02010100, 0x02010200, 0x02010300):
            return bcd(self.VOLTS[(di >> 8 & 0xFF) - 1], 2)
        if di in (0x02020100, 0x02020200, 0x02020300):
            volts = self.VOLTS[(di >> 8 & 0xFF) - 1] / 10
            amps = watts / 3 / (volts * self.PF_LOADED / 1000)
            return bcd(round(amps * 1000), 3, signed=True)
        if di == 0x02030000:
            return bcd(round(watts * 10), 3, signed=True)  # XX.XXXX kW = 0.1 W units
        if di == 0x02060000:
            return bcd(self.PF_LOADED if watts else 1000, 2, signed=True)
        if di == 0x02800002:
            return bcd(5000, 2)
        if di == 0x04000503:
            return self.status3().to_bytes(2, "little")
        if di == 0x04000101:
            c = utc(self.clock_ms())
            return bytes([c.isoweekday() % 7]) + bcd(c.day, 1) + bcd(c.month, 1) + bcd(c.year % 100, 1)
        if di == 0x04000102:
            c = utc(self.clock_ms())
            return bcd(c.second, 1) + bcd(c.minute, 1) + bcd(c.hour, 1)
        if di == 0x00900200:
            return bcd(peer.money_hundredths, 4)
        if di == 0x03330201:
            return bcd(peer.purchases, 2)
        return None

    def state(self):
        self.advance()
        return {"relay": "on" if self.relay_closed else "off", "energy_wh": int(sum(self.tariff_wh)),
                "clock_offset": round(self.offset_ms / 1000), "protect": self.protect,
                "operator": self.operator}


def parse_time6(data):
    """ss mm hh DD MM YY (BCD) as epoch milliseconds UTC, or None if it is no valid time."""
    fields = [unbcd(data[i:i + 1]) for i in range(6)]
    if None in fields:
        return None
    ss, mm, hh, day, month, yy = fields
    try:
        t = datetime.datetime(2000 + yy, month, day, hh, mm, ss, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return int(t.timestamp()) * 1000


class Peer:
    def __init__(self, args):
        self.meters = []
        loads = [float(x) for x in args.load_w.split(",")]
        offsets = [float(x) for x in args.clock_offset.split(",")]
        for i, number in enumerate(args.meters.split(",")):
            self.meters.append(Meter(number, loads[min(i, len(loads) - 1)],
                                     offsets[min(i, len(offsets) - 1)], args.speed))
        self.password = bytes.fromhex(args.password)
        self.operator = bytes.fromhex(args.operator) if args.operator else None
        self.money_hundredths = round(args.money * 100)
        self.purchases = args.purchases
        self.window_ms = int(args.broadcast_window * 1000)
        self.state_file = args.state_file
        self.lock = threading.Lock()

    def matching(self, address):
        """Meters the address selects: exact, or with its high bytes AAH (shortened address)."""
        n = 6
        while n > 0 and address[n - 1] == 0xAA:
            n -= 1
        return [m for m in self.meters if m.wire[:n] == address[:n]]

    def handle(self, address, control, data):
        """The reply to one frame (bytes), or b"" for silence."""
        if control & 0x80:
            return b""  # a reply from another device on the bus
        if address == BROADCAST:
            if control == 0x08 and len(data) == 6:
                self.broadcast_time(data)
            return b""
        found = self.matching(address)
        if len(found) != 1:
            return b""  # nobody, or a collision on the bus
        meter = found[0]
        if control == 0x13 and not data:
            return encode(meter.wire, 0x93, meter.wire)
        if control == 0x11:
            if len(data) < 4:
                return encode(meter.wire, 0xD1, bytes([ERR_OTHER]))
            value = meter.value(int.from_bytes(data[:4], "little"), self)
            if value is None:
                return encode(meter.wire, 0xD1, bytes([ERR_NO_DATA]))
            return encode(meter.wire, 0x91, data[:4] + value)
        if control == 0x1C:
            error = self.control(meter, data)
            return encode(meter.wire, 0xDC, bytes([error])) if error else encode(meter.wire, 0x9C)
        return b""

    def control(self, meter, data):
        """Carries out a relay control command; 0 or the error word."""
        if len(data) != 16:
            return ERR_OTHER
        if data[0:4] != self.password or (self.operator is not None and data[4:8] != self.operator):
            return ERR_PASSWORD
        meter.operator = data[4:8].hex()
        action, until = data[8], parse_time6(data[10:16])
        if action not in (0x1A, 0x1B, 0x1C, 0x2A, 0x2B, 0x3A, 0x3B) or until is None:
            return ERR_OTHER
        if until < meter.clock_ms() // 1000 * 1000:
            return ERR_OTHER  # expired
        if action == 0x1A:
            if meter.protect:
                return ERR_OTHER
            meter.command_closed = False
            meter.set_relay(False)
        elif action in (0x1B, 0x1C):
            meter.command_closed = True
            meter.set_relay(True)
        elif action in (0x3A, 0x3B):
            meter.protect = action == 0x3A
        return 0

    def broadcast_time(self, data):
        when = parse_time6(data)
        if when is None:
            return
        for meter in self.meters:
            if self.window_ms and abs(meter.clock_ms() - when) > self.window_ms:
                continue  # the standard only corrects a clock that is within 5 minutes
            meter.set_clock(when)

    def toggle_first(self):
        with self.lock:
            meter = self.meters[0]
            meter.set_relay(not meter.relay_closed)
            self.save()

    def save(self):
        if not self.state_file:
            return
        state = {m.number: m.state() for m in self.meters}
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.state_file)

    def serve(self, conn):
        buf = bytearray()
        conn.settimeout(BYTE_GAP)
        with conn:
            while True:
                try:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                    frames = take_frames(buf)
                except socket.timeout:
                    frames = []  # the line went quiet: a frame still open there never ends
                    while buf:
                        del buf[0]
                        frames += take_frames(buf)
                except OSError:
                    return
                for address, control, data in frames:
                    with self.lock:
                        reply = self.handle(address, control, data)
                        if self.matching(address) or address == BROADCAST:
                            self.save()
                    if reply:
                        try:
                            conn.sendall(reply)
                        except OSError:
                            return


def parse_args():
    ap = argparse.ArgumentParser(description="DL/T 645-2007 meters behind a TCP serial server "
                                 "(test peer). See the module docstring for details.")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free port)")
    ap.add_argument("--meters", required=True,
                    help="comma-separated 12-digit meter addresses; the first gets SIGUSR1")
    ap.add_argument("--speed", type=float, default=1.0,
                    help="energy accumulates this many times faster than real time")
    ap.add_argument("--password", default="02000000",
                    help="relay control password, 8 hex digits PA P0 P1 P2 as sent (after -33H)")
    ap.add_argument("--operator", default=None,
                    help="8 hex digits; if given, relay control from other operators is refused")
    ap.add_argument("--load-w", default="2000",
                    help="load in W per meter, comma-separated; the last repeats")
    ap.add_argument("--clock-offset", default="0",
                    help="initial clock drift in seconds per meter, comma-separated; last repeats")
    ap.add_argument("--money", type=float, default=100.0, help="remaining money (00900200)")
    ap.add_argument("--purchases", type=int, default=1, help="purchase count (03330201)")
    ap.add_argument("--broadcast-window", type=float, default=0,
                    help="ignore broadcast time further than this many seconds from a meter's "
                    "clock (the standard: 300); 0 = always set")
    ap.add_argument("--state-file", help="JSON file with every meter's state, for tests")
    args = ap.parse_args()
    numbers = args.meters.split(",")
    for n in numbers:
        if len(n) != 12 or not n.isdigit() or n == "999999999999":
            ap.error(f"bad meter address {n!r}: 12 decimal digits expected")
    if len(set(numbers)) != len(numbers):
        ap.error("a meter address is given twice")
    for name in ("password", "operator"):
        v = getattr(args, name)
        if v is not None and (len(v) != 8 or any(c not in "0123456789abcdefABCDEF" for c in v)):
            ap.error(f"--{name} needs 8 hex digits")
    try:
        [float(x) for x in args.load_w.split(",") + args.clock_offset.split(",")]
    except ValueError:
        ap.error("--load-w and --clock-offset take comma-separated numbers")
    if not 0 <= args.purchases <= 9999 or not 0 <= args.money < 1e6:
        ap.error("--purchases or --money out of range")
    return args


def main():
    args = parse_args()
    peer = Peer(args)
    host, _, port = args.listen.rpartition(":")
    server = socket.create_server((host or "127.0.0.1", int(port)))
    server.setblocking(False)

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    events = {"stop": False, "toggles": 0}
    signal.signal(signal.SIGTERM, lambda *_: events.update(stop=True))
    signal.signal(signal.SIGINT, lambda *_: events.update(stop=True))
    signal.signal(signal.SIGUSR1, lambda *_: events.update(toggles=events["toggles"] + 1))

    with peer.lock:
        peer.save()
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    bound = server.getsockname()
    print(f"dlt645 peer: {len(peer.meters)} meters on {bound[0]}:{bound[1]}", flush=True)

    while not events["stop"]:
        for key, _ in sel.select():
            if key.fileobj is server:
                try:
                    conn, _ = server.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                conn.setblocking(True)
                threading.Thread(target=peer.serve, args=(conn,), daemon=True).start()
            else:
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    pass
        while events["toggles"] > 0:
            events["toggles"] -= 1
            peer.toggle_first()

    server.close()
    with peer.lock:
        peer.save()
    sys.exit(0)


if __name__ == "__main__":
    main()
