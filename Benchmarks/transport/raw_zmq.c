/*
 * raw_zmq.c: the transport ceiling Tributary's learner ingest is compared against.
 *
 * One ROUTER binds tcp://127.0.0.1:* (or --endpoint); W sender processes (forked
 * before any ZeroMQ call, each with its own context and DEALER) each send N
 * single-frame messages of S bytes as fast as the socket allows: no credits, no
 * replies, no decoding (a credit-free stream is the ceiling). Senders hand libzmq
 * one constant buffer without copying (zmq_msg_init_data with no free function),
 * like Tributary's zero-copy sends of large frames. SNDHWM/RCVHWM are 64, as in
 * Tributary's SocketSpec. The receiver counts messages and bytes (routing-id frame
 * excluded) from the first message received to the last, then prints one JSON line:
 *
 *   {"mode":"raw","workers":W,"bytes":S,"messages":M,"seconds":..,"mb_per_s":..,"msgs_per_s":..,
 *    "receiver_cpu_s":..,"senders_cpu_s":..}
 *
 * mb_per_s is 10^6 bytes per second; *_cpu_s are user+system CPU seconds of the receiver
 * process (all its threads) and of all sender processes, over their whole lives.
 *
 * With -c the ROUTER is a CURVE server and every sender a CURVE client with its own key pair
 * (libsodium's Curve25519 / XSalsa20-Poly1305 on every frame, as Tributary's CURVE mode); no
 * ZAP handler, so any key is let in (authentication happens once, at the handshake, and costs
 * nothing per message either way).
 *
 * Build: cc -O2 -o raw_zmq raw_zmq.c -lzmq
 * Usage: raw_zmq -w W -n N -s S [-H HWM] [-e tcp://127.0.0.1:*] [-t TIMEOUT_S] [-c]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void die(const char *what) {
    fprintf(stderr, "raw_zmq: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void set_int(void *s, int opt, int v, const char *name) {
    if (zmq_setsockopt(s, opt, &v, sizeof v) != 0) die(name);
}

static int curve = 0;
static char server_public[41], server_secret[41];

/* A sender process: own context, one DEALER, N messages of S bytes. */
static int sender(int fd, long n, size_t size, int hwm) {
    char endpoint[256] = {0};
    ssize_t got = 0, r;
    while (got < (ssize_t)sizeof endpoint - 1 && (r = read(fd, endpoint + got, sizeof endpoint - 1 - got)) > 0) got += r;
    close(fd);
    if (got <= 0) return 2; /* parent gave up before binding */

    unsigned char *buffer = malloc(size ? size : 1);
    if (!buffer) return 2;
    for (size_t i = 0; i < size; i++) buffer[i] = (unsigned char)(i * 131u + 7u);

    void *ctx = zmq_ctx_new();
    if (!ctx) die("zmq_ctx_new");
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    if (!dealer) die("zmq_socket(DEALER)");
    set_int(dealer, ZMQ_SNDHWM, hwm, "ZMQ_SNDHWM");
    set_int(dealer, ZMQ_RCVHWM, hwm, "ZMQ_RCVHWM");
    set_int(dealer, ZMQ_LINGER, -1, "ZMQ_LINGER"); /* close waits until everything left */
    if (curve) {
        char pub[41], sec[41];
        if (zmq_curve_keypair(pub, sec) != 0) die("zmq_curve_keypair");
        if (zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, server_public, 40) != 0) die("ZMQ_CURVE_SERVERKEY");
        if (zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0) die("ZMQ_CURVE_PUBLICKEY");
        if (zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, sec, 40) != 0) die("ZMQ_CURVE_SECRETKEY");
    }
    if (zmq_connect(dealer, endpoint) != 0) die("zmq_connect");

    for (long i = 0; i < n; i++) {
        zmq_msg_t msg;
        /* No free function: libzmq treats the buffer as constant and never copies it. */
        if (zmq_msg_init_data(&msg, buffer, size, NULL, NULL) != 0) die("zmq_msg_init_data");
        while (zmq_msg_send(&msg, dealer, 0) < 0) {
            if (zmq_errno() != EINTR) die("zmq_msg_send");
        }
    }
    zmq_close(dealer);
    while (zmq_ctx_term(ctx) != 0 && zmq_errno() == EINTR) {
    }
    free(buffer);
    return 0;
}

int main(int argc, char **argv) {
    int workers = 2, hwm = 64, timeout_s = 60;
    long n = 1000;
    size_t size = 262144;
    const char *bind_to = "tcp://127.0.0.1:*";
    int opt;
    while ((opt = getopt(argc, argv, "w:n:s:H:e:t:c")) != -1) {
        switch (opt) {
        case 'w': workers = atoi(optarg); break;
        case 'n': n = atol(optarg); break;
        case 's': size = (size_t)atoll(optarg); break;
        case 'H': hwm = atoi(optarg); break;
        case 'e': bind_to = optarg; break;
        case 't': timeout_s = atoi(optarg); break;
        case 'c': curve = 1; break;
        default:
            fprintf(stderr, "usage: %s -w WORKERS -n MSGS_PER_WORKER -s BYTES [-H HWM] [-e ENDPOINT] [-t TIMEOUT_S] [-c]\n", argv[0]);
            return 2;
        }
    }
    if (workers < 1 || workers > 64 || n < 1) {
        fprintf(stderr, "raw_zmq: need 1 <= workers <= 64 and n >= 1\n");
        return 2;
    }

    /* The server's keys exist before the fork, so every sender knows the public one. */
    if (curve && zmq_curve_keypair(server_public, server_secret) != 0) die("zmq_curve_keypair");
    /* Fork the senders before this process touches a context (a context must not cross fork). */
    pid_t pids[64];
    int pipes[64];
    for (int i = 0; i < workers; i++) {
        int p[2];
        if (pipe(p) != 0) { perror("pipe"); return 1; }
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            close(p[1]);
            for (int j = 0; j < i; j++) close(pipes[j]);
            _exit(sender(p[0], n, size, hwm));
        }
        close(p[0]);
        pids[i] = pid;
        pipes[i] = p[1];
    }

    void *ctx = zmq_ctx_new();
    if (!ctx) die("zmq_ctx_new");
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    if (!router) die("zmq_socket(ROUTER)");
    set_int(router, ZMQ_SNDHWM, hwm, "ZMQ_SNDHWM");
    set_int(router, ZMQ_RCVHWM, hwm, "ZMQ_RCVHWM");
    set_int(router, ZMQ_LINGER, 0, "ZMQ_LINGER");
    set_int(router, ZMQ_RCVTIMEO, timeout_s * 1000, "ZMQ_RCVTIMEO");
    if (curve) {
        set_int(router, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER");
        if (zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, server_secret, 40) != 0) die("ZMQ_CURVE_SECRETKEY");
    }
    if (zmq_bind(router, bind_to) != 0) die("zmq_bind");
    char endpoint[256];
    size_t len = sizeof endpoint;
    if (zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0) die("ZMQ_LAST_ENDPOINT");
    for (int i = 0; i < workers; i++) {
        if (write(pipes[i], endpoint, strlen(endpoint)) < 0) perror("write");
        close(pipes[i]);
    }

    const long expected = n * workers;
    long messages = 0;
    uint64_t bytes = 0;
    double first = 0, last = 0;
    int failed = 0;
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    while (messages < expected) {
        if (zmq_msg_recv(&id, router, 0) < 0) {
            if (zmq_errno() == EINTR) continue;
            fprintf(stderr, "raw_zmq: receive failed after %ld of %ld messages: %s\n", messages, expected, zmq_strerror(zmq_errno()));
            failed = 1;
            break;
        }
        /* The routing-id frame is followed by the payload frame(s). */
        size_t frames_bytes = 0;
        int more = zmq_msg_more(&id);
        while (more) {
            if (zmq_msg_recv(&body, router, 0) < 0) die("zmq_msg_recv(body)");
            frames_bytes += zmq_msg_size(&body);
            more = zmq_msg_more(&body);
        }
        double t = now_s();
        if (messages == 0) first = t;
        last = t;
        messages++;
        bytes += frames_bytes;
    }
    zmq_msg_close(&id);
    zmq_msg_close(&body);

    if (failed) {
        for (int i = 0; i < workers; i++) kill(pids[i], SIGKILL);
    }
    int status_bad = 0;
    for (int i = 0; i < workers; i++) {
        int st = 0;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) status_bad = 1;
    }
    zmq_close(router);
    zmq_ctx_term(ctx);
    if (failed || status_bad) {
        fprintf(stderr, "raw_zmq: run failed (receive %s, senders %s)\n", failed ? "failed" : "ok", status_bad ? "failed" : "ok");
        return 1;
    }

    double seconds = last - first;
    if (seconds <= 0) seconds = 1e-9;
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#define CPU_S(ru) ((double)(ru).ru_utime.tv_sec + (ru).ru_utime.tv_usec * 1e-6 + (ru).ru_stime.tv_sec + (ru).ru_stime.tv_usec * 1e-6)
    printf("{\"mode\":\"raw\",\"curve\":%s,\"workers\":%d,\"bytes\":%zu,\"messages\":%ld,\"seconds\":%.6f,\"mb_per_s\":%.1f,\"msgs_per_s\":%.1f,"
           "\"receiver_cpu_s\":%.3f,\"senders_cpu_s\":%.3f}\n",
           curve ? "true" : "false", workers, size, messages, seconds, (double)bytes / seconds / 1e6, (double)messages / seconds,
           CPU_S(self), CPU_S(children));
    return 0;
}
