/* kwh-libmodbus-client: a Modbus client built on libmodbus, a peer kwh did not write, for the
 * interop end-to-end tests.
 *
 *   kwh-libmodbus-client [--timeout SECONDS] [--debug]
 *       (--tcp HOST:PORT | --rtu DEVICE BAUD PARITY) OP...
 *
 * Ops run in order on one connection, each printing one line, "ok W1 W2 ..." (words, or bits
 * as 0/1; nothing after "ok" for a write), or "error TEXT" with libmodbus's modbus_strerror()
 * text, after which the program stops:
 *   rh UNIT ADDR COUNT        read holding registers (function 3)
 *   ri UNIT ADDR COUNT        read input registers (4)
 *   rc UNIT ADDR COUNT        read coils (1)
 *   wh UNIT ADDR W1 [W2...]   write registers (16), even for one word
 *   wr UNIT ADDR W            write one register (6)
 *   wc UNIT ADDR 0|1          write one coil (5)
 * Numbers may be decimal or 0x hex. --timeout is the response timeout (default 1 s); PARITY is
 * N, E or O (8 data bits, 1 stop bit).
 *
 * Exit status: 0 every op succeeded; 1 a Modbus exception reply; 2 usage; 3 a connection error
 * (cannot connect, timeout, connection reset); 4 a reply that is not a valid answer (bad CRC,
 * wrong unit or length).
 */
#include <modbus/modbus.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char* why) {
  fprintf(stderr, "kwh-libmodbus-client: %s\n", why);
  fprintf(stderr, "usage: kwh-libmodbus-client [--timeout SECONDS] [--debug] (--tcp HOST:PORT | --rtu DEVICE BAUD "
                  "PARITY) OP...\n  ops: rh|ri|rc UNIT ADDR COUNT, wh UNIT ADDR W1 [W2...], wr UNIT ADDR W, "
                  "wc UNIT ADDR 0|1\n");
  return 2;
}

static int number(const char* s, long lo, long hi, long* out) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 0);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* The exit code for the errno libmodbus left. */
static int code_of(int e) {
  if (e > MODBUS_ENOBASE && e <= EMBXGTAR) return 1;
  if (e >= EMBBADCRC && e <= EMBBADSLAVE) return 4;
  return 3;
}

static int fail(void) {
  int e = errno;
  printf("error %s\n", modbus_strerror(e));
  fflush(stdout);
  return code_of(e);
}

int main(int argc, char** argv) {
  double timeout = 1.0;
  int debug = 0;
  modbus_t* ctx = NULL;
  int i = 1;
  for (; i < argc; ++i) {
    const char* a = argv[i];
    if (!strcmp(a, "--debug")) {
      debug = 1;
    } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
      char* end;
      timeout = strtod(argv[++i], &end);
      if (*end || timeout <= 0 || timeout > 600) return usage("bad --timeout");
    } else if (!strcmp(a, "--tcp") && i + 1 < argc && !ctx) {
      const char* at = argv[++i];
      const char* colon = strrchr(at, ':');
      long port;
      if (!colon || number(colon + 1, 1, 65535, &port) != 0) return usage("--tcp needs HOST:PORT");
      char* host = strndup(at, (size_t)(colon - at));
      ctx = modbus_new_tcp(host, (int)port);
      free(host);
      if (!ctx) return usage(modbus_strerror(errno));
    } else if (!strcmp(a, "--rtu") && i + 3 < argc && !ctx) {
      const char* dev = argv[i + 1];
      long baud;
      const char* parity = argv[i + 3];
      if (number(argv[i + 2], 1, 4000000, &baud) != 0) return usage("bad baud rate");
      if (strlen(parity) != 1 || !strchr("NEO", parity[0])) return usage("parity is N, E or O");
      ctx = modbus_new_rtu(dev, (int)baud, parity[0], 8, 1);
      if (!ctx) return usage(modbus_strerror(errno));
      i += 3;
    } else {
      break;
    }
  }
  if (!ctx) return usage("give --tcp or --rtu");
  if (i >= argc) return usage("no ops");

  modbus_set_debug(ctx, debug);
  uint32_t sec = (uint32_t)timeout;
  modbus_set_response_timeout(ctx, sec, (uint32_t)((timeout - sec) * 1e6));
  if (modbus_connect(ctx) != 0) {
    fail();
    modbus_free(ctx);
    return 3;
  }

  int rc = 0;
  while (i < argc && rc == 0) {
    const char* op = argv[i++];
    long unit, addr, n;
    if (strcmp(op, "rh") && strcmp(op, "ri") && strcmp(op, "rc") && strcmp(op, "wh") && strcmp(op, "wr") &&
        strcmp(op, "wc")) {
      rc = usage("unknown op");
      break;
    }
    if (i + 2 > argc || number(argv[i], 0, 255, &unit) != 0 || number(argv[i + 1], 0, 65535, &addr) != 0) {
      rc = usage("an op needs UNIT ADDR and more");
      break;
    }
    i += 2;
    if (modbus_set_slave(ctx, (int)unit) != 0) {
      rc = usage("bad unit");
      break;
    }
    if (!strcmp(op, "rh") || !strcmp(op, "ri") || !strcmp(op, "rc")) {
      if (i >= argc || number(argv[i], 1, 2000, &n) != 0) {
        rc = usage("a read needs COUNT");
        break;
      }
      ++i;
      uint16_t words[2000];
      uint8_t bits[2000];
      int got;
      if (op[1] == 'h') got = modbus_read_registers(ctx, (int)addr, (int)n, words);
      else if (op[1] == 'i') got = modbus_read_input_registers(ctx, (int)addr, (int)n, words);
      else got = modbus_read_bits(ctx, (int)addr, (int)n, bits);
      if (got < 0) {
        rc = fail();
        break;
      }
      printf("ok");
      for (int k = 0; k < got; ++k) printf(" %u", op[1] == 'c' ? (unsigned)bits[k] : (unsigned)words[k]);
      printf("\n");
    } else if (!strcmp(op, "wh")) {
      uint16_t words[123];
      int count = 0;
      long w;
      while (i < argc && count < 123 && number(argv[i], 0, 65535, &w) == 0) {
        words[count++] = (uint16_t)w;
        ++i;
      }
      if (count == 0) {
        rc = usage("wh needs words");
        break;
      }
      if (modbus_write_registers(ctx, (int)addr, count, words) < 0) {
        rc = fail();
        break;
      }
      printf("ok\n");
    } else if (!strcmp(op, "wr") || !strcmp(op, "wc")) {
      if (i >= argc || number(argv[i], 0, op[1] == 'c' ? 1 : 65535, &n) != 0) {
        rc = usage(op[1] == 'c' ? "wc needs 0 or 1" : "wr needs a word");
        break;
      }
      ++i;
      int r = op[1] == 'c' ? modbus_write_bit(ctx, (int)addr, (int)n) : modbus_write_register(ctx, (int)addr, (int)n);
      if (r < 0) {
        rc = fail();
        break;
      }
      printf("ok\n");
    }
    fflush(stdout);
  }
  modbus_close(ctx);
  modbus_free(ctx);
  return rc;
}
