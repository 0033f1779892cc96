#!/usr/bin/python3
"""A Modbus server we did not write (pymodbus), for the transport's end-to-end tests.

  pymodbus_server.py --tcp PORT [--rtu-framing] --log FILE
  pymodbus_server.py --serial DEVICE --baud N --parity N|E|O --stop-bits 1|2 --log FILE

Units 1..3. Holding and input register i hold 1000 + i (holding) and 2000 + i (input); coils
alternate. Every write is appended to FILE as "holding ADDRESS V1 V2 ...", so that a test can
check what reached the server; "ready" is written to it once the server is about to serve.
"""
import argparse
import asyncio
import logging

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartAsyncTcpServer, StartAsyncSerialServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer


class LoggedBlock(ModbusSequentialDataBlock):
    def __init__(self, name, address, values, log):
        super().__init__(address, values)
        self.name = name
        self.log = log

    def setValues(self, address, values):
        super().setValues(address, values)
        vals = values if isinstance(values, list) else [values]
        with open(self.log, "a") as f:
            # The datastore is 1-based inside pymodbus (PDU address + 1).
            f.write(f"{self.name} {address - 1} {' '.join(str(int(v)) for v in vals)}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", type=int)
    ap.add_argument("--rtu-framing", action="store_true")
    ap.add_argument("--serial")
    ap.add_argument("--baud", type=int, default=9600)
    ap.add_argument("--parity", default="N")
    ap.add_argument("--stop-bits", type=int, default=1)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)

    slaves = {}
    for unit in (1, 2, 3):
        slaves[unit] = ModbusSlaveContext(
            di=ModbusSequentialDataBlock(0, [i % 2 for i in range(201)]),
            co=LoggedBlock("coil", 0, [i % 2 for i in range(201)], a.log),
            hr=LoggedBlock("holding", 0, [1000 + i - 1 for i in range(201)], a.log),
            ir=ModbusSequentialDataBlock(0, [2000 + i - 1 for i in range(201)]),
            zero_mode=False,
        )
    context = ModbusServerContext(slaves=slaves, single=False)
    with open(a.log, "a") as f:
        f.write("ready\n")
    if a.serial:
        asyncio.run(StartAsyncSerialServer(context=context, framer=ModbusRtuFramer, port=a.serial,
                                           baudrate=a.baud, parity=a.parity, stopbits=a.stop_bits,
                                           bytesize=8, timeout=0.05))
    else:
        framer = ModbusRtuFramer if a.rtu_framing else ModbusSocketFramer
        asyncio.run(StartAsyncTcpServer(context=context, framer=framer, address=("127.0.0.1", a.tcp)))


if __name__ == "__main__":
    main()
