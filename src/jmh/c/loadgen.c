/*
 * loadgen.c - load generator and dumb backend for benchmarking a layer-4
 * SNI-routing TLS passthrough proxy (nginx stream + ssl_preread, HAProxy
 * req.ssl_sni, sniproxy, snigate, ...).
 *
 * One single-threaded, non-blocking, epoll-driven program with five modes:
 *
 *   loadgen rate    --connect ADDR --hello FILE [--concurrency 64]
 *                   [--duration S] [--count N] [--resp-bytes 200]
 *                   [--close-after-resp] [--timeout 10] [--expect-prefix STR]
 *                   [--slice S]
 *       Keeps C connections in flight.  Each one connects, sends the
 *       ClientHello file, reads until the peer closes (or until --resp-bytes
 *       bytes arrived, with --close-after-resp), closes, and is replaced.
 *       Reports connections/s and latency percentiles: connect() to first
 *       response byte (ttfb) and connect() to end of connection (total).
 *       --slice S also prints "SLICE t_s=.. ok=.. errors=.." every S seconds
 *       (connections completed in that slice), for warm-up curves.
 *
 *   loadgen open    --connect ADDR --hello FILE --rate R [--duration 10]
 *                   [--timeout 10] [--expect-prefix STR] [--max-inflight 8192]
 *                   [--progress] [--timeline FILE]
 *       Open loop: starts R connections a second on a fixed schedule, however
 *       slowly the server answers, each doing what a rate connection does.
 *       Reports p50/p90/p99/p99.9/max of the connection time, counted from
 *       the connection's place in the schedule to the end of its answer, over
 *       every scheduled connection: a failed one (refused, reset, short, a bad
 *       answer, not complete within --timeout, or not started because
 *       --max-inflight were open) counts as slower than any that succeeded,
 *       so a percentile that falls among them prints "inf".  Also the start
 *       lag (actual start - scheduled start), the tool's own delay.  Runs
 *       --duration s or until SIGINT/SIGTERM, then lets the open connections
 *       finish (at most --timeout s).  --progress: a line of totals on stderr
 *       every second.  --timeline FILE: one line per connection that succeeded,
 *       "SCHEDULED TOTAL": when it was due, in ns since the epoch (to line up
 *       with a JFR recording or a log), and how long it took in ns.
 *
 *   loadgen bulk    --connect ADDR --hello FILE [--conns 4] [--bytes 2G]
 *       K connections send the ClientHello, then read BYTES/K bytes each as
 *       fast as possible (MSG_TRUNC: the kernel discards the data without a
 *       copy to user space, unless --copy).  Reports MiB/s.
 *
 *   loadgen idle    --connect ADDR --hello FILE [--conns 10000] [--hold 10]
 *                   [--open-parallel 128] [--ready-file FILE] [--release-file FILE]
 *       Opens N connections (at most P connects pending at a time), sends
 *       the ClientHello on each, writes READY-FILE once all are open, keeps
 *       them open HOLD seconds (or until RELEASE-FILE appears, whichever
 *       comes first), then closes them all.
 *
 *   loadgen backend --listen ADDR --mode rate|bulk|idle [--resp-bytes 200]
 *                   [--hello FILE] [--sendfile] [--max-seconds 900]
 *       Plain TCP server (no TLS).  Reads the ClientHello (the first bytes
 *       that arrive, or exactly as many bytes as FILE has when --hello is
 *       given, then compares them with FILE), then:
 *         rate: writes a RESP-BYTES response beginning with "SNIBENCH OK\n"
 *               ("SNIBENCH BAD\n" when the bytes differ from FILE) and closes;
 *         bulk: streams bytes (send() of a 4 MiB buffer, or sendfile() from
 *               a memfd with --sendfile) until the client closes;
 *         idle: holds the connection until the client closes.
 *
 * Clients send the ClientHello right after connect() when the socket is
 * already connected (the usual case on loopback), else on EPOLLOUT; the
 * backend reads right after accept() before it waits on epoll.  Both save
 * syscalls, so that the rig costs as little CPU as possible next to the
 * proxy under test.
 *
 * ADDR is IP:PORT or [IPv6]:PORT and must be a loopback address
 * (127.0.0.0/8 or ::1): the tool refuses anything else.
 *
 * Every mode is bounded in time (--duration/--count, --max-seconds) and
 * stops by itself.  Client modes print one machine-readable line on stdout,
 * "RESULT key=value ...", and a human summary on stderr.  SIGINT/SIGTERM
 * stop a mode early and still print the report.
 *
 * Build: gcc -O2 -Wall -Wextra -o loadgen loadgen.c   (src/jmh/sh/bench-lib.sh does it)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_HELLO (64 * 1024)
#define MAX_EVENTS 512

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) { (void)sig; g_stop = 1; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static double cpu_seconds_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* "2G", "512M", "64K", "1GiB", "1000" -> bytes (binary multiples) */
static long long parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        die("bad size '%s'", s);
    long long mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024LL; break;
    case 'm': case 'M': mul = 1024LL * 1024; break;
    case 'g': case 'G': mul = 1024LL * 1024 * 1024; break;
    case '\0': break;
    default: die("bad size suffix in '%s'", s);
    }
    return (long long)(v * (double)mul);
}

struct addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* IP:PORT or [IPv6]:PORT; loopback only. */
static void parse_addr(const char *s, struct addr *a)
{
    char host[128];
    const char *port;
    memset(a, 0, sizeof *a);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
            die("bad address '%s' (want [IPv6]:PORT)", s);
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        port = rb + 2;
    } else {
        const char *c = strrchr(s, ':');
        if (!c || (size_t)(c - s) >= sizeof host)
            die("bad address '%s' (want IP:PORT)", s);
        memcpy(host, s, (size_t)(c - s));
        host[c - s] = '\0';
        port = c + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
        die("bad port in '%s'", s);

    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        a->len = sizeof *v4;
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
            die("refusing non-loopback address '%s' (127.0.0.0/8 or ::1 only)", s);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        a->len = sizeof *v6;
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
            die("refusing non-loopback address '%s' (127.0.0.0/8 or ::1 only)", s);
    } else {
        die("bad IP in '%s' (numeric loopback addresses only)", s);
    }
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, cap, f);
    if (!feof(f))
        die("%s is larger than %zu bytes", path, cap);
    fclose(f);
    if (n == 0)
        die("%s is empty", path);
    return n;
}

/* Raise RLIMIT_NOFILE to at least `need` (raising the hard limit too when
 * allowed, i.e. as root).  Returns the soft limit in force afterwards. */
static rlim_t raise_nofile(rlim_t need)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= need)
        return rl.rlim_cur;
    struct rlimit want = rl;
    want.rlim_cur = need;
    if (want.rlim_max < need)
        want.rlim_max = need;
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
        want.rlim_cur = rl.rlim_max;
        want.rlim_max = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &want);
        fprintf(stderr, "loadgen: warning: could not raise RLIMIT_NOFILE to %llu, using %llu\n",
                (unsigned long long)need, (unsigned long long)want.rlim_cur);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

/* latency samples in microseconds */
struct samples {
    uint32_t *v;
    size_t n, cap;
};

static void sample_push(struct samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            die("out of memory");
    }
    uint64_t us = ns / 1000;
    s->v[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest-rank percentile of sorted samples */
static uint32_t pct(const struct samples *s, double p)
{
    if (s->n == 0)
        return 0;
    size_t rank = (size_t)((p / 100.0) * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

static double mean_us(const struct samples *s)
{
    if (s->n == 0)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return sum / (double)s->n;
}

/* ------------------------------------------------------------------ */
/* options                                                              */
/* ------------------------------------------------------------------ */

struct opts {
    const char *mode;
    const char *connect_to;
    const char *listen_on;
    const char *hello_path;
    const char *expect_prefix;
    const char *ready_file;
    const char *timeline;
    const char *release_file;
    const char *backend_mode;
    int concurrency;
    int conns;
    int open_parallel;
    int close_after_resp;
    int copy;
    int progress;
    int max_inflight;
    int use_sendfile;
    double duration;
    double rate;
    double slice;
    double timeout;
    double hold;
    double open_timeout;
    double max_seconds;
    long long count;
    long long bytes;
    long resp_bytes;
};

static void usage(void)
{
    fprintf(stderr,
        "usage:\n"
        "  loadgen rate    --connect ADDR --hello FILE [--concurrency 64] [--duration S] [--count N]\n"
        "                  [--resp-bytes 200] [--close-after-resp] [--timeout 10] [--expect-prefix STR]\n"
        "                  [--max-seconds S] [--slice S]\n"
        "  loadgen open    --connect ADDR --hello FILE --rate R [--duration 10] [--resp-bytes 200]\n"
        "                  [--timeout 10] [--expect-prefix STR] [--max-inflight 8192] [--progress]\n"
        "                  [--timeline FILE]\n"
        "  loadgen bulk    --connect ADDR --hello FILE [--conns 4] [--bytes 2G] [--copy] [--timeout 10]\n"
        "                  [--max-seconds 120]\n"
        "  loadgen idle    --connect ADDR --hello FILE [--conns 10000] [--hold 10] [--open-parallel 128]\n"
        "                  [--open-timeout 60] [--ready-file FILE] [--release-file FILE]\n"
        "  loadgen backend --listen ADDR --mode rate|bulk|idle [--resp-bytes 200] [--hello FILE]\n"
        "                  [--sendfile] [--max-seconds 900]\n"
        "ADDR: IP:PORT or [IPv6]:PORT on loopback (127.0.0.0/8, ::1).\n");
    exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->concurrency = 64;
    o->conns = -1;
    o->open_parallel = 128;
    o->max_inflight = 8192;
    o->timeout = 10;
    o->hold = 10;
    o->open_timeout = 60;
    o->max_seconds = -1;
    o->bytes = 2LL * 1024 * 1024 * 1024;
    o->resp_bytes = 200;
    if (argc < 2)
        usage();
    o->mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
#define NEEDV() do { if (i + 1 >= argc) die("%s needs a value", k); } while (0)
#define ARG(name) (strcmp(k, name) == 0)
        if (ARG("--close-after-resp")) { o->close_after_resp = 1; continue; }
        if (ARG("--copy")) { o->copy = 1; continue; }
        if (ARG("--sendfile")) { o->use_sendfile = 1; continue; }
        if (ARG("--progress")) { o->progress = 1; continue; }
        if (ARG("-h") || ARG("--help")) usage();
        NEEDV();
        const char *v = argv[++i];
        if (ARG("--connect")) o->connect_to = v;
        else if (ARG("--listen")) o->listen_on = v;
        else if (ARG("--hello")) o->hello_path = v;
        else if (ARG("--expect-prefix")) o->expect_prefix = v;
        else if (ARG("--ready-file")) o->ready_file = v;
        else if (ARG("--timeline")) o->timeline = v;
        else if (ARG("--release-file")) o->release_file = v;
        else if (ARG("--mode")) o->backend_mode = v;
        else if (ARG("--concurrency") || ARG("-c")) o->concurrency = atoi(v);
        else if (ARG("--conns")) o->conns = atoi(v);
        else if (ARG("--open-parallel")) o->open_parallel = atoi(v);
        else if (ARG("--duration") || ARG("-d")) o->duration = atof(v);
        else if (ARG("--rate")) o->rate = atof(v);
        else if (ARG("--slice")) o->slice = atof(v);
        else if (ARG("--max-inflight")) o->max_inflight = atoi(v);
        else if (ARG("--timeout")) o->timeout = atof(v);
        else if (ARG("--hold")) o->hold = atof(v);
        else if (ARG("--open-timeout")) o->open_timeout = atof(v);
        else if (ARG("--max-seconds")) o->max_seconds = atof(v);
        else if (ARG("--count") || ARG("-n")) o->count = atoll(v);
        else if (ARG("--bytes")) o->bytes = parse_size(v);
        else if (ARG("--resp-bytes")) o->resp_bytes = (long)parse_size(v);
        else die("unknown option %s", k);
#undef ARG
#undef NEEDV
    }
}

/* ------------------------------------------------------------------ */
/* client side: shared connection plumbing                              */
/* ------------------------------------------------------------------ */

enum cstate { C_IDLE = 0, C_CONNECTING, C_WRITING, C_READING, C_HELD };

struct cconn {
    int fd;
    enum cstate state;
    uint32_t gen;
    uint64_t t0, t1;
    size_t sent;
    long long got;
    long long quota;      /* bulk: bytes to read */
    char pfx[32];
    int pfxn;
};

static unsigned char g_hello[MAX_HELLO];
static size_t g_hello_len;
static struct addr g_target;
static int g_ep;

static uint64_t ev_key(uint32_t idx, uint32_t gen) { return ((uint64_t)gen << 32) | idx; }

/* Starts a non-blocking connect.  Returns 0 when under way, -1 on an
 * immediate failure (errno set). */
static int cconn_start(struct cconn *c, uint32_t idx)
{
    c->fd = socket(g_target.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    c->gen++;
    c->t0 = now_ns();
    c->t1 = 0;
    c->sent = 0;
    c->got = 0;
    c->pfxn = 0;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&g_target.ss, g_target.len) != 0 && errno != EINPROGRESS)
        goto fail;
    /* On loopback the handshake has usually completed by the time connect()
     * returns EINPROGRESS: send the hello at once and save an epoll round
     * trip; fall back to waiting for EPOLLOUT when it has not. */
    c->state = C_CONNECTING;
    uint32_t events = EPOLLOUT;
    ssize_t w = send(c->fd, g_hello, g_hello_len, MSG_NOSIGNAL);
    if (w > 0) {
        c->sent = (size_t)w;
        c->state = c->sent == g_hello_len ? C_READING : C_WRITING;
        events = c->state == C_READING ? EPOLLIN : EPOLLOUT;
    } else if (errno != EAGAIN && errno != ENOTCONN && errno != EINTR) {
        goto fail;
    }
    struct epoll_event ev = { .events = events, .data.u64 = ev_key(idx, c->gen) };
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    return 0;
fail:;
    int e = errno;
    close(c->fd);
    c->fd = -1;
    c->state = C_IDLE;
    errno = e;
    return -1;
}

/* Connect completion and ClientHello write.  Returns 1 when the hello is
 * fully written (state moves to C_READING with EPOLLIN interest), 0 when
 * more writing is pending, -1 on connect error, -2 on write error. */
static int cconn_connect_and_send(struct cconn *c, uint32_t idx, uint32_t events)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (!err && (events & (EPOLLERR | EPOLLHUP)))
            err = ECONNRESET;
        if (err) {
            errno = err;
            return -1;
        }
        if (!(events & EPOLLOUT))
            return 0;
        c->state = C_WRITING;
    }
    while (c->sent < g_hello_len) {
        ssize_t w = send(c->fd, g_hello + c->sent, g_hello_len - c->sent, MSG_NOSIGNAL);
        if (w > 0) {
            c->sent += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        } else {
            return -2;
        }
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ev_key(idx, c->gen) };
    if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    c->state = C_READING;
    return 1;
}

static void cconn_close(struct cconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = C_IDLE;
}

/* N connection slots, all closed, and the stack of free ones (every slot); returns its size. */
static int slot_pool(int n, struct cconn **cs, uint32_t **idle)
{
    *cs = calloc((size_t)n, sizeof **cs);
    *idle = malloc((size_t)n * sizeof **idle);
    if (!*cs || !*idle)
        die("out of memory");
    int nidle = 0;
    for (int i = n - 1; i >= 0; i--) {
        (*cs)[i].fd = -1;
        (*idle)[nidle++] = (uint32_t)i;
    }
    return nidle;
}

static void client_common_setup(const struct opts *o)
{
    if (!o->connect_to)
        die("--connect is required");
    if (!o->hello_path)
        die("--hello is required");
    parse_addr(o->connect_to, &g_target);
    g_hello_len = read_file(o->hello_path, g_hello, sizeof g_hello);
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0)
        die("epoll_create1: %s", strerror(errno));
}

/* What reading an answer came to: more to come, complete (ANS_OK_RST: complete, then a reset),
 * or why it failed. */
enum rstep { ANS_MORE = 0, ANS_OK, ANS_OK_RST, ANS_SHORT, ANS_RESET, ANS_READ };

/* Reads what has arrived of the backend's answer (rate and open modes): the time of its first
 * byte in t1, its first bytes in pfx. Complete once the peer closed after --resp-bytes bytes,
 * or, with --close-after-resp, as soon as they are there. */
static enum rstep cconn_read_answer(struct cconn *c, const struct opts *o)
{
    static unsigned char buf[64 * 1024];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r > 0) {
            if (c->got == 0)
                c->t1 = now_ns();
            if ((size_t)c->pfxn < sizeof c->pfx) {
                size_t take = sizeof c->pfx - (size_t)c->pfxn;
                if (take > (size_t)r)
                    take = (size_t)r;
                memcpy(c->pfx + c->pfxn, buf, take);
                c->pfxn += (int)take;
            }
            c->got += r;
            if (o->close_after_resp && c->got >= o->resp_bytes)
                return ANS_OK;
        } else if (r == 0) {
            return c->got >= o->resp_bytes && c->got > 0 ? ANS_OK : ANS_SHORT;
        } else if (errno == EAGAIN || errno == EINTR) {
            return ANS_MORE;
        } else if (errno == ECONNRESET) {
            return c->got >= o->resp_bytes && c->got > 0 ? ANS_OK_RST : ANS_RESET;
        } else {
            return ANS_READ;
        }
    }
}

/* The answer began with --expect-prefix (always true without one). */
static int cconn_prefix_ok(const struct cconn *c, const struct opts *o)
{
    size_t n = o->expect_prefix ? strlen(o->expect_prefix) : 0;
    return n == 0 || ((size_t)c->pfxn >= n && !memcmp(c->pfx, o->expect_prefix, n));
}

/* ------------------------------------------------------------------ */
/* rate mode                                                            */
/* ------------------------------------------------------------------ */

static int run_rate(const struct opts *o)
{
    client_common_setup(o);
    int C = o->concurrency;
    if (C < 1 || C > 100000)
        die("bad --concurrency");
    if (o->duration <= 0 && o->count <= 0)
        die("rate needs --duration and/or --count");
    raise_nofile((rlim_t)C + 64);

    struct cconn *cs;
    uint32_t *idle;
    int nidle = slot_pool(C, &cs, &idle);

    struct samples ttfb = {0}, total = {0};
    long long started = 0, ok = 0, e_connect = 0, e_write = 0, e_reset = 0, e_read = 0,
              e_short = 0, e_timeout = 0, e_prefix = 0, e_start = 0, rst_after_data = 0;
    long long resp_bytes_total = 0;
    if (o->expect_prefix && strlen(o->expect_prefix) > sizeof cs[0].pfx)
        die("--expect-prefix too long");

    uint64_t t_begin = now_ns();
    uint64_t stop_start_at = o->duration > 0 ? t_begin + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
    double max_s = o->max_seconds > 0 ? o->max_seconds
                 : (o->duration > 0 ? o->duration + o->timeout + 5 : 600);
    uint64_t hard_deadline = t_begin + (uint64_t)(max_s * 1e9);
    uint64_t t_last_done = t_begin, next_timeout_scan = t_begin;
    /* --slice: connections completed in each slice of the run, as they happen (warm-up curves) */
    uint64_t slice_ns = o->slice > 0 ? (uint64_t)(o->slice * 1e9) : 0;
    uint64_t next_slice = slice_ns ? t_begin + slice_ns : UINT64_MAX;
    long long slice_ok = 0, slice_errors = 0;
    int inflight = 0;
    struct epoll_event evs[MAX_EVENTS];

#define FINISH(c, okflag) do {                                                   \
        uint64_t _t = now_ns();                                                  \
        int _ok = (okflag);                                                      \
        if (_ok && !cconn_prefix_ok((c), o)) {                                   \
            e_prefix++; _ok = 0;                                                 \
        }                                                                        \
        if (_ok) {                                                               \
            ok++;                                                                \
            sample_push(&ttfb, (c)->t1 - (c)->t0);                               \
            sample_push(&total, _t - (c)->t0);                                   \
            resp_bytes_total += (c)->got;                                        \
        }                                                                        \
        t_last_done = _t;                                                        \
        cconn_close(c);                                                          \
        inflight--;                                                              \
        idle[nidle++] = (uint32_t)((c) - cs);                                    \
    } while (0)

    for (;;) {
        uint64_t now = now_ns();
        int can_start = !g_stop && now < stop_start_at && (o->count <= 0 || started < o->count);
        int start_failed = 0;
        while (can_start && nidle > 0 && (o->count <= 0 || started < o->count)) {
            uint32_t i = idle[--nidle];
            started++;
            if (cconn_start(&cs[i], i) != 0) {
                e_start++;
                idle[nidle++] = i;
                start_failed = 1;
                break; /* back off ~1 ms instead of spinning */
            }
            inflight++;
        }
        if (inflight == 0 && (!can_start || (o->count > 0 && started >= o->count)))
            break;
        if (now >= hard_deadline) {
            for (int i = 0; i < C; i++)
                if (cs[i].state != C_IDLE) {
                    e_timeout++;
                    FINISH(&cs[i], 0);
                }
            break;
        }
        int n = epoll_wait(g_ep, evs, MAX_EVENTS, start_failed ? 1 : 50);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            uint32_t i = (uint32_t)evs[k].data.u64;
            uint32_t gen = (uint32_t)(evs[k].data.u64 >> 32);
            struct cconn *c = &cs[i];
            if (c->state == C_IDLE || c->gen != gen)
                continue;
            uint32_t e = evs[k].events;
            if (c->state == C_CONNECTING || c->state == C_WRITING) {
                int r = cconn_connect_and_send(c, i, e);
                if (r == -1) { e_connect++; FINISH(c, 0); }
                else if (r == -2) { e_write++; FINISH(c, 0); }
                continue; /* response can only follow the hello: wait for EPOLLIN */
            }
            /* C_READING */
            switch (cconn_read_answer(c, o)) {
            case ANS_MORE: break;
            case ANS_OK: FINISH(c, 1); break;
            case ANS_OK_RST: rst_after_data++; FINISH(c, 1); break;
            case ANS_SHORT: e_short++; FINISH(c, 0); break;
            case ANS_RESET: e_reset++; FINISH(c, 0); break;
            case ANS_READ: e_read++; FINISH(c, 0); break;
            }
        }
        now = now_ns();
        if (now >= next_timeout_scan) {
            next_timeout_scan = now + 100000000ull;
            uint64_t lim = (uint64_t)(o->timeout * 1e9);
            for (int i = 0; i < C; i++)
                if (cs[i].state != C_IDLE && now - cs[i].t0 > lim) {
                    e_timeout++;
                    FINISH(&cs[i], 0);
                }
        }
        if (now >= next_slice) {
            long long errs = e_connect + e_write + e_reset + e_read + e_short + e_timeout + e_prefix + e_start;
            printf("SLICE t_s=%.3f ok=%lld errors=%lld\n", (double)(next_slice - t_begin) / 1e9,
                   ok - slice_ok, errs - slice_errors);
            slice_ok = ok;
            slice_errors = errs;
            next_slice += slice_ns;
        }
    }
#undef FINISH

    double elapsed = (double)(t_last_done - t_begin) / 1e9;
    if (elapsed <= 0)
        elapsed = 1e-9;
    long long errors = e_connect + e_write + e_reset + e_read + e_short + e_timeout + e_prefix + e_start;
    qsort(ttfb.v, ttfb.n, sizeof *ttfb.v, cmp_u32);
    qsort(total.v, total.n, sizeof *total.v, cmp_u32);
    double cps = (double)ok / elapsed;
    double cpu = cpu_seconds_self();

    printf("RESULT mode=rate conc=%d elapsed_s=%.3f ok=%lld errors=%lld rate_cps=%.1f "
           "ttfb_p50_us=%u ttfb_p90_us=%u ttfb_p99_us=%u ttfb_max_us=%u ttfb_mean_us=%.0f "
           "total_p50_us=%u total_p90_us=%u total_p99_us=%u total_max_us=%u total_mean_us=%.0f "
           "err_start=%lld err_connect=%lld err_write=%lld err_reset=%lld err_read=%lld "
           "err_short=%lld err_timeout=%lld err_prefix=%lld rst_after_data=%lld "
           "resp_bytes=%lld loadgen_cpu_s=%.3f\n",
           C, elapsed, ok, errors, cps,
           pct(&ttfb, 50), pct(&ttfb, 90), pct(&ttfb, 99), pct(&ttfb, 100), mean_us(&ttfb),
           pct(&total, 50), pct(&total, 90), pct(&total, 99), pct(&total, 100), mean_us(&total),
           e_start, e_connect, e_write, e_reset, e_read, e_short, e_timeout, e_prefix,
           rst_after_data, resp_bytes_total, cpu);
    fprintf(stderr,
            "rate: %lld ok, %lld errors in %.2f s = %.0f conn/s (concurrency %d)\n"
            "  ttfb  us: p50 %u  p90 %u  p99 %u  max %u\n"
            "  total us: p50 %u  p90 %u  p99 %u  max %u\n"
            "  loadgen cpu %.2f s\n",
            ok, errors, elapsed, cps, C,
            pct(&ttfb, 50), pct(&ttfb, 90), pct(&ttfb, 99), pct(&ttfb, 100),
            pct(&total, 50), pct(&total, 90), pct(&total, 99), pct(&total, 100), cpu);
    return errors > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* open mode                                                            */
/* ------------------------------------------------------------------ */

/* Nearest-rank percentile over every scheduled connection, the failed ones counted as slower
 * than any that succeeded: "inf" when the rank falls among them. */
static void print_pct(const char *key, const struct samples *ok_sorted, long long failed, double p)
{
    long long n = (long long)ok_sorted->n + failed;
    long long rank = (long long)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (n == 0 || rank > (long long)ok_sorted->n)
        printf(" %s=inf", key);
    else
        printf(" %s=%u", key, ok_sorted->v[rank - 1]);
}

/* Sleeps in epoll until an event or the absolute time `until` (ns), to the microsecond where
 * the kernel has epoll_pwait2: a connection's latency counts from its place in the schedule, so
 * waking late would add to it. */
static int epoll_wait_until(struct epoll_event *evs, int max, uint64_t until)
{
    uint64_t now = now_ns();
    uint64_t d = until > now ? until - now : 0;
#ifdef SYS_epoll_pwait2
    static int no_pwait2;
    if (!no_pwait2) {
        struct timespec ts = { .tv_sec = (time_t)(d / 1000000000ull), .tv_nsec = (long)(d % 1000000000ull) };
        int n = (int)syscall(SYS_epoll_pwait2, g_ep, evs, max, &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS)
            return n;
        no_pwait2 = 1;
    }
#endif
    return epoll_wait(g_ep, evs, max, (int)((d + 999999) / 1000000));
}

/* Open loop: connections start on a fixed schedule, RATE a second, whatever the server's pace,
 * so that a slow answer cannot hold back the next start (what makes a closed loop like rate
 * mode report latency that only mirrors saturation). Each connection's time counts from its
 * place in the schedule, so a start the tool itself made late counts against the latency too;
 * the lag of the starts is reported apart (lag_*), to tell the tool's delay from the server's. */
static int run_open(const struct opts *o)
{
    client_common_setup(o);
    if (o->rate <= 0)
        die("open needs --rate");
    double duration = o->duration > 0 ? o->duration : 10;
    int M = o->max_inflight;
    if (M < 1 || M > 1000000)
        die("bad --max-inflight");
    if (o->expect_prefix && strlen(o->expect_prefix) > sizeof ((struct cconn *)0)->pfx)
        die("--expect-prefix too long");
    raise_nofile((rlim_t)M + 64);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    FILE *timeline = NULL;
    if (o->timeline && !(timeline = fopen(o->timeline, "w")))
        die("cannot write %s: %s", o->timeline, strerror(errno));
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t to_epoch = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec - now_ns();

    struct cconn *cs;
    uint32_t *idle;
    int nidle = slot_pool(M, &cs, &idle);
    struct samples total = {0}, lag = {0};
    /* refused: ECONNREFUSED; reset: ECONNRESET or EPIPE at any point; short: closed before the
     * whole answer; bad: an answer without --expect-prefix; timeout: not complete --timeout s
     * after its scheduled start; late: not started, --max-inflight being open; other: the rest */
    long long started = 0, ok = 0, refused = 0, reset = 0, e_short = 0, bad = 0, timeout = 0,
              late = 0, other = 0;
    uint64_t t_begin = now_ns();
    uint64_t period = (uint64_t)(1e9 / o->rate);
    uint64_t stop_at = t_begin + (uint64_t)(duration * 1e9), stopped = 0;
    uint64_t lim = (uint64_t)(o->timeout * 1e9), next_scan = t_begin, next_progress = t_begin + 1000000000ull;
    long long scheduled = 0; /* connections whose start time has come: started + late */
    int inflight = 0;
    struct epoll_event evs[MAX_EVENTS];

#define COUNT_ERRNO(e) ((e) == ECONNREFUSED ? &refused : ((e) == ECONNRESET || (e) == EPIPE) ? &reset : &other)
#define END(c, counter) do {                                                     \
        long long *_k = (counter);                                               \
        if (_k == NULL && !cconn_prefix_ok((c), o))                              \
            _k = &bad;                                                           \
        if (_k == NULL) {                                                        \
            uint64_t _took = now_ns() - (c)->t0;                                 \
            ok++;                                                                \
            sample_push(&total, _took);                                          \
            if (timeline)                                                        \
                fprintf(timeline, "%llu %llu\n", (unsigned long long)((c)->t0 + to_epoch), \
                        (unsigned long long)_took);                              \
        } else {                                                                 \
            (*_k)++;                                                             \
        }                                                                        \
        cconn_close(c);                                                          \
        inflight--;                                                              \
        idle[nidle++] = (uint32_t)((c) - cs);                                    \
    } while (0)

    for (;;) {
        uint64_t now = now_ns();
        if (!stopped && (g_stop || now >= stop_at))
            stopped = now;
        if (stopped && (inflight == 0 || now - stopped > lim))
            break;
        /* every connection whose time has come, each timed from its own place in the schedule */
        for (uint64_t due = t_begin + (uint64_t)scheduled * period; !stopped && due <= now;
             due = t_begin + (uint64_t)scheduled * period) {
            scheduled++;
            if (nidle == 0) {
                late++;
                continue;
            }
            uint32_t i = idle[--nidle];
            started++;
            int r = cconn_start(&cs[i], i);
            sample_push(&lag, cs[i].t0 - due);
            cs[i].t0 = due;
            if (r != 0) {
                (*COUNT_ERRNO(errno))++;
                idle[nidle++] = i;
                continue;
            }
            inflight++;
        }
        int n = epoll_wait_until(evs, MAX_EVENTS, stopped ? now + 50000000ull : t_begin + (uint64_t)scheduled * period);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            uint32_t i = (uint32_t)evs[k].data.u64;
            struct cconn *c = &cs[i];
            if (c->state == C_IDLE || c->gen != (uint32_t)(evs[k].data.u64 >> 32))
                continue;
            if (c->state == C_CONNECTING || c->state == C_WRITING) {
                if (cconn_connect_and_send(c, i, evs[k].events) < 0)
                    END(c, COUNT_ERRNO(errno));
                continue;
            }
            switch (cconn_read_answer(c, o)) {
            case ANS_MORE: break;
            case ANS_OK: case ANS_OK_RST: END(c, NULL); break;
            case ANS_SHORT: END(c, &e_short); break;
            case ANS_RESET: END(c, &reset); break;
            case ANS_READ: END(c, &other); break;
            }
        }
        now = now_ns();
        if (now >= next_scan) {
            next_scan = now + 100000000ull;
            for (int i = 0; i < M; i++)
                if (cs[i].state != C_IDLE && now - cs[i].t0 > lim)
                    END(&cs[i], &timeout);
        }
        if (o->progress && now >= next_progress) {
            next_progress += 1000000000ull;
            fprintf(stderr, "t=%llus started=%lld ok=%lld refused=%lld reset=%lld short=%lld bad=%lld "
                    "timeout=%lld late=%lld other=%lld inflight=%d\n",
                    (unsigned long long)((now - t_begin) / 1000000000ull), started, ok, refused, reset,
                    e_short, bad, timeout, late, other, inflight);
        }
    }
    for (int i = 0; i < M; i++) /* still open when the wait ran out */
        if (cs[i].state != C_IDLE)
            END(&cs[i], &timeout);
#undef END
#undef COUNT_ERRNO

    if (timeline)
        fclose(timeline);
    double sched_s = (double)((stopped ? stopped : now_ns()) - t_begin) / 1e9;
    long long failed = refused + reset + e_short + bad + timeout + late + other;
    qsort(total.v, total.n, sizeof *total.v, cmp_u32);
    qsort(lag.v, lag.n, sizeof *lag.v, cmp_u32);
    printf("RESULT mode=open rate=%.1f seconds=%.3f offered_cps=%.1f started=%lld ok=%lld errors=%lld "
           "refused=%lld reset=%lld short=%lld bad=%lld timeout=%lld late=%lld other=%lld",
           o->rate, sched_s, (double)scheduled / (sched_s > 0 ? sched_s : 1), started, ok, failed,
           refused, reset, e_short, bad, timeout, late, other);
    print_pct("total_p50_us", &total, failed, 50);
    print_pct("total_p90_us", &total, failed, 90);
    print_pct("total_p99_us", &total, failed, 99);
    print_pct("total_p999_us", &total, failed, 99.9);
    print_pct("total_max_us", &total, failed, 100);
    printf(" lag_p99_us=%u lag_max_us=%u loadgen_cpu_s=%.3f\n", pct(&lag, 99), pct(&lag, 100),
           cpu_seconds_self());
    fprintf(stderr, "open: %lld scheduled at %.0f/s in %.2f s, %lld ok, %lld failed; "
            "ok conn us: p50 %u p99 %u p99.9 %u max %u; start lag us: p99 %u max %u\n",
            scheduled, o->rate, sched_s, ok, failed, pct(&total, 50), pct(&total, 99),
            pct(&total, 99.9), pct(&total, 100), pct(&lag, 99), pct(&lag, 100));
    return failed > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* bulk mode                                                            */
/* ------------------------------------------------------------------ */

static int run_bulk(const struct opts *o)
{
    client_common_setup(o);
    int K = o->conns > 0 ? o->conns : 4;
    if (o->bytes <= 0)
        die("bad --bytes");
    raise_nofile((rlim_t)K + 64);
    struct cconn *cs = calloc((size_t)K, sizeof *cs);
    if (!cs)
        die("out of memory");
    static unsigned char buf[1 << 20];
    long long ok = 0, e_connect = 0, e_write = 0, e_short = 0, e_read = 0, e_timeout = 0;
    long long got_total = 0;
    double max_s = o->max_seconds > 0 ? o->max_seconds : 120;

    uint64_t t_begin = now_ns();
    uint64_t hard_deadline = t_begin + (uint64_t)(max_s * 1e9);
    int inflight = 0;
    for (int i = 0; i < K; i++) {
        cs[i].fd = -1;
        cs[i].quota = o->bytes / K + (i == K - 1 ? o->bytes % K : 0);
        if (cconn_start(&cs[i], (uint32_t)i) != 0) {
            e_connect++;
            continue;
        }
        inflight++;
    }
    uint64_t t_first_byte = 0, t_last_done = t_begin;
    struct epoll_event evs[MAX_EVENTS];
    int flags = o->copy ? 0 : MSG_TRUNC;

    while (inflight > 0) {
        uint64_t now = now_ns();
        if (now >= hard_deadline || g_stop) {
            for (int i = 0; i < K; i++)
                if (cs[i].state != C_IDLE) {
                    got_total += cs[i].got;
                    e_timeout++;
                    cconn_close(&cs[i]);
                    inflight--;
                }
            t_last_done = now;
            break;
        }
        int n = epoll_wait(g_ep, evs, MAX_EVENTS, 50);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            uint32_t i = (uint32_t)evs[k].data.u64;
            struct cconn *c = &cs[i];
            if (c->state == C_IDLE || c->gen != (uint32_t)(evs[k].data.u64 >> 32))
                continue;
            if (c->state == C_CONNECTING || c->state == C_WRITING) {
                int r = cconn_connect_and_send(c, i, evs[k].events);
                if (r < 0) {
                    if (r == -1) e_connect++; else e_write++;
                    cconn_close(c);
                    inflight--;
                    t_last_done = now_ns();
                }
                continue;
            }
            for (;;) {
                long long want = c->quota - c->got;
                if (want > (long long)sizeof buf)
                    want = sizeof buf;
                ssize_t r = recv(c->fd, buf, (size_t)want, flags);
                if (r > 0) {
                    if (c->got == 0) {
                        c->t1 = now_ns();
                        if (!t_first_byte)
                            t_first_byte = c->t1;
                    }
                    c->got += r;
                    if (c->got >= c->quota) {
                        ok++;
                        got_total += c->got;
                        cconn_close(c);
                        inflight--;
                        t_last_done = now_ns();
                        break;
                    }
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    if (r == 0) e_short++; else e_read++;
                    got_total += c->got;
                    cconn_close(c);
                    inflight--;
                    t_last_done = now_ns();
                    break;
                } else {
                    break;
                }
            }
        }
    }
    double elapsed = (double)(t_last_done - t_begin) / 1e9;
    if (elapsed <= 0)
        elapsed = 1e-9;
    double mibs = (double)got_total / (1024.0 * 1024.0) / elapsed;
    long long errors = e_connect + e_write + e_short + e_read + e_timeout;
    double cpu = cpu_seconds_self();
    printf("RESULT mode=bulk conns=%d elapsed_s=%.3f bytes=%lld ok=%lld errors=%lld mib_s=%.1f "
           "first_byte_ms=%.3f err_connect=%lld err_write=%lld err_short=%lld err_read=%lld "
           "err_timeout=%lld copy=%d loadgen_cpu_s=%.3f\n",
           K, elapsed, got_total, ok, errors, mibs,
           t_first_byte ? (double)(t_first_byte - t_begin) / 1e6 : -1.0,
           e_connect, e_write, e_short, e_read, e_timeout, o->copy, cpu);
    fprintf(stderr, "bulk: %lld bytes over %d conns in %.2f s = %.1f MiB/s, %lld errors, loadgen cpu %.2f s\n",
            got_total, K, elapsed, mibs, errors, cpu);
    return errors > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* idle mode                                                            */
/* ------------------------------------------------------------------ */

static void write_ready_file(const char *path, long long opened, long long failed, double open_s)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die("cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "opened=%lld failed=%lld open_s=%.3f\n", opened, failed, open_s);
    fclose(f);
    if (rename(tmp, path) != 0)
        die("rename %s: %s", tmp, strerror(errno));
}

static int run_idle(const struct opts *o)
{
    client_common_setup(o);
    int N = o->conns > 0 ? o->conns : 10000;
    int P = o->open_parallel > 0 ? o->open_parallel : 128;
    rlim_t lim = raise_nofile((rlim_t)N + 64);
    if (lim < (rlim_t)N + 16)
        die("RLIMIT_NOFILE %llu too small for %d connections", (unsigned long long)lim, N);
    struct cconn *cs = calloc((size_t)N, sizeof *cs);
    if (!cs)
        die("out of memory");
    for (int i = 0; i < N; i++)
        cs[i].fd = -1;
    static unsigned char buf[64 * 1024];
    long long started = 0, opened = 0, e_connect = 0, e_write = 0, dropped = 0, unexpected_bytes = 0;
    int pending = 0, held = 0;
    uint64_t t_begin = now_ns();
    uint64_t open_deadline = t_begin + (uint64_t)(o->open_timeout * 1e9);
    uint64_t t_ready = 0, hold_until = 0, next_release_check = 0;
    double open_s = 0;
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        uint64_t now = now_ns();
        if (!t_ready) {
            while (!g_stop && started < N && pending < P && now < open_deadline) {
                int i = (int)started++;
                if (cconn_start(&cs[i], (uint32_t)i) != 0) {
                    e_connect++;
                    continue;
                }
                if (cs[i].state == C_READING) { /* hello already sent */
                    cs[i].state = C_HELD;
                    opened++;
                    held++;
                    continue;
                }
                pending++;
            }
            if ((started >= N && pending == 0) || now >= open_deadline || g_stop) {
                t_ready = now;
                open_s = (double)(now - t_begin) / 1e9;
                hold_until = g_stop ? now : now + (uint64_t)(o->hold * 1e9);
                if (o->ready_file)
                    write_ready_file(o->ready_file, opened, (long long)N - opened, open_s);
                fprintf(stderr, "idle: %lld of %d connections open after %.2f s, holding %.1f s\n",
                        opened, N, open_s, o->hold);
            }
        }
        if (t_ready && (now >= hold_until || g_stop))
            break;
        if (t_ready && o->release_file && now >= next_release_check) {
            next_release_check = now + 50000000ull;
            if (access(o->release_file, F_OK) == 0)
                break;
        }
        int n = epoll_wait(g_ep, evs, MAX_EVENTS, 50);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            uint32_t i = (uint32_t)evs[k].data.u64;
            struct cconn *c = &cs[i];
            if (c->state == C_IDLE || c->gen != (uint32_t)(evs[k].data.u64 >> 32))
                continue;
            if (c->state == C_CONNECTING || c->state == C_WRITING) {
                int r = cconn_connect_and_send(c, i, evs[k].events);
                if (r < 0) {
                    if (r == -1) e_connect++; else e_write++;
                    cconn_close(c);
                    pending--;
                } else if (r == 1) {
                    c->state = C_HELD;
                    pending--;
                    opened++;
                    held++;
                }
                continue;
            }
            /* held: anything but EAGAIN means the tunnel went away or talks */
            for (;;) {
                ssize_t r = recv(c->fd, buf, sizeof buf, 0);
                if (r > 0) {
                    unexpected_bytes += r;
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                dropped++;
                held--;
                cconn_close(c);
                break;
            }
        }
    }
    uint64_t t_close = now_ns();
    for (int i = 0; i < N; i++)
        if (cs[i].state != C_IDLE)
            cconn_close(&cs[i]);
    double close_s = (double)(now_ns() - t_close) / 1e9;
    double hold_s = (double)(t_close - t_ready) / 1e9;
    long long errors = e_connect + e_write + dropped;
    double cpu = cpu_seconds_self();
    printf("RESULT mode=idle conns=%d opened=%lld held_at_end=%d errors=%lld err_connect=%lld "
           "err_write=%lld dropped=%lld unexpected_bytes=%lld open_s=%.3f hold_s=%.3f close_s=%.3f "
           "loadgen_cpu_s=%.3f\n",
           N, opened, held, errors, e_connect, e_write, dropped, unexpected_bytes,
           open_s, hold_s, close_s, cpu);
    fprintf(stderr, "idle: opened %lld/%d, %lld dropped during hold, held %d at end, closed in %.3f s\n",
            opened, N, dropped, held, close_s);
    return errors > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* backend mode                                                         */
/* ------------------------------------------------------------------ */

enum bmode { B_RATE, B_BULK, B_IDLE };
enum bphase { B_HELLO = 0, B_STREAM };

struct bconn {
    uint8_t used;
    uint8_t phase;
    uint8_t bad;
    uint8_t registered;   /* in the epoll set */
    uint32_t got;
};

/* backend state, one per process */
static struct {
    enum bmode mode;
    struct bconn *c;      /* indexed by fd */
    rlim_t nfd;
    const char *resp_ok, *resp_bad;
    size_t resp_len;
    const unsigned char *src;   /* bulk data */
    size_t src_len;
    int mfd;                    /* memfd for --sendfile, or -1 */
    off_t moff;
    long long accepted, served, hello_ok, hello_bad, closed, e_accept, bytes_sent;
    int open_now, open_max;
} B;

static void b_close(int fd)
{
    close(fd);
    B.c[fd].used = 0;
    B.open_now--;
    B.closed++;
}

static void b_interest(int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };
    if (epoll_ctl(g_ep, B.c[fd].registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    B.c[fd].registered = 1;
}

/* bulk: write until the socket buffer is full; 0 = keep, -1 = closed */
static int b_stream(int fd)
{
    for (;;) {
        ssize_t w;
        if (B.mfd >= 0) {
            if (B.moff >= (off_t)B.src_len)
                B.moff = 0;
            off_t o2 = B.moff;
            w = sendfile(fd, B.mfd, &o2, B.src_len - (size_t)B.moff);
            if (w > 0)
                B.moff = o2;
        } else {
            w = send(fd, B.src, B.src_len, MSG_NOSIGNAL);
        }
        if (w > 0) {
            B.bytes_sent += w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        b_close(fd); /* EPIPE / ECONNRESET: the client went away */
        return -1;
    }
}

/* Reads what is there.  Called right after accept (the hello often is
 * already there: no epoll round trip) and on EPOLLIN/HUP/ERR. */
static void b_readable(int fd)
{
    static unsigned char buf[64 * 1024];
    struct bconn *b = &B.c[fd];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            if (b->phase == B_HELLO && g_hello_len && b->got < g_hello_len) {
                size_t cmpn = g_hello_len - b->got;
                if (cmpn > (size_t)r)
                    cmpn = (size_t)r;
                if (memcmp(buf, g_hello + b->got, cmpn))
                    b->bad = 1;
            }
            b->got = b->got + (uint32_t)r < b->got ? UINT32_MAX : b->got + (uint32_t)r;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        b_close(fd); /* EOF or error */
        return;
    }
    if (b->phase != B_HELLO)
        return;
    int complete = g_hello_len ? b->got >= g_hello_len : b->got > 0;
    if (!complete) {
        if (!b->registered)
            b_interest(fd, EPOLLIN);
        return;
    }
    if (g_hello_len && b->got != g_hello_len)
        b->bad = 1;
    if (b->bad) B.hello_bad++; else B.hello_ok++;
    b->phase = B_STREAM;
    switch (B.mode) {
    case B_RATE: {
        ssize_t w = send(fd, b->bad ? B.resp_bad : B.resp_ok, B.resp_len, MSG_NOSIGNAL);
        if (w > 0)
            B.bytes_sent += w;
        B.served++;
        b_close(fd);
        return;
    }
    case B_IDLE:
        if (!b->registered)
            b_interest(fd, EPOLLIN);
        return;
    case B_BULK:
        if (b_stream(fd) == 0)
            b_interest(fd, EPOLLIN | EPOLLOUT);
        return;
    }
}

static int run_backend(const struct opts *o)
{
    if (!o->listen_on)
        die("--listen is required");
    if (!o->backend_mode)
        die("--mode rate|bulk|idle is required");
    if (!strcmp(o->backend_mode, "rate")) B.mode = B_RATE;
    else if (!strcmp(o->backend_mode, "bulk")) B.mode = B_BULK;
    else if (!strcmp(o->backend_mode, "idle")) B.mode = B_IDLE;
    else die("bad --mode %s", o->backend_mode);
    if (o->hello_path)
        g_hello_len = read_file(o->hello_path, g_hello, sizeof g_hello);
    double max_s = o->max_seconds > 0 ? o->max_seconds : 900;

    struct addr la;
    parse_addr(o->listen_on, &la);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    B.nfd = raise_nofile(rl.rlim_max < 65536 ? rl.rlim_max : 65536);
    B.c = calloc((size_t)B.nfd, sizeof *B.c);
    if (!B.c)
        die("out of memory");

    /* rate response: fixed bytes, the first line says whether the hello arrived intact */
    size_t rlen = o->resp_bytes > 0 ? (size_t)o->resp_bytes : 200;
    char *rok = malloc(rlen), *rbad = malloc(rlen);
    if (!rok || !rbad)
        die("out of memory");
    memset(rok, '.', rlen);
    memset(rbad, '.', rlen);
    memcpy(rok, "SNIBENCH OK\n", rlen < 12 ? rlen : 12);
    memcpy(rbad, "SNIBENCH BAD\n", rlen < 13 ? rlen : 13);
    rok[rlen - 1] = '\n';
    rbad[rlen - 1] = '\n';
    B.resp_ok = rok;
    B.resp_bad = rbad;
    B.resp_len = rlen;

    /* bulk source: a 4 MiB buffer written with send(); with --sendfile, a
     * memfd sent with sendfile() instead (no copy, but slower on loopback
     * here: page references cost more than the copy). */
    B.src_len = 4u << 20;
    unsigned char *src = malloc(B.src_len);
    if (!src)
        die("out of memory");
    for (size_t i = 0; i < B.src_len; i++)
        src[i] = (unsigned char)(i * 131u + 7u);
    B.src = src;
    B.mfd = -1;
    if (B.mode == B_BULK && o->use_sendfile) {
        B.mfd = memfd_create("loadgen-bulk", MFD_CLOEXEC);
        if (B.mfd < 0 || write(B.mfd, src, B.src_len) != (ssize_t)B.src_len) {
            fprintf(stderr, "loadgen: memfd unavailable, using send()\n");
            if (B.mfd >= 0)
                close(B.mfd);
            B.mfd = -1;
        }
    }

    int lfd = socket(la.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&la.ss, la.len) != 0)
        die("bind %s: %s", o->listen_on, strerror(errno));
    if (listen(lfd, 4096) != 0)
        die("listen: %s", strerror(errno));
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0)
        die("epoll_create1: %s", strerror(errno));
    struct epoll_event lev = { .events = EPOLLIN, .data.fd = lfd };
    epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &lev);

    int listen_paused = 0;
    uint64_t t_begin = now_ns(), resume_listen_at = 0;
    uint64_t deadline = t_begin + (uint64_t)(max_s * 1e9);
    struct epoll_event evs[MAX_EVENTS];

    fprintf(stderr, "backend: listening on %s mode=%s pid=%d\n", o->listen_on, o->backend_mode, (int)getpid());

    while (!g_stop) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            fprintf(stderr, "backend: --max-seconds reached, exiting\n");
            break;
        }
        if (listen_paused && now >= resume_listen_at) {
            epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &lev);
            listen_paused = 0;
        }
        int n = epoll_wait(g_ep, evs, MAX_EVENTS, 200);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            int fd = evs[k].data.fd;
            uint32_t e = evs[k].events;
            if (fd == lfd) {
                for (;;) {
                    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
                            B.e_accept++;
                            epoll_ctl(g_ep, EPOLL_CTL_DEL, lfd, NULL);
                            listen_paused = 1;
                            resume_listen_at = now_ns() + 100000000ull;
                        }
                        break;
                    }
                    if ((rlim_t)cfd >= B.nfd) {
                        close(cfd);
                        B.e_accept++;
                        continue;
                    }
                    B.accepted++;
                    if (++B.open_now > B.open_max)
                        B.open_max = B.open_now;
                    B.c[cfd] = (struct bconn){ .used = 1 };
                    b_readable(cfd);
                }
                continue;
            }
            if (!B.c[fd].used)
                continue;
            if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                b_readable(fd);
                if (!B.c[fd].used)
                    continue;
            }
            if (B.mode == B_BULK && B.c[fd].phase == B_STREAM && (e & EPOLLOUT))
                b_stream(fd);
        }
    }
    fprintf(stderr,
            "backend: exit mode=%s accepted=%lld served=%lld hello_ok=%lld hello_bad=%lld closed=%lld "
            "open_now=%d open_max=%d accept_errors=%lld bytes_sent=%lld cpu_s=%.3f\n",
            o->backend_mode, B.accepted, B.served, B.hello_ok, B.hello_bad, B.closed, B.open_now,
            B.open_max, B.e_accept, B.bytes_sent, cpu_seconds_self());
    return 0;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct opts o;
    parse_opts(argc, argv, &o);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (!strcmp(o.mode, "rate"))
        return run_rate(&o);
    if (!strcmp(o.mode, "open"))
        return run_open(&o);
    if (!strcmp(o.mode, "bulk"))
        return run_bulk(&o);
    if (!strcmp(o.mode, "idle"))
        return run_idle(&o);
    if (!strcmp(o.mode, "backend"))
        return run_backend(&o);
    usage();
    return 2;
}
