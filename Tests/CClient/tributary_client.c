/*
 * tributary-c-client: a small C client of the Tributary wire protocol (version 1),
 * written against libprotobuf-c and libzmq only, to show that the protocol does not
 * depend on Swift.
 *
 *   tributary-c-client golden DIR
 *       Decodes the golden files written by Tests/ProtocolTests/GoldenMessages.swift
 *       and checks their field values. One line per file; exit 1 on any mismatch.
 *
 *   tributary-c-client talk DATA_ENDPOINT [TIMEOUT_MS]
 *       Acts as a worker on the learner's data socket (DEALER -> ROUTER): Hello,
 *       Welcome, one TrajectoryChunk, Credit, Goodbye. TIMEOUT_MS (default 5000)
 *       bounds each wait for a reply. Exit 0 on success.
 *
 * Framing (docs/protocol.md): every message is a multipart ZeroMQ message,
 *   frame 0: 'T' 'R' version type   frame 1: protobuf body   frames 2..: tensor bytes
 * Tensor bytes are little-endian and C-contiguous; they are read and written here
 * byte by byte, so this file does not depend on the host's byte order.
 *
 * Build with Tests/CClient/build.sh (generates tributary.pb-c.[ch] with protoc-c).
 * The three proto3 `optional` fields of TrajectoryChunk are generated as one-field
 * oneofs (see build.sh), e.g. `group_id_present_case`.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>
#include <zmq.h>

#include "tributary.pb-c.h"

/* ------------------------------------------------------------------------- */
/* Protocol constants                                                         */

enum {
    PROTOCOL_VERSION = 1,
    MSG_HELLO = 1,
    MSG_WELCOME = 2,
    MSG_TRAJECTORY_CHUNK = 3,
    MSG_CREDIT = 4,
    MSG_REJECT = 5,
    MSG_HEARTBEAT = 6,
    MSG_GOODBYE = 7,
    MSG_WEIGHTS_AVAILABLE = 8,
    MSG_GET_WEIGHTS = 9,
    MSG_WEIGHTS = 10,
    MSG_STATUS_REQUEST = 11,
    MSG_STATUS_REPLY = 12,
};

#define HEADER_BYTES 4
#define MAX_FRAMES 64                /* more than any message of this client needs */
#define MAX_UNROLL_LENGTH 65536      /* ChunkValidator.maxLength */
#define MAX_GOLDEN_BYTES (16u << 20) /* a golden file is a few hundred bytes */

static const char *type_name(unsigned type) {
    static const char *const names[] = {
        "?",         "Hello",     "Welcome",          "TrajectoryChunk", "Credit",
        "Reject",    "Heartbeat", "Goodbye",          "WeightsAvailable", "GetWeights",
        "Weights",   "StatusRequest", "StatusReply",
    };
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

static size_t dtype_size(Tributary__V1__DType dtype) {
    switch (dtype) {
    case TRIBUTARY__V1__DTYPE__DTYPE_FLOAT32:
    case TRIBUTARY__V1__DTYPE__DTYPE_INT32: return 4;
    case TRIBUTARY__V1__DTYPE__DTYPE_FLOAT64:
    case TRIBUTARY__V1__DTYPE__DTYPE_INT64:
    case TRIBUTARY__V1__DTYPE__DTYPE_UINT64: return 8;
    case TRIBUTARY__V1__DTYPE__DTYPE_UINT8: return 1;
    default: return 0;
    }
}

static const char *reject_code_name(int code) {
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&tributary__v1__reject__code__descriptor, code);
    return v != NULL ? v->name : "CODE_<unknown>";
}

/* ------------------------------------------------------------------------- */
/* Little-endian element access                                               */

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static float lef32(const uint8_t *p) {
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void putf32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put32(p, u);
}

/* ------------------------------------------------------------------------- */
/* Frames                                                                     */

typedef struct {
    const uint8_t *data;
    size_t len;
} Frame;

/* Checks a header frame: magic, version 1, and (if expected_type != 0) the type. */
static bool header_ok(const Frame *h, unsigned expected_type, char *why, size_t why_len) {
    if (h->len != HEADER_BYTES || h->data[0] != 'T' || h->data[1] != 'R') {
        snprintf(why, why_len, "header frame is not 'T' 'R' version type (%zu bytes)", h->len);
        return false;
    }
    if (h->data[2] != PROTOCOL_VERSION) {
        snprintf(why, why_len, "header version %u, expected %d", h->data[2], PROTOCOL_VERSION);
        return false;
    }
    if (expected_type != 0 && h->data[3] != expected_type) {
        snprintf(why, why_len, "header type %u (%s), expected %u (%s)", h->data[3], type_name(h->data[3]),
                 expected_type, type_name(expected_type));
        return false;
    }
    return true;
}

/* ========================================================================= */
/* golden mode                                                                */

typedef struct {
    const char *file;
    int failures;
} Golden;

static void mismatch(Golden *g, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "  %s: ", g->file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g->failures++;
}

#define EXPECT(g, cond, ...)              \
    do {                                  \
        if (!(cond)) mismatch((g), __VA_ARGS__); \
    } while (0)

static bool str_eq(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

/* Reads a whole file. Returns NULL (and says why) on failure. */
static uint8_t *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "out of memory\n");
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_GOLDEN_BYTES) {
                fprintf(stderr, "%s is larger than %u bytes\n", path, MAX_GOLDEN_BYTES);
                free(buf);
                fclose(f);
                return NULL;
            }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                fprintf(stderr, "out of memory\n");
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
                free(buf);
                fclose(f);
                return NULL;
            }
            break;
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "cannot close %s: %s\n", path, strerror(errno));
        free(buf);
        return NULL;
    }
    *len_out = len;
    return buf;
}

/* Splits `u32le length, bytes` records into frames pointing into buf. */
static int split_frames(const uint8_t *buf, size_t len, Frame *frames, size_t max_frames) {
    size_t i = 0;
    int n = 0;
    while (i < len) {
        if ((size_t)n == max_frames || len - i < 4) return -1;
        size_t flen = le32(buf + i);
        i += 4;
        if (flen > len - i) return -1;
        frames[n].data = buf + i;
        frames[n].len = flen;
        n++;
        i += flen;
    }
    return n;
}

/* Checks a tensor descriptor and returns its frame's bytes (NULL on mismatch). */
static const uint8_t *golden_tensor(Golden *g, const char *name, const Tributary__V1__Tensor *t,
                                    Tributary__V1__DType dtype, const uint64_t *shape, size_t ndim,
                                    const Frame *tensors, size_t ntensors) {
    if (t == NULL) {
        mismatch(g, "%s is missing", name);
        return NULL;
    }
    bool ok = true;
    if (t->dtype != dtype) {
        mismatch(g, "%s dtype %d, expected %d", name, (int)t->dtype, (int)dtype);
        ok = false;
    }
    size_t elements = 1;
    if (t->n_shape != ndim) {
        mismatch(g, "%s has %zu dimensions, expected %zu", name, t->n_shape, ndim);
        ok = false;
    } else {
        for (size_t d = 0; d < ndim; d++) {
            if (t->shape[d] != shape[d]) {
                mismatch(g, "%s shape[%zu] = %" PRIu64 ", expected %" PRIu64, name, d, t->shape[d], shape[d]);
                ok = false;
            }
            elements *= (size_t)shape[d];
        }
    }
    if (t->frame >= ntensors) {
        mismatch(g, "%s names tensor frame %u of %zu", name, t->frame, ntensors);
        return NULL;
    }
    if (!ok) return NULL;
    const Frame *f = &tensors[t->frame];
    if (f->len != elements * dtype_size(dtype)) {
        mismatch(g, "%s frame has %zu bytes, expected %zu", name, f->len, elements * dtype_size(dtype));
        return NULL;
    }
    return f->data;
}

static void golden_f32(Golden *g, const char *name, const uint8_t *p, const float *want, size_t n) {
    if (p == NULL) return;
    for (size_t i = 0; i < n; i++)
        EXPECT(g, lef32(p + 4 * i) == want[i], "%s[%zu] = %g, expected %g", name, i, (double)lef32(p + 4 * i),
               (double)want[i]);
}

static void golden_i32(Golden *g, const char *name, const uint8_t *p, const int32_t *want, size_t n) {
    if (p == NULL) return;
    for (size_t i = 0; i < n; i++)
        EXPECT(g, (int32_t)le32(p + 4 * i) == want[i], "%s[%zu] = %" PRId32 ", expected %" PRId32, name, i,
               (int32_t)le32(p + 4 * i), want[i]);
}

static void golden_u8(Golden *g, const char *name, const uint8_t *p, const uint8_t *want, size_t n) {
    if (p == NULL) return;
    for (size_t i = 0; i < n; i++)
        EXPECT(g, p[i] == want[i], "%s[%zu] = %u, expected %u", name, i, p[i], want[i]);
}

/* SHA-256 of the bytes 01 02 03 (WeightsDigest.sha256([1, 2, 3])). */
static const uint8_t golden_digest[32] = {
    0x03, 0x90, 0x58, 0xc6, 0xf2, 0xc0, 0xcb, 0x49, 0x2c, 0x53, 0x3b, 0x0a, 0x4d, 0x14, 0xef, 0x77,
    0xcc, 0x0f, 0x78, 0xab, 0xcc, 0xce, 0xd5, 0x28, 0x7d, 0x84, 0xa1, 0xa2, 0x01, 0x1c, 0xfb, 0x81,
};

static void golden_weights_announcement(Golden *g, const char *what, const Tributary__V1__WeightsAvailable *w) {
    if (w == NULL) {
        mismatch(g, "%s is missing", what);
        return;
    }
    EXPECT(g, str_eq(w->run_id, "golden-run"), "%s.run_id = '%s'", what, w->run_id);
    EXPECT(g, w->version == 3, "%s.version = %" PRIu64 ", expected 3", what, w->version);
    EXPECT(g, w->digest.len == 32 && memcmp(w->digest.data, golden_digest, 32) == 0,
           "%s.digest is not SHA-256(01 02 03) (%zu bytes)", what, w->digest.len);
    EXPECT(g, w->size == 3, "%s.size = %" PRIu64 ", expected 3", what, w->size);
}

static void check_env(Golden *g, const Tributary__V1__EnvSpec *e) {
    if (e == NULL) {
        mismatch(g, "hello.env is missing");
        return;
    }
    EXPECT(g, str_eq(e->env_id, "synthetic"), "env.env_id = '%s'", e->env_id);
    EXPECT(g, e->num_envs == 2, "env.num_envs = %u, expected 2", e->num_envs);
    EXPECT(g, e->n_observation_shape == 1 && e->observation_shape[0] == 3, "env.observation_shape is not [3]");
    EXPECT(g, e->observation_dtype == TRIBUTARY__V1__DTYPE__DTYPE_FLOAT32, "env.observation_dtype = %d",
           (int)e->observation_dtype);
    EXPECT(g, e->n_action_shape == 0, "env.action_shape is not []");
    EXPECT(g, e->action_dtype == TRIBUTARY__V1__DTYPE__DTYPE_INT32, "env.action_dtype = %d", (int)e->action_dtype);
    EXPECT(g, e->num_actions == 2, "env.num_actions = %u, expected 2", e->num_actions);
}

static void check_hello(Golden *g, const ProtobufCMessage *m, const Frame *tensors, size_t ntensors) {
    const Tributary__V1__Hello *h = (const Tributary__V1__Hello *)m;
    (void)tensors;
    EXPECT(g, ntensors == 0, "%zu tensor frames, expected 0", ntensors);
    EXPECT(g, h->n_protocol_versions == 1 && h->protocol_versions[0] == 1, "protocol_versions is not [1]");
    EXPECT(g, str_eq(h->worker_id, "golden-worker"), "worker_id = '%s'", h->worker_id);
    EXPECT(g, h->incarnation == 42, "incarnation = %" PRIu64 ", expected 42", h->incarnation);
    EXPECT(g, str_eq(h->host, "golden-host"), "host = '%s'", h->host);
    check_env(g, h->env);
    EXPECT(g, h->n_capabilities == 1 && str_eq(h->capabilities[0], "weights.v1"), "capabilities is not [weights.v1]");
    EXPECT(g, h->pid == 7, "pid = %u, expected 7", h->pid);
    EXPECT(g, str_eq(h->software_version, "tributary 0.1"), "software_version = '%s'", h->software_version);
}

static void check_welcome(Golden *g, const ProtobufCMessage *m, const Frame *tensors, size_t ntensors) {
    const Tributary__V1__Welcome *w = (const Tributary__V1__Welcome *)m;
    (void)tensors;
    EXPECT(g, ntensors == 0, "%zu tensor frames, expected 0", ntensors);
    EXPECT(g, str_eq(w->run_id, "golden-run"), "run_id = '%s'", w->run_id);
    EXPECT(g, w->protocol_version == 1, "protocol_version = %u", w->protocol_version);
    EXPECT(g, w->unroll_length == 2, "unroll_length = %u, expected 2", w->unroll_length);
    EXPECT(g, w->initial_credits == 4, "initial_credits = %u, expected 4", w->initial_credits);
    EXPECT(g, w->heartbeat_interval_ms == 500, "heartbeat_interval_ms = %u", w->heartbeat_interval_ms);
    EXPECT(g, w->liveness_ms == 5000, "liveness_ms = %u", w->liveness_ms);
    EXPECT(g, w->max_message_bytes == (uint64_t)64 << 20, "max_message_bytes = %" PRIu64, w->max_message_bytes);
    EXPECT(g, w->model == NULL, "model is set, expected absent");
    golden_weights_announcement(g, "current_weights", w->current_weights);
}

static void check_chunk(Golden *g, const ProtobufCMessage *m, const Frame *tensors, size_t ntensors) {
    const Tributary__V1__TrajectoryChunk *c = (const Tributary__V1__TrajectoryChunk *)m;
    EXPECT(g, ntensors == 10, "%zu tensor frames, expected 10", ntensors);
    EXPECT(g, str_eq(c->run_id, "golden-run"), "run_id = '%s'", c->run_id);
    EXPECT(g, str_eq(c->worker_id, "golden-worker"), "worker_id = '%s'", c->worker_id);
    EXPECT(g, c->incarnation == 42, "incarnation = %" PRIu64, c->incarnation);
    EXPECT(g, str_eq(c->env_id, "synthetic"), "env_id = '%s'", c->env_id);
    EXPECT(g, c->sequence == 5, "sequence = %" PRIu64 ", expected 5", c->sequence);
    EXPECT(g, c->length == 2, "length (T) = %u, expected 2", c->length);
    EXPECT(g, c->num_envs == 2, "num_envs (B) = %u, expected 2", c->num_envs);

    const Tributary__V1__DType F32 = TRIBUTARY__V1__DTYPE__DTYPE_FLOAT32, I32 = TRIBUTARY__V1__DTYPE__DTYPE_INT32,
                               U8 = TRIBUTARY__V1__DTYPE__DTYPE_UINT8, U64 = TRIBUTARY__V1__DTYPE__DTYPE_UINT64;
    const uint64_t s_t[] = {2}, s_tb[] = {2, 2}, s_obs[] = {2, 2, 3}, s_final[] = {1, 3}, s_index[] = {1, 2},
                   s_boot[] = {2, 3};
    const uint8_t *p;

    p = golden_tensor(g, "policy_versions", c->policy_versions, U64, s_t, 1, tensors, ntensors);
    if (p != NULL)
        for (size_t i = 0; i < 2; i++)
            EXPECT(g, le64(p + 8 * i) == 3, "policy_versions[%zu] = %" PRIu64 ", expected 3", i, le64(p + 8 * i));

    float obs[12];
    for (int i = 0; i < 12; i++) obs[i] = (float)i * 0.5f;
    p = golden_tensor(g, "observations", c->observations, F32, s_obs, 3, tensors, ntensors);
    golden_f32(g, "observations", p, obs, 12);

    const int32_t actions[] = {0, 1, 1, 0};
    p = golden_tensor(g, "actions", c->actions, I32, s_tb, 2, tensors, ntensors);
    golden_i32(g, "actions", p, actions, 4);

    const float logp[] = {-0.5f, -1.0f, -0.25f, -2.0f};
    p = golden_tensor(g, "behaviour_logp", c->behaviour_logp, F32, s_tb, 2, tensors, ntensors);
    golden_f32(g, "behaviour_logp", p, logp, 4);

    EXPECT(g, c->behaviour_logits == NULL, "behaviour_logits is set, expected absent");

    const float rewards[] = {1, 0, 1, 1};
    p = golden_tensor(g, "rewards", c->rewards, F32, s_tb, 2, tensors, ntensors);
    golden_f32(g, "rewards", p, rewards, 4);

    const uint8_t terminated[] = {0, 0, 0, 0}, truncated[] = {0, 0, 0, 1};
    p = golden_tensor(g, "terminated", c->terminated, U8, s_tb, 2, tensors, ntensors);
    golden_u8(g, "terminated", p, terminated, 4);
    p = golden_tensor(g, "truncated", c->truncated, U8, s_tb, 2, tensors, ntensors);
    golden_u8(g, "truncated", p, truncated, 4);

    const float finals[] = {9, 9.5f, 10};
    p = golden_tensor(g, "final_observations", c->final_observations, F32, s_final, 2, tensors, ntensors);
    golden_f32(g, "final_observations", p, finals, 3);

    const int32_t index[] = {1, 1};
    p = golden_tensor(g, "final_observation_index", c->final_observation_index, I32, s_index, 2, tensors, ntensors);
    golden_i32(g, "final_observation_index", p, index, 2);

    const float boot[] = {6, 6.5f, 7, 7.5f, 8, 8.5f};
    p = golden_tensor(g, "bootstrap_observation", c->bootstrap_observation, F32, s_boot, 2, tensors, ntensors);
    golden_f32(g, "bootstrap_observation", p, boot, 6);

    /* Every tensor frame is referenced exactly once (frames 0..9, a permutation). */
    const Tributary__V1__Tensor *all[] = {c->policy_versions,   c->observations,       c->actions,
                                          c->behaviour_logp,    c->rewards,            c->terminated,
                                          c->truncated,         c->final_observations, c->final_observation_index,
                                          c->bootstrap_observation};
    unsigned seen = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] != NULL && all[i]->frame < 10) seen |= 1u << all[i]->frame;
    EXPECT(g, seen == 0x3ffu, "tensor frames are not referenced exactly once each");

    EXPECT(g, c->group_id_present_case == TRIBUTARY__V1__TRAJECTORY_CHUNK__GROUP_ID_PRESENT_GROUP_ID,
           "group_id is absent, expected present");
    if (c->group_id_present_case == TRIBUTARY__V1__TRAJECTORY_CHUNK__GROUP_ID_PRESENT_GROUP_ID)
        EXPECT(g, c->group_id == 11, "group_id = %" PRIu64 ", expected 11", c->group_id);
    EXPECT(g, c->sample_index_present_case == TRIBUTARY__V1__TRAJECTORY_CHUNK__SAMPLE_INDEX_PRESENT__NOT_SET,
           "sample_index is present, expected absent");
    EXPECT(g, c->prompt_id_present_case == TRIBUTARY__V1__TRAJECTORY_CHUNK__PROMPT_ID_PRESENT__NOT_SET,
           "prompt_id is present, expected absent");

    EXPECT(g, c->n_episodes == 1, "%zu episodes, expected 1", c->n_episodes);
    if (c->n_episodes == 1) {
        const Tributary__V1__EpisodeStats *e = c->episodes[0];
        EXPECT(g, e->env_index == 1 && e->step == 1 && e->episode_return == 200.0 && e->length == 200 &&
                      !e->terminated && e->truncated,
               "episodes[0] is not {env_index 1, step 1, return 200, length 200, truncated}");
    }
    EXPECT(g, c->created_unix_ns == UINT64_C(1700000000000000000), "created_unix_ns = %" PRIu64, c->created_unix_ns);
}

static void check_credit(Golden *g, const ProtobufCMessage *m, const Frame *tensors, size_t ntensors) {
    const Tributary__V1__Credit *c = (const Tributary__V1__Credit *)m;
    (void)tensors;
    EXPECT(g, ntensors == 0, "%zu tensor frames, expected 0", ntensors);
    EXPECT(g, c->credits == 1, "credits = %u, expected 1", c->credits);
    EXPECT(g, c->acked_chunks == 6, "acked_chunks = %" PRIu64 ", expected 6", c->acked_chunks);
}

static void check_reject(Golden *g, const ProtobufCMessage *m, const Frame *tensors, size_t ntensors) {
    const Tributary__V1__Reject *r = (const Tributary__V1__Reject *)m;
    (void)tensors;
    EXPECT(g, ntensors == 0, "%zu tensor frames, expected 0", ntensors);
    EXPECT(g, r->code == TRIBUTARY__V1__REJECT__CODE__CODE_UNSUPPORTED_VERSION, "code = %s, expected %s",
           reject_code_name(r->code), "CODE_UNSUPPORTED_VERSION");
    EXPECT(g, str_eq(r->reason, "worker speaks [2], learner speaks [1]"), "reason = '%s'", r->reason);
    EXPECT(g, r->rejected_type == MSG_HELLO, "rejected_type = %u, expected 1", r->rejected_type);
    EXPECT(g, r->sequence == 0, "sequence = %" PRIu64 ", expected 0", r->sequence);
    EXPECT(g, r->credits_returned == 0, "credits_returned = %u, expected 0", r->credits_returned);
}

static void check_weights_available(Golden *g, const ProtobufCMessage *m, const Frame *tensors, size_t ntensors) {
    (void)tensors;
    EXPECT(g, ntensors == 0, "%zu tensor frames, expected 0", ntensors);
    golden_weights_announcement(g, "weights_available", (const Tributary__V1__WeightsAvailable *)m);
}

typedef struct {
    const char *file;
    unsigned type;
    const ProtobufCMessageDescriptor *descriptor;
    void (*check)(Golden *, const ProtobufCMessage *, const Frame *, size_t);
} GoldenCase;

static const GoldenCase golden_cases[] = {
    {"hello.frames", MSG_HELLO, &tributary__v1__hello__descriptor, check_hello},
    {"welcome.frames", MSG_WELCOME, &tributary__v1__welcome__descriptor, check_welcome},
    {"chunk.frames", MSG_TRAJECTORY_CHUNK, &tributary__v1__trajectory_chunk__descriptor, check_chunk},
    {"credit.frames", MSG_CREDIT, &tributary__v1__credit__descriptor, check_credit},
    {"reject.frames", MSG_REJECT, &tributary__v1__reject__descriptor, check_reject},
    {"weights_available.frames", MSG_WEIGHTS_AVAILABLE, &tributary__v1__weights_available__descriptor,
     check_weights_available},
};

/* Returns true when the file matches. */
static bool golden_one(const char *dir, const GoldenCase *gc) {
    Golden g = {gc->file, 0};
    size_t plen = strlen(dir) + 1 + strlen(gc->file) + 1;
    char *path = malloc(plen);
    if (path == NULL) {
        printf("FAIL %-26s out of memory\n", gc->file);
        return false;
    }
    snprintf(path, plen, "%s/%s", dir, gc->file);
    size_t len = 0;
    uint8_t *buf = read_file(path, &len);
    free(path);
    if (buf == NULL) {
        printf("FAIL %-26s cannot be read\n", gc->file);
        return false;
    }

    Frame frames[MAX_FRAMES];
    int n = split_frames(buf, len, frames, MAX_FRAMES);
    char why[160];
    ProtobufCMessage *msg = NULL;
    if (n < 2) {
        mismatch(&g, n < 0 ? "not a sequence of (u32le length, bytes) frames" : "fewer than 2 frames");
    } else if (!header_ok(&frames[0], gc->type, why, sizeof why)) {
        mismatch(&g, "%s", why);
    } else {
        msg = protobuf_c_message_unpack(gc->descriptor, NULL, frames[1].len, frames[1].data);
        if (msg == NULL) {
            mismatch(&g, "%s body does not decode with protobuf-c", type_name(gc->type));
        } else {
            EXPECT(&g, msg->n_unknown_fields == 0, "body has %u field(s) unknown to this schema",
                   msg->n_unknown_fields);
            gc->check(&g, msg, frames + 2, (size_t)n - 2);
            protobuf_c_message_free_unpacked(msg, NULL);
        }
    }
    free(buf);
    if (g.failures == 0) {
        printf("ok   %-26s %s, %d frames, %zu bytes\n", gc->file, type_name(gc->type), n, len);
        return true;
    }
    printf("FAIL %-26s %d mismatch(es)\n", gc->file, g.failures);
    return false;
}

static int run_golden(const char *dir) {
    int failed = 0;
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++)
        if (!golden_one(dir, &golden_cases[i])) failed++;
    if (failed != 0) {
        fprintf(stderr, "golden: %d of %zu file(s) failed\n", failed, sizeof golden_cases / sizeof golden_cases[0]);
        return 1;
    }
    return 0;
}

/* ========================================================================= */
/* talk mode                                                                  */

static int64_t now_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t random_incarnation(void) {
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f != NULL) {
        if (fread(&v, sizeof v, 1, f) != 1) v = 0;
        fclose(f);
    }
    if (v == 0) { /* no /dev/urandom: mix the clock and the pid */
        struct timespec ts;
        if (timespec_get(&ts, TIME_UTC) == 0) ts.tv_sec = ts.tv_nsec = 0;
        v = ((uint64_t)ts.tv_sec * 1000000007u) ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid();
        v ^= v >> 33;
        v *= UINT64_C(0xff51afd7ed558ccd);
        v ^= v >> 33;
    }
    return v != 0 ? v : 1;
}

static uint64_t unix_ns(void) {
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) == 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sends header, packed body and tensor frames as one multipart message. */
static bool send_message(void *sock, unsigned type, const ProtobufCMessage *body, const Frame *tensors,
                         size_t ntensors) {
    uint8_t header[HEADER_BYTES] = {'T', 'R', PROTOCOL_VERSION, (uint8_t)type};
    size_t blen = protobuf_c_message_get_packed_size(body);
    uint8_t *bbuf = malloc(blen > 0 ? blen : 1);
    if (bbuf == NULL) {
        fprintf(stderr, "out of memory packing %s\n", type_name(type));
        return false;
    }
    if (protobuf_c_message_pack(body, bbuf) != blen) {
        fprintf(stderr, "protobuf-c packed a %s of the wrong size\n", type_name(type));
        free(bbuf);
        return false;
    }
    bool ok = true;
    if (zmq_send(sock, header, sizeof header, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, bbuf, blen, ntensors > 0 ? ZMQ_SNDMORE : 0) < 0) {
        ok = false;
    }
    for (size_t i = 0; ok && i < ntensors; i++)
        if (zmq_send(sock, tensors[i].data, tensors[i].len, i + 1 < ntensors ? ZMQ_SNDMORE : 0) < 0) ok = false;
    if (!ok)
        fprintf(stderr, "cannot send %s: %s\n", type_name(type),
                zmq_errno() == EAGAIN ? "send timed out (learner not reachable?)" : zmq_strerror(zmq_errno()));
    free(bbuf);
    return ok;
}

/* A received multipart message. Frames past MAX_FRAMES are dropped (and counted). */
typedef struct {
    zmq_msg_t parts[MAX_FRAMES];
    size_t count;
    size_t dropped;
} Received;

static void received_close(Received *r) {
    for (size_t i = 0; i < r->count; i++) zmq_msg_close(&r->parts[i]);
    r->count = 0;
}

static Frame received_frame(Received *r, size_t i) {
    Frame f = {zmq_msg_data(&r->parts[i]), zmq_msg_size(&r->parts[i])};
    return f;
}

/* Waits until deadline for one message. Returns 1 on a message, 0 on timeout, -1 on error. */
static int receive_message(void *sock, int64_t deadline, Received *r) {
    r->count = 0;
    r->dropped = 0;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return 0;
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, (long)left);
        if (rc < 0) {
            if (zmq_errno() == EINTR) continue;
            fprintf(stderr, "zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (rc > 0 && (item.revents & ZMQ_POLLIN)) break;
    }
    /* All parts of a multipart message arrive together. */
    for (;;) {
        zmq_msg_t part;
        if (zmq_msg_init(&part) != 0) {
            fprintf(stderr, "zmq_msg_init: %s\n", zmq_strerror(zmq_errno()));
            received_close(r);
            return -1;
        }
        if (zmq_msg_recv(&part, sock, 0) < 0) {
            int err = zmq_errno();
            zmq_msg_close(&part);
            if (err == EINTR) continue;
            fprintf(stderr, "zmq_msg_recv: %s\n", zmq_strerror(err));
            received_close(r);
            return -1;
        }
        bool more = zmq_msg_more(&part) != 0;
        if (r->count < MAX_FRAMES) {
            r->parts[r->count++] = part; /* ownership moves into r */
        } else {
            zmq_msg_close(&part);
            r->dropped++;
        }
        if (!more) return 1;
    }
}

/* Prints a Reject and returns false (the caller's failure). */
static bool report_reject(const Frame *body, const char *while_doing) {
    Tributary__V1__Reject *r = tributary__v1__reject__unpack(NULL, body->len, body->data);
    if (r == NULL) {
        fprintf(stderr, "rejected while %s (Reject body does not decode)\n", while_doing);
        return false;
    }
    fprintf(stderr, "rejected while %s: %s: %s (rejected type %u, sequence %" PRIu64 ", credits returned %u)\n",
            while_doing, reject_code_name(r->code), r->reason, r->rejected_type, r->sequence, r->credits_returned);
    tributary__v1__reject__free_unpacked(r, NULL);
    return false;
}

/*
 * Waits for a message of type `want`, skipping Heartbeats (and, with a note, any
 * other message). On success *out holds its decoded body (caller frees).
 * Returns false on a Reject, timeout, malformed message or socket error.
 */
static bool wait_for(void *sock, unsigned want, const ProtobufCMessageDescriptor *descriptor, int timeout_ms,
                     ProtobufCMessage **out) {
    char doing[64];
    snprintf(doing, sizeof doing, "waiting for %s", type_name(want));
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        Received r;
        int rc = receive_message(sock, deadline, &r);
        if (rc == 0) {
            fprintf(stderr, "timeout: no %s within %d ms\n", type_name(want), timeout_ms);
            return false;
        }
        if (rc < 0) return false;
        if (r.count < 2) {
            fprintf(stderr, "malformed message while %s: %zu frame(s)\n", doing, r.count);
            received_close(&r);
            return false;
        }
        Frame header = received_frame(&r, 0), body = received_frame(&r, 1);
        char why[160];
        if (!header_ok(&header, 0, why, sizeof why)) {
            fprintf(stderr, "malformed message while %s: %s\n", doing, why);
            received_close(&r);
            return false;
        }
        unsigned type = header.data[3];
        if (type == want) {
            *out = protobuf_c_message_unpack(descriptor, NULL, body.len, body.data);
            received_close(&r);
            if (*out == NULL) {
                fprintf(stderr, "%s body does not decode\n", type_name(want));
                return false;
            }
            return true;
        }
        if (type == MSG_REJECT) {
            report_reject(&body, doing);
            received_close(&r);
            return false;
        }
        if (type != MSG_HEARTBEAT)
            fprintf(stderr, "note: ignoring %s (type %u) while %s\n", type_name(type), type, doing);
        received_close(&r);
    }
}

/* The chunk's tensors, in tensor-frame order. */
enum {
    TF_POLICY_VERSIONS,
    TF_OBSERVATIONS,
    TF_ACTIONS,
    TF_LOGP,
    TF_REWARDS,
    TF_TERMINATED,
    TF_TRUNCATED,
    TF_BOOTSTRAP,
    TF_COUNT
};

#define OBS_SIZE 4

typedef struct {
    uint8_t *bytes[TF_COUNT];
    Frame frames[TF_COUNT];
    uint64_t shapes[TF_COUNT][3];
    Tributary__V1__Tensor tensors[TF_COUNT];
} ChunkTensors;

static void chunk_tensors_free(ChunkTensors *c) {
    for (int i = 0; i < TF_COUNT; i++) free(c->bytes[i]);
}

static bool add_tensor(ChunkTensors *c, int index, Tributary__V1__DType dtype, const uint64_t *shape, size_t ndim) {
    size_t elements = 1;
    for (size_t d = 0; d < ndim; d++) {
        c->shapes[index][d] = shape[d];
        elements *= (size_t)shape[d];
    }
    size_t len = elements * dtype_size(dtype);
    c->bytes[index] = calloc(len > 0 ? len : 1, 1);
    if (c->bytes[index] == NULL) {
        fprintf(stderr, "out of memory for a %zu-byte tensor\n", len);
        return false;
    }
    c->frames[index].data = c->bytes[index];
    c->frames[index].len = len;
    Tributary__V1__Tensor t = TRIBUTARY__V1__TENSOR__INIT;
    t.dtype = dtype;
    t.n_shape = ndim;
    t.shape = c->shapes[index];
    t.frame = (uint32_t)index;
    c->tensors[index] = t;
    return true;
}

/* Fills T steps of one synthetic environment (B = 1, observation [4], 2 actions). */
static bool build_chunk_tensors(ChunkTensors *c, uint64_t t_len, uint64_t version) {
    const Tributary__V1__DType F32 = TRIBUTARY__V1__DTYPE__DTYPE_FLOAT32, I32 = TRIBUTARY__V1__DTYPE__DTYPE_INT32,
                               U8 = TRIBUTARY__V1__DTYPE__DTYPE_UINT8, U64 = TRIBUTARY__V1__DTYPE__DTYPE_UINT64;
    const uint64_t s_t[] = {t_len}, s_tb[] = {t_len, 1}, s_obs[] = {t_len, 1, OBS_SIZE}, s_boot[] = {1, OBS_SIZE};
    if (!add_tensor(c, TF_POLICY_VERSIONS, U64, s_t, 1) || !add_tensor(c, TF_OBSERVATIONS, F32, s_obs, 3) ||
        !add_tensor(c, TF_ACTIONS, I32, s_tb, 2) || !add_tensor(c, TF_LOGP, F32, s_tb, 2) ||
        !add_tensor(c, TF_REWARDS, F32, s_tb, 2) || !add_tensor(c, TF_TERMINATED, U8, s_tb, 2) ||
        !add_tensor(c, TF_TRUNCATED, U8, s_tb, 2) || !add_tensor(c, TF_BOOTSTRAP, F32, s_boot, 2))
        return false;
    for (uint64_t t = 0; t < t_len; t++) {
        put64(c->bytes[TF_POLICY_VERSIONS] + 8 * t, version);
        for (int k = 0; k < OBS_SIZE; k++)
            putf32(c->bytes[TF_OBSERVATIONS] + 4 * (t * OBS_SIZE + (uint64_t)k), (float)t * 0.25f + (float)k);
        put32(c->bytes[TF_ACTIONS] + 4 * t, (uint32_t)(t % 2));
        putf32(c->bytes[TF_LOGP] + 4 * t, -0.69314718f); /* log(1/2): uniform over 2 actions */
        putf32(c->bytes[TF_REWARDS] + 4 * t, 1.0f);
        /* terminated / truncated stay all zero (calloc) */
    }
    for (int k = 0; k < OBS_SIZE; k++)
        putf32(c->bytes[TF_BOOTSTRAP] + 4 * k, (float)t_len * 0.25f + (float)k);
    return true;
}

static int run_talk(const char *endpoint, int timeout_ms) {
    int status = 1;
    Tributary__V1__Welcome *welcome = NULL;
    Tributary__V1__Credit *credit = NULL;
    ChunkTensors ct;
    memset(&ct, 0, sizeof ct);

    void *ctx = zmq_ctx_new();
    if (ctx == NULL) {
        fprintf(stderr, "zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    if (sock == NULL) {
        fprintf(stderr, "zmq_socket: %s\n", zmq_strerror(zmq_errno()));
        zmq_ctx_term(ctx);
        return 1;
    }
    int linger = 200;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms) != 0) {
        fprintf(stderr, "zmq_setsockopt: %s\n", zmq_strerror(zmq_errno()));
        goto done;
    }
    if (zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "cannot connect to %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }

    /* Hello */
    uint64_t incarnation = random_incarnation();
    uint32_t versions[] = {PROTOCOL_VERSION};
    uint64_t obs_shape[] = {OBS_SIZE};
    char *capabilities[] = {"weights.v1"};
    char hostname[256];
    if (gethostname(hostname, sizeof hostname) != 0) snprintf(hostname, sizeof hostname, "unknown");
    hostname[sizeof hostname - 1] = '\0';

    Tributary__V1__EnvSpec env = TRIBUTARY__V1__ENV_SPEC__INIT;
    env.env_id = "synthetic";
    env.num_envs = 1;
    env.n_observation_shape = 1;
    env.observation_shape = obs_shape;
    env.observation_dtype = TRIBUTARY__V1__DTYPE__DTYPE_FLOAT32;
    env.action_dtype = TRIBUTARY__V1__DTYPE__DTYPE_INT32;
    env.num_actions = 2;

    Tributary__V1__Hello hello = TRIBUTARY__V1__HELLO__INIT;
    hello.n_protocol_versions = 1;
    hello.protocol_versions = versions;
    hello.worker_id = "c-client";
    hello.incarnation = incarnation;
    hello.host = hostname;
    hello.env = &env;
    hello.n_capabilities = 1;
    hello.capabilities = capabilities;
    hello.pid = (uint32_t)getpid();
    hello.software_version = "tributary-c-client 0.1";
    if (!send_message(sock, MSG_HELLO, &hello.base, NULL, 0)) goto done;
    printf("hello sent to %s (worker c-client, incarnation %" PRIu64 ")\n", endpoint, incarnation);

    /* Welcome */
    if (!wait_for(sock, MSG_WELCOME, &tributary__v1__welcome__descriptor, timeout_ms, (ProtobufCMessage **)&welcome))
        goto done;
    uint64_t version = welcome->current_weights != NULL ? welcome->current_weights->version : 0;
    printf("welcome run_id=%s protocol=%u T=%u credits=%u weights_version=%" PRIu64 "\n", welcome->run_id,
           welcome->protocol_version, welcome->unroll_length, welcome->initial_credits, version);
    if (welcome->protocol_version != PROTOCOL_VERSION) {
        fprintf(stderr, "learner chose protocol version %u, this client speaks %d\n", welcome->protocol_version,
                PROTOCOL_VERSION);
        goto done;
    }
    if (welcome->unroll_length == 0 || welcome->unroll_length > MAX_UNROLL_LENGTH) {
        fprintf(stderr, "unroll_length %u is outside 1...%d\n", welcome->unroll_length, MAX_UNROLL_LENGTH);
        goto done;
    }
    if (welcome->initial_credits == 0) {
        fprintf(stderr, "learner granted no initial credits: cannot send a chunk\n");
        goto done;
    }

    /* TrajectoryChunk */
    uint64_t t_len = welcome->unroll_length;
    if (!build_chunk_tensors(&ct, t_len, version)) goto done;
    Tributary__V1__TrajectoryChunk chunk = TRIBUTARY__V1__TRAJECTORY_CHUNK__INIT;
    chunk.run_id = welcome->run_id;
    chunk.worker_id = "c-client";
    chunk.incarnation = incarnation;
    chunk.env_id = "synthetic";
    chunk.sequence = 0;
    chunk.length = (uint32_t)t_len;
    chunk.num_envs = 1;
    chunk.policy_versions = &ct.tensors[TF_POLICY_VERSIONS];
    chunk.observations = &ct.tensors[TF_OBSERVATIONS];
    chunk.actions = &ct.tensors[TF_ACTIONS];
    chunk.behaviour_logp = &ct.tensors[TF_LOGP];
    chunk.rewards = &ct.tensors[TF_REWARDS];
    chunk.terminated = &ct.tensors[TF_TERMINATED];
    chunk.truncated = &ct.tensors[TF_TRUNCATED];
    chunk.bootstrap_observation = &ct.tensors[TF_BOOTSTRAP];
    chunk.created_unix_ns = unix_ns();

    uint64_t total = HEADER_BYTES + protobuf_c_message_get_packed_size(&chunk.base);
    for (int i = 0; i < TF_COUNT; i++) total += ct.frames[i].len;
    if (welcome->max_message_bytes != 0 && total > welcome->max_message_bytes) {
        fprintf(stderr, "chunk would be %" PRIu64 " bytes, the learner accepts at most %" PRIu64 "\n", total,
                welcome->max_message_bytes);
        goto done;
    }
    if (!send_message(sock, MSG_TRAJECTORY_CHUNK, &chunk.base, ct.frames, TF_COUNT)) goto done;
    printf("chunk sent: sequence 0, T=%" PRIu64 ", B=1, %d tensor frames, %" PRIu64 " bytes\n", t_len, TF_COUNT,
           total);

    /* Credit */
    if (!wait_for(sock, MSG_CREDIT, &tributary__v1__credit__descriptor, timeout_ms, (ProtobufCMessage **)&credit))
        goto done;
    if (credit->acked_chunks != 1) {
        fprintf(stderr, "credit acknowledges %" PRIu64 " chunk(s), expected 1\n", credit->acked_chunks);
        goto done;
    }
    printf("credit ok acked=%" PRIu64 "\n", credit->acked_chunks);

    /* Goodbye */
    Tributary__V1__Goodbye bye = TRIBUTARY__V1__GOODBYE__INIT;
    bye.reason = "c-client done";
    bye.chunks_sent = 1;
    if (!send_message(sock, MSG_GOODBYE, &bye.base, NULL, 0)) goto done;
    printf("goodbye sent\n");
    status = 0;

done:
    if (credit != NULL) tributary__v1__credit__free_unpacked(credit, NULL);
    if (welcome != NULL) tributary__v1__welcome__free_unpacked(welcome, NULL);
    chunk_tensors_free(&ct);
    if (zmq_close(sock) != 0) fprintf(stderr, "zmq_close: %s\n", zmq_strerror(zmq_errno()));
    while (zmq_ctx_term(ctx) != 0) { /* waits up to LINGER for the Goodbye to leave */
        if (zmq_errno() != EINTR) {
            fprintf(stderr, "zmq_ctx_term: %s\n", zmq_strerror(zmq_errno()));
            break;
        }
    }
    if (fflush(stdout) != 0) status = 1;
    return status;
}

/* ========================================================================= */

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s golden DIR\n"
            "       %s talk DATA_ENDPOINT [TIMEOUT_MS]   (default timeout 5000 ms)\n",
            argv0, argv0);
}

int main(int argc, char **argv) {
    const char *argv0 = argc > 0 ? argv[0] : "tributary-c-client";
    if (argc == 3 && strcmp(argv[1], "golden") == 0) return run_golden(argv[2]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "talk") == 0) {
        int timeout_ms = 5000;
        if (argc == 4) {
            char *end = NULL;
            errno = 0;
            long v = strtol(argv[3], &end, 10);
            if (errno != 0 || end == argv[3] || *end != '\0' || v <= 0 || v > 3600000) {
                fprintf(stderr, "TIMEOUT_MS must be an integer in 1...3600000, got '%s'\n", argv[3]);
                return 2;
            }
            timeout_ms = (int)v;
        }
        return run_talk(argv[2], timeout_ms);
    }
    usage(argv0);
    return 2;
}
