/* kwh-libmodbus-server: a Modbus TCP server built on libmodbus, a peer kwh did not write, for
 * the interop end-to-end tests. It serves the acrel-ddsy1352 holding-register map
 * (examples/profiles/acrel-ddsy1352.toml) for units 1 to N on one port:
 *
 *   0x0000 energy_total  u32, high word first, 0.01 kWh: the sum of the four bands below
 *   0x0002 energy_sharp  u32      0x0004 energy_peak  u32
 *   0x0006 energy_flat   u32      0x0008 energy_valley u32
 *   0x000B voltage_a     u16 0.1 V     0x000C current_a  u16 0.01 A
 *   0x000D power_total   i16 W         0x0010 power_factor i16 0.001
 *   0x0057 relay control pair: 0001 0000 closed (power on), 0001 0001 tripped (power off),
 *          written with function 16 (two registers); 0x0058, its second word, is the relay's
 *          state as the profile's [relay.status] reads it.
 *
 *   kwh-libmodbus-server [--listen HOST:PORT] [--units N] [--bands S,P,F,V]
 *       [--grow-wh-per-s W] [--strict] [--debug]
 *
 * --bands gives unit 1's four bands in register units (0.01 kWh); unit u serves u times
 * them, so that two units never read alike (default 1234,2345,71234,3456: the flat band and
 * the total need the high word). --grow-wh-per-s makes the flat band (and the total) grow by
 * W Wh a second of wall time while the relay is closed; it stops while the relay is tripped.
 * While tripped, current and power read 0.
 *
 * Units: a request for a unit outside 1..N is answered with exception 11 (gateway target
 * device failed to respond), as a TCP gateway does for a device that is not on its bus (and
 * as kwh sim does); unit 0 (broadcast) gets no reply.
 *
 * Reads: function 3. Non-strict, holding registers 0x0000..0x00FF read (unmapped ones as 0)
 * and anything beyond is exception 2 (libmodbus's own check). --strict: a read that touches
 * any register that is not one of the profile's values or the relay pair is exception 2
 * (illegal data address), as real meters do. Functions 1, 2 and 4 are exception 2 (nothing in
 * those tables, libmodbus's check).
 * Writes: only the relay pair, function 16 at 0x0057 with two registers; any other words
 * there are exception 3 (illegal data value); any other write (functions 5, 6, 15, or 16
 * elsewhere) is exception 2. Any other function is exception 1 (illegal function).
 *
 * The first line of output is "libmodbus server: units 1-N on HOST:PORT" (port 0 picks a free
 * one, printed). SIGTERM or SIGINT: exit 0. Exit 2 usage, 3 cannot listen.
 */
#include <modbus/modbus.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_UNITS 247
#define NB_REGISTERS 0x100
#define RELAY_ADDR 0x0057

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

struct unit {
  modbus_mapping_t* map;
  uint32_t bands[4]; /* register units: sharp, peak, flat, valley */
  double grown_wh;   /* energy added to the flat band, in Wh */
  int tripped;
};

static struct unit g_units[MAX_UNITS + 1];
static int g_nunits = 1;
static double g_grow_wh_per_s = 0;
static int g_strict = 0;
static double g_last_fold = 0;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is ADDR one of the profile's registers (a value or the relay pair)? */
static int mapped(int addr) {
  return (addr >= 0x0000 && addr <= 0x0009) || addr == 0x000B || addr == 0x000C || addr == 0x000D ||
         addr == 0x0010 || addr == RELAY_ADDR || addr == RELAY_ADDR + 1;
}

static void put_u32(uint16_t* regs, int addr, uint32_t v) {
  regs[addr] = (uint16_t)(v >> 16);
  regs[addr + 1] = (uint16_t)(v & 0xFFFF);
}

/* Energy grows with wall time for every unit whose relay is closed. */
static void fold(void) {
  double t = now_s();
  double dt = t - g_last_fold;
  g_last_fold = t;
  if (g_grow_wh_per_s <= 0) return;
  for (int u = 1; u <= g_nunits; ++u)
    if (!g_units[u].tripped) g_units[u].grown_wh += g_grow_wh_per_s * dt;
}

/* The registers from the unit's state. */
static void refresh(int u) {
  struct unit* un = &g_units[u];
  uint16_t* r = un->map->tab_registers;
  uint32_t flat = un->bands[2] + (uint32_t)floor(un->grown_wh / 10.0);
  uint32_t total = un->bands[0] + un->bands[1] + flat + un->bands[3];
  put_u32(r, 0x0000, total);
  put_u32(r, 0x0002, un->bands[0]);
  put_u32(r, 0x0004, un->bands[1]);
  put_u32(r, 0x0006, flat);
  put_u32(r, 0x0008, un->bands[3]);
  r[0x000B] = 2301;                                  /* 230.1 V */
  r[0x000C] = un->tripped ? 0 : 452;                 /* 4.52 A */
  r[0x000D] = un->tripped ? 0 : 1040;                /* 1040 W */
  r[0x0010] = (uint16_t)(int16_t)(un->tripped ? 1000 : 980); /* 0.98 */
  r[RELAY_ADDR] = 1;
  r[RELAY_ADDR + 1] = un->tripped ? 1 : 0;
}

static int parse_bands(const char* s, uint32_t out[4]) {
  char* end;
  for (int i = 0; i < 4; ++i) {
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || v > 0xFFFFFFFFul / MAX_UNITS) return -1;
    out[i] = (uint32_t)v;
    if (i < 3) {
      if (*end != ',') return -1;
      s = end + 1;
    } else if (*end) {
      return -1;
    }
  }
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: kwh-libmodbus-server [--listen HOST:PORT] [--units N] [--bands S,P,F,V] "
                  "[--grow-wh-per-s W] [--strict] [--debug]\n");
  return 2;
}

/* One request on CTX's socket; its unit is the byte before the function code. */
static void handle(modbus_t* ctx, const uint8_t* q, int len) {
  int hl = modbus_get_header_length(ctx);
  int unit = q[hl - 1];
  int function = q[hl];
  int addr = (q[hl + 1] << 8) | q[hl + 2];
  int count = (q[hl + 3] << 8) | q[hl + 4];

  if (unit == 0) return; /* broadcast: nobody answers */
  if (unit > g_nunits) {
    modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_GATEWAY_TARGET);
    return;
  }
  fold();
  struct unit* un = &g_units[unit];
  switch (function) {
  case MODBUS_FC_READ_HOLDING_REGISTERS:
    if (g_strict) {
      for (int a = addr; a < addr + count; ++a)
        if (!mapped(a)) {
          modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
          return;
        }
    }
    break;
  case MODBUS_FC_READ_COILS:
  case MODBUS_FC_READ_DISCRETE_INPUTS:
  case MODBUS_FC_READ_INPUT_REGISTERS:
    break; /* empty tables in the mapping: libmodbus answers exception 2 */
  case MODBUS_FC_WRITE_MULTIPLE_REGISTERS: {
    if (addr != RELAY_ADDR || count != 2 || len < hl + 10) {
      modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
      return;
    }
    /* unit, function, address(2), count(2), byte count(1), then the words */
    int w0 = (q[hl + 6] << 8) | q[hl + 7];
    int w1 = (q[hl + 8] << 8) | q[hl + 9];
    if (w0 != 1 || (w1 != 0 && w1 != 1)) {
      modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
      return;
    }
    un->tripped = w1 == 1;
    break; /* libmodbus stores the words and echoes address and count */
  }
  case MODBUS_FC_WRITE_SINGLE_REGISTER:
  case MODBUS_FC_WRITE_SINGLE_COIL:
  case MODBUS_FC_WRITE_MULTIPLE_COILS:
    modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    return;
  default: /* report slave id, mask write, write and read...: not a meter's */
    modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    return;
  }
  refresh(unit);
  modbus_reply(ctx, q, len, un->map);
  refresh(unit);
}

int main(int argc, char** argv) {
  const char* listen_at = "127.0.0.1:0";
  uint32_t bands[4] = {1234, 2345, 71234, 3456};
  int debug = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--strict")) g_strict = 1;
    else if (!strcmp(a, "--debug")) debug = 1;
    else if (!strcmp(a, "--listen") && v) listen_at = argv[++i];
    else if (!strcmp(a, "--units") && v) {
      g_nunits = atoi(argv[++i]);
      if (g_nunits < 1 || g_nunits > MAX_UNITS) return usage();
    } else if (!strcmp(a, "--bands") && v) {
      if (parse_bands(argv[++i], bands) != 0) return usage();
    } else if (!strcmp(a, "--grow-wh-per-s") && v) {
      char* end;
      g_grow_wh_per_s = strtod(argv[++i], &end);
      if (*end || g_grow_wh_per_s < 0) return usage();
    } else {
      return usage();
    }
  }

  char host[256];
  const char* colon = strrchr(listen_at, ':');
  if (!colon || (size_t)(colon - listen_at) >= sizeof host) return usage();
  memcpy(host, listen_at, (size_t)(colon - listen_at));
  host[colon - listen_at] = 0;
  int port = atoi(colon + 1);

  for (int u = 1; u <= g_nunits; ++u) {
    g_units[u].map = modbus_mapping_new(0, 0, NB_REGISTERS, 0);
    if (!g_units[u].map) {
      fprintf(stderr, "libmodbus server: %s\n", modbus_strerror(errno));
      return 3;
    }
    for (int b = 0; b < 4; ++b) g_units[u].bands[b] = bands[b] * (uint32_t)u;
    refresh(u);
  }
  g_last_fold = now_s();

  modbus_t* ctx = modbus_new_tcp(host, port);
  if (!ctx) {
    fprintf(stderr, "libmodbus server: %s\n", modbus_strerror(errno));
    return 3;
  }
  modbus_set_debug(ctx, debug);
  int server = modbus_tcp_listen(ctx, 16);
  if (server < 0) {
    fprintf(stderr, "libmodbus server: cannot listen on %s: %s\n", listen_at, modbus_strerror(errno));
    return 3;
  }
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  if (getsockname(server, (struct sockaddr*)&sa, &sl) != 0) {
    perror("libmodbus server: getsockname");
    return 3;
  }
  char shown[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, shown, sizeof shown);
  printf("libmodbus server: units 1-%d on %s:%d%s\n", g_nunits, shown, ntohs(sa.sin_port),
         g_strict ? " (strict)" : "");
  fflush(stdout);

  /* SIGTERM/SIGINT are blocked except inside pselect, so that none is lost between checks. */
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_handler = on_signal;
  sigemptyset(&act.sa_mask);
  sigaction(SIGTERM, &act, NULL);
  sigaction(SIGINT, &act, NULL);
  signal(SIGPIPE, SIG_IGN);
  sigset_t blocked, during;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigprocmask(SIG_BLOCK, &blocked, &during);
  sigdelset(&during, SIGTERM);
  sigdelset(&during, SIGINT);

  fd_set all;
  FD_ZERO(&all);
  FD_SET(server, &all);
  int maxfd = server;
  uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  while (!g_stop) {
    fd_set ready = all;
    int n = pselect(maxfd + 1, &ready, NULL, NULL, NULL, &during);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("libmodbus server: select");
      break;
    }
    for (int fd = 0; fd <= maxfd; ++fd) {
      if (!FD_ISSET(fd, &ready)) continue;
      if (fd == server) {
        struct sockaddr_in ca;
        socklen_t cl = sizeof ca;
        int c = accept(server, (struct sockaddr*)&ca, &cl);
        if (c < 0) continue;
        if (c >= FD_SETSIZE) {
          close(c);
          continue;
        }
        FD_SET(c, &all);
        if (c > maxfd) maxfd = c;
        continue;
      }
      modbus_set_socket(ctx, fd);
      int len = modbus_receive(ctx, query);
      if (len > 0) {
        handle(ctx, query, len);
      } else if (len < 0) {
        /* closed by the client, or a frame libmodbus could not make sense of */
        close(fd);
        FD_CLR(fd, &all);
        while (maxfd > server && !FD_ISSET(maxfd, &all)) --maxfd;
      }
    }
  }

  for (int fd = 0; fd <= maxfd; ++fd)
    if (FD_ISSET(fd, &all)) close(fd);
  modbus_set_socket(ctx, -1);
  modbus_free(ctx);
  for (int u = 1; u <= g_nunits; ++u) modbus_mapping_free(g_units[u].map);
  return 0;
}
