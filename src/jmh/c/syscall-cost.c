/*
 * syscall-cost: what one system call costs this machine, split as the kernel accounts it.
 *
 *   gcc -O2 -o target/syscall-cost src/jmh/c/syscall-cost.c
 *   taskset -c 1 target/syscall-cost getppid 20000000
 *   taskset -c 1 target/syscall-cost socketpair 3000000
 *
 * "getppid" makes COUNT calls that do almost nothing in the kernel; "socketpair" writes 200 bytes
 * into a Unix socket pair and reads them back COUNT times (two calls each). Prints wall, user and
 * system nanoseconds per call, from getrusage. The program does no user-space work of its own, so
 * the user time it is charged is the part of entering and leaving the kernel that this machine
 * counts as user time: what every proxy on it is charged per call it makes, whatever its code.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

static double monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "getppid") && strcmp(argv[1], "socketpair"))) {
        fprintf(stderr, "usage: syscall-cost getppid|socketpair COUNT\n");
        return 2;
    }
    int pair = !strcmp(argv[1], "socketpair");
    long count = atol(argv[2]);
    int sv[2];
    char buf[200] = {0};
    if (pair && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = monotonic();
    for (long i = 0; i < count; i++) {
        if (!pair) {
            syscall(SYS_getppid);
        } else if (write(sv[0], buf, sizeof buf) != sizeof buf || read(sv[1], buf, sizeof buf) != sizeof buf) {
            perror("socketpair round trip");
            return 1;
        }
    }
    double wall = monotonic() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double user = seconds(r1.ru_utime) - seconds(r0.ru_utime);
    double sys = seconds(r1.ru_stime) - seconds(r0.ru_stime);
    long calls = pair ? 2 * count : count;
    printf("%s calls=%ld wall_ns_per_call=%.0f user_ns_per_call=%.0f sys_ns_per_call=%.0f user_share=%.2f\n",
           argv[1], calls, wall * 1e9 / calls, user * 1e9 / calls, sys * 1e9 / calls, user / (user + sys));
    return 0;
}
