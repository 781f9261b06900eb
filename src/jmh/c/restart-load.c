/*
 * restart-load: a steady stream of new connections through snigate, each one classified, for
 * src/jmh/sh/restarts.sh (the restart measurement in src/site/markdown/restarts.md).
 *
 *   restart-load backend PORT HELLO
 *       Listens on 127.0.0.1:PORT. A connection that sends exactly the bytes of the file HELLO (a
 *       real ClientHello record) gets ANSWER back and is closed; anything else is closed unanswered.
 *   restart-load load PORT HELLO RATE MAX_SECONDS
 *       Opens RATE new connections a second to 127.0.0.1:PORT (open loop: the schedule does not
 *       wait for slow connections), each sending HELLO and reading until the server closes. Runs
 *       until SIGINT or SIGTERM or MAX_SECONDS, lets the connections in flight finish (at most
 *       TIMEOUT_MS more), then prints one line of totals:
 *         started ok refused reset timeout other late seconds rate p50_ms p99_ms max_ms
 *       refused: the connect failed with ECONNREFUSED; reset: ECONNRESET or EPIPE at any point;
 *       timeout: no whole answer within TIMEOUT_MS; other: any other error, or the connection
 *       closed before the whole ANSWER arrived (or with different bytes); late: connections the
 *       schedule could not start because MAX_INFLIGHT were already open (should stay 0).
 *       A progress line goes to standard error every second.
 *
 * Single-threaded, non-blocking, epoll. Talks to 127.0.0.1 only. Build: cc -O2 -o restart-load restart-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ANSWER "snigate restart-load: hello received intact\n"
#define MAX_FDS 65536
#define MAX_INFLIGHT 8192
#define TIMEOUT_MS 10000
#define LATENCY_BUCKETS 100000 /* 100 µs each: up to 10 s */

enum state { FREE, CONNECTING, SENT, SERVING };
struct conn {
    enum state state;
    long long started_us;
    size_t got; /* bytes of the hello (backend) or of the answer (load) so far */
};

static struct conn conns[MAX_FDS];
static unsigned char *hello;
static size_t hello_len;
static volatile sig_atomic_t stopping;
static long long latency[LATENCY_BUCKETS];

static long long now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void on_signal(int sig) {
    (void) sig;
    stopping = 1;
}

static void read_hello(const char *path) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) die(path);
    hello_len = (size_t) st.st_size;
    hello = malloc(hello_len);
    if (!hello || fread(hello, 1, hello_len, f) != hello_len) die(path);
    fclose(f);
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void watch(int ep, int fd, unsigned events, int op) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, op, fd, &ev) != 0) die("epoll_ctl");
}

static void release(int fd) {
    conns[fd].state = FREE;
    close(fd);
}

static int backend(int port) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    struct sockaddr_in a = loopback(port);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *) &a, sizeof a) != 0 || listen(ls, 4096) != 0) die("backend listen");
    int ep = epoll_create1(0);
    watch(ep, ls, EPOLLIN, EPOLL_CTL_ADD);
    unsigned char *buf = malloc(hello_len + 1);
    struct epoll_event evs[256];
    while (!stopping) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAX_FDS) { close(c); continue; }
                    conns[c] = (struct conn){.state = SERVING};
                    watch(ep, c, EPOLLIN, EPOLL_CTL_ADD);
                }
                continue;
            }
            ssize_t r = read(fd, buf, hello_len + 1 - conns[fd].got);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                release(fd);
                continue;
            }
            if (conns[fd].got + (size_t) r > hello_len || memcmp(buf, hello + conns[fd].got, (size_t) r) != 0) {
                release(fd); /* not the hello: no answer */
                continue;
            }
            conns[fd].got += (size_t) r;
            if (conns[fd].got == hello_len) {
                if (write(fd, ANSWER, sizeof ANSWER - 1) < 0) { /* the client went away: its side counts it */ }
                release(fd);
            }
        }
    }
    return 0;
}

struct totals { long long started, ok, refused, reset, timeout, other, late; };

/* Ends a connection: counted as a success (counter NULL: its latency recorded) or in *counter. */
static void finish(int fd, long long *counter, long long now) {
    if (counter == NULL) {
        long long b = (now - conns[fd].started_us) / 100;
        latency[b < LATENCY_BUCKETS ? b : LATENCY_BUCKETS - 1]++;
    } else {
        (*counter)++;
    }
    release(fd);
}

static double percentile(long long total, double p) {
    long long want = (long long) (total * p), seen = 0;
    for (int b = 0; b < LATENCY_BUCKETS; b++) {
        seen += latency[b];
        if (seen > want) return b / 10.0;
    }
    return LATENCY_BUCKETS / 10.0;
}

static int load(int port, long rate, int max_seconds) {
    struct sockaddr_in a = loopback(port);
    int ep = epoll_create1(0), inflight = 0;
    struct totals t = {0};
    struct epoll_event evs[512];
    char buf[256];
    long long start = now_us(), last_report = start, last_sweep = start, stop_at = 0;
    while (1) {
        long long now = now_us();
        if (!stop_at && (stopping || now - start >= max_seconds * 1000000LL)) stop_at = now;
        if (stop_at && (inflight == 0 || now - stop_at > TIMEOUT_MS * 1000LL)) break;
        /* The schedule: started should be rate * elapsed. */
        long long due = stop_at ? t.started : (now - start) * rate / 1000000;
        while (t.started + t.late < due) {
            if (inflight >= MAX_INFLIGHT) { t.late++; continue; }
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0 || fd >= MAX_FDS) die("socket");
            t.started++;
            conns[fd] = (struct conn){.state = CONNECTING, .started_us = now};
            inflight++;
            if (connect(fd, (struct sockaddr *) &a, sizeof a) != 0 && errno != EINPROGRESS) {
                if (errno == ECONNREFUSED) t.refused++; else if (errno == ECONNRESET) t.reset++; else t.other++;
                release(fd);
                inflight--;
                continue;
            }
            watch(ep, fd, EPOLLOUT, EPOLL_CTL_ADD);
        }
        int n = epoll_wait(ep, evs, 512, 1);
        now = now_us();
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct conn *c = &conns[fd];
            if (c->state == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0 && write(fd, hello, hello_len) != (ssize_t) hello_len) err = errno ? errno : EIO;
                if (err) {
                    finish(fd, err == ECONNREFUSED ? &t.refused
                            : (err == ECONNRESET || err == EPIPE) ? &t.reset : &t.other, now);
                    inflight--;
                    continue;
                }
                c->state = SENT;
                watch(ep, fd, EPOLLIN, EPOLL_CTL_MOD);
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && errno == EAGAIN) continue;
            if (r > 0) {
                if (c->got + (size_t) r > sizeof ANSWER - 1 || memcmp(buf, ANSWER + c->got, (size_t) r) != 0) {
                    finish(fd, &t.other, now);
                    inflight--;
                } else {
                    c->got += (size_t) r;
                }
                continue;
            }
            if (r < 0) finish(fd, (errno == ECONNRESET || errno == EPIPE) ? &t.reset : &t.other, now);
            else if (c->got == sizeof ANSWER - 1) { t.ok++; finish(fd, NULL, now); }
            else finish(fd, &t.other, now);
            inflight--;
        }
        if (now - last_sweep > 100000) {
            last_sweep = now;
            for (int fd = 0; fd < MAX_FDS; fd++) {
                if (conns[fd].state != FREE && now - conns[fd].started_us > TIMEOUT_MS * 1000LL) {
                    finish(fd, &t.timeout, now);
                    inflight--;
                }
            }
        }
        if (now - last_report >= 1000000) {
            last_report = now;
            fprintf(stderr, "t=%llds started=%lld ok=%lld refused=%lld reset=%lld timeout=%lld other=%lld late=%lld inflight=%d\n",
                    (now - start) / 1000000, t.started, t.ok, t.refused, t.reset, t.timeout, t.other, t.late, inflight);
        }
    }
    double seconds = (now_us() - start) / 1e6;
    long long max_b = 0;
    for (int b = 0; b < LATENCY_BUCKETS; b++) if (latency[b]) max_b = b;
    printf("started=%lld ok=%lld refused=%lld reset=%lld timeout=%lld other=%lld late=%lld seconds=%.1f rate=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
           t.started, t.ok, t.refused, t.reset, t.timeout, t.other, t.late, seconds, t.started / seconds,
           percentile(t.ok, 0.5), percentile(t.ok, 0.99), max_b / 10.0);
    return 0;
}

int main(int argc, char **argv) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && strcmp(argv[1], "backend") == 0) {
        read_hello(argv[3]);
        return backend(atoi(argv[2]));
    }
    if (argc == 6 && strcmp(argv[1], "load") == 0) {
        read_hello(argv[3]);
        return load(atoi(argv[2]), atol(argv[4]), atoi(argv[5]));
    }
    fprintf(stderr, "usage: %s backend PORT HELLO | load PORT HELLO RATE MAX_SECONDS\n", argv[0]);
    return 2;
}
