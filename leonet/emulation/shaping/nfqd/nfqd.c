/*
 * leonet-nfqd: the compiled data path of leonet's nfqueue delay backend.
 *
 * It holds the packets of every shaped link end (one NFQUEUE queue per interface,
 * one NETLINK_NETFILTER socket per network namespace) and releases each after its
 * link's delay. It speaks the control protocol of nfqueue_control.py on an inherited
 * SOCK_SEQPACKET socket, exactly as the Python daemon (nfqueue_daemon.py) does, so
 * the Python shaper stays the control plane. Semantics are the Python daemon's:
 *
 *  - per queue a FIFO with due = max(nominal, previous due): a delay change never
 *    reorders a link; due packets leave with one NFQNL_MSG_VERDICT_BATCH per queue;
 *  - loss is a drop verdict at arrival;
 *  - path anchoring: a packet's nominal release at its previous hop is remembered
 *    (keyed by the IPv4 header fields forwarding does not change), and at the next
 *    hop it is due at nominal + delay, so the daemon's lateness and fixed overhead
 *    are not added up along a path. Real waiting in between (a tbf bandwidth queue)
 *    is emulated time and kept: the daemon models each link end's tbf from what it
 *    releases there (OP_RATE gives rate and bucket), and where the model says the
 *    packet met a queue, the next hop adds (transit - typical transit). Any other
 *    wait (for the daemon, for the kernel's forwarding on a busy machine) is made up
 *    at the next hop; those waits are counted (wait_hist) for the health monitor,
 *    because the same waits in the end hosts' kernels cannot be made up;
 *  - the timer is armed `lead` early and the due time is then awaited by polling,
 *    within a CPU budget shared by all workers.
 *
 * What is new: W worker threads (default: one per CPU), each owning the sockets of
 * a share of the namespaces (round robin), so a path's hops are spread over the
 * cores; batched receive (recvmmsg) and verdicts (one send per namespace per pass);
 * C costs per packet instead of Python's. Anchors live in one table shared by the
 * workers (striped locks). The daemon also measures its own health: release
 * lateness and hop-to-hop transit histograms (log-linear, cumulative, for the
 * shaper to diff), worker CPU time, and the packets the kernel holds for it that it
 * has not read yet and the kernel's drops (from each namespace's
 * /proc/net/netfilter/nfnetlink_queue).
 *
 * Usage: leonet-nfqd CONTROL_FD [--parent=PID] [--maxlen=N] [--workers=N]
 *                    [--realtime] [--pdeathsig] [--pin] [leonet.emulation.shaping.nfqd]
 * (the last word only marks the process as leonet's for `leonet cleanup`).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/types.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

/* ------------------------------------------------------------------ constants */
#define NS_PER_S 1000000000LL
#define MIN_LEAD_NS 20000LL
#define MAX_LEAD_NS 2000000LL
#define LEAD_SAMPLES 128
#define COPY_RANGE 64            /* the IPv4 header and the first 8 bytes after it: the anchor key */
#define RECV_BATCH 32            /* messages per recvmmsg: one pass over a socket */
#define MSG_BUF 512              /* one packet message (20 bytes of payload) fits */
/* A kernel receive timestamp older than this is not trusted (a clock step) */
#define MAX_STAMP_AGE_NS 200000000LL
/* Receive buffer of a namespace's socket. It bounds the hidden wait of packets the
 * daemon has not read yet (about 2,500 messages here: tens of ms at the most); a
 * daemon that falls further behind loses packets, which the kernel counts and the
 * health report shows, rather than delaying every path by seconds. */
#define RCVBUF (2 << 20)
#define OUT_BUF 16384            /* verdicts buffered per namespace per pass */
#define ANCHOR_TTL_NS NS_PER_S   /* an unclaimed release is forgotten after this */
#define ANCHOR_BUCKET 4
#define ANCHOR_STRIPES 1024
#define FLOOR_WINDOW 256
#define MAX_FLOOR_NS 200000LL
#define CONTROL_CHUNK 256        /* control records applied per worker-lock hold */
#define BUSY_WINDOW_NS 100000000LL /* a worker's busy share is measured over 100 ms */
/* A worker polls for a due time only while its last window brought fewer packets
 * than this rate: polling buys precision for sparse traffic (probes), but under load
 * the next due time is always within the timer's lateness, so the worker would poll
 * all the time, taking CPU from the kernel's forwarding; and a loaded worker is
 * woken by its packets often anyway. */
#define SPIN_MAX_RATE 5000
#define SPIN_CREDIT_MAX_NS 5000000LL
/* control protocol (nfqueue_control.py) */
enum { OP_NAMESPACE_ADD = 1, OP_NAMESPACE_REMOVE, OP_BIND, OP_SET, OP_UNBIND, OP_STATS, OP_CONFIG, OP_QUIT,
       OP_RATE };
#define HEADER_SIZE 5            /* <BI  op, seq */
#define REPLY_SIZE 9             /* <BIi op, seq, status */
#define QUEUE_REC 20             /* <IIQI ns_id, queue, delay_ns, loss (u32 fraction) */
#define KEY_REC 8                /* <II  ns_id, queue */
#define RATE_REC 24              /* <IIQQ ns_id, queue, tbf rate (bytes/s, 0: none), tbf bucket (bytes) */
/* log-linear histograms of microseconds: 16 bins per power of two, ~6 % wide */
#define HSUB 16
#define HBINS (HSUB * 30)

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int hist_bin(int64_t ns) {
    uint64_t us = ns <= 0 ? 0 : (uint64_t)ns / 1000;
    if (us < HSUB) return (int)us;
    int e = 63 - __builtin_clzll(us);              /* e >= 4 */
    int bin = (e - 3) * HSUB + (int)((us >> (e - 4)) & (HSUB - 1));
    return bin < HBINS ? bin : HBINS - 1;
}

static double hist_mid_ms(int bin) {              /* the middle of a bin, in ms */
    if (bin < HSUB) return (bin + 0.5) / 1000.0;
    int e = bin / HSUB + 3, sub = bin % HSUB;
    double lo = (double)((uint64_t)(HSUB + sub) << (e - 4));
    return (lo + (double)(1ULL << (e - 4)) / 2.0) / 1000.0;
}

/* ------------------------------------------------------------------ state */
/* What identifies a packet across hops: the IPv4 fields forwarding does not change
 * (length, identification, fragment word, protocol, source, destination) and the
 * first 8 bytes of its transport header (ports and TCP sequence number; ports, length
 * and checksum of UDP; ICMP type, code, checksum, id and sequence). The IP header
 * alone repeats within a second in a fast flow (the 16-bit identification wraps). */
struct key { uint64_t a, b, c; };

struct pkt {
    int64_t due, nominal;
    struct key key;
    uint32_t id, len;
    bool keyed, egress;            /* egress: held in POSTROUTING, so the link's tbf comes next */
};

struct worker;
struct ns;

struct queue {
    struct ns *ns;
    uint16_t num;
    int64_t delay_ns, hold_ns, last_due;
    uint32_t loss;                 /* u32 fraction */
    struct pkt *ring;
    uint32_t cap, head, len;
    int heap_idx;                  /* -1: not in the worker's heap */
    uint64_t packets, dropped;
    /* kernel counters last read from /proc, to accumulate drops across unbinds */
    uint64_t k_qdropped, k_udropped;
    /* A model of the link end's tbf (fed with what this queue releases at egress): does
     * a released packet meet a queue there? */
    int64_t rate_Bps, burst;
    double tokens;
    int64_t tokens_at;
};

struct ns {
    uint32_t id;
    char name[128];
    int fd, proc_fd;
    struct worker *w;
    struct queue **queues;         /* indexed by queue number */
    uint32_t nqueues;              /* size of the index */
    char out[OUT_BUF];
    size_t out_len;
    bool dirty;
    struct ns *next_dirty;
    uint32_t seq;
    /* acks of config messages (seq -> errno) while a bind waits for them */
    uint32_t ack_seq[4];
    int ack_err[4];
    int acks;
    bool dead;                     /* removed; freed by its worker (see ns_remove) */
    struct ns *next_dead;
};

struct worker {
    int index;
    pthread_t thread;
    _Atomic pid_t tid;             /* its kernel thread id (0 until it runs) */
    pthread_mutex_t lock;
    int epfd, timerfd, wakefd;
    struct queue **heap;
    int heap_len, heap_cap;
    struct ns *dirty;
    struct ns *graveyard;          /* removed namespaces its loop may still see */
    int64_t lead_ns, armed_at;
    int64_t late_samples[LEAD_SAMPLES];
    int n_late, late_pos;
    int64_t transits[FLOOR_WINDOW];
    int n_transits;
    int64_t floor_ns;
    uint64_t late_hist[HBINS], transit_hist[HBINS];
    uint64_t wait_hist[HBINS];     /* hop-to-hop waits not explained by a tbf queue (made up) */
    uint64_t packets, released, batches, dropped_loss, enobufs, verdict_errors, unknown_queue, anchored;
    uint64_t absorbed, behind;     /* anchored hops whose wait was made up; packets past due on arrival */
    uint64_t stamped;              /* arrivals dated by the kernel's receive timestamp */
    int64_t real_offset;           /* CLOCK_REALTIME - CLOCK_MONOTONIC at the last receive */
    uint64_t held;
    int64_t spin_ns, busy_ns;      /* in polling passes; handling packets and verdicts */
    int64_t credit_ns, credit_at;  /* polling credit (see spin_allowed) */
    int64_t window_start, window_busy;
    uint64_t window_packets;
    int busy_pm;                   /* busy share of the last window, per mille */
    int64_t rate;                  /* packets per second in the last window */
    uint32_t nsockets;
    unsigned rng;
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    char bufs[RECV_BATCH][MSG_BUF];
};

/* queued: the tbf model expected the packet to wait in its link's tbf after release */
struct anchor { struct key key; int64_t nominal, released; bool queued; };

static struct {
    int control;
    uint32_t maxlen;
    int nworkers;
    bool realtime, pin;
    struct worker *workers;
    struct ns **nss;               /* by id (dense ids from the shaper) */
    uint32_t nss_cap;
    int home_ns;
    atomic_int_fast64_t overhead_ns;
    atomic_int_fast64_t max_lead_ns;
    atomic_bool anchoring;
    atomic_int lead_quantile_pm;   /* per mille */
    atomic_int spin_budget_pm;     /* per mille of one core, shared by the workers */
    /* The typical transit (the daemon's own hand-on cost, not emulated time) is this
     * quantile of the last FLOOR_WINDOW transits: a low one, because under load most
     * transits include a wait for a busy worker, and a median would then take that
     * wait off the packets that did not wait, delivering them early. */
    atomic_int floor_quantile_pm;
    atomic_bool running;
    /* Make up hop-to-hop waits that no tbf queue explains (the daemon's, the kernel's
     * forwarding under load) at the next hop, instead of adding them to the path. */
    atomic_bool absorb_waits;
    struct anchor *anchors;
    uint32_t anchor_mask;          /* buckets - 1 */
    pthread_spinlock_t stripes[ANCHOR_STRIPES];
    /* kernel view: drops of queues since unbound, and the last read */
    uint64_t k_qdropped_total, k_udropped_total;
    uint64_t k_pending, k_qdropped, k_udropped;
} D;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "leonet-nfqd: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) die("out of memory");
    return p;
}

/* ------------------------------------------------------------------ anchors */
static inline uint32_t anchor_hash(const struct key *k) {
    uint64_t h = k->a * 0x9E3779B97F4A7C15ULL ^ (k->b + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL
                 ^ (k->c + 0x165667B19E3779F9ULL) * 0x27D4EB2F165667C5ULL;
    return (uint32_t)(h >> 32);
}

static inline bool same_key(const struct key *x, const struct key *y) {
    return x->a == y->a && x->b == y->b && x->c == y->c;
}

static void anchor_put(const struct key *k, int64_t nominal, int64_t released, bool queued) {
    uint32_t b = anchor_hash(k) & D.anchor_mask;
    pthread_spinlock_t *lock = &D.stripes[b % ANCHOR_STRIPES];
    struct anchor *slot = &D.anchors[(size_t)b * ANCHOR_BUCKET], *victim = slot;
    pthread_spin_lock(lock);
    for (int i = 0; i < ANCHOR_BUCKET; i++) {
        struct anchor *a = &slot[i];
        if (a->released && same_key(&a->key, k)) { victim = a; break; }
        if (!a->released || released - a->released > ANCHOR_TTL_NS) { victim = a; break; }
        if (a->released < victim->released) victim = a;
    }
    victim->key = *k; victim->nominal = nominal; victim->released = released; victim->queued = queued;
    pthread_spin_unlock(lock);
}

static bool anchor_take(const struct key *k, int64_t now, int64_t *nominal, int64_t *released, bool *queued) {
    uint32_t b = anchor_hash(k) & D.anchor_mask;
    pthread_spinlock_t *lock = &D.stripes[b % ANCHOR_STRIPES];
    struct anchor *slot = &D.anchors[(size_t)b * ANCHOR_BUCKET];
    bool found = false;
    pthread_spin_lock(lock);
    for (int i = 0; i < ANCHOR_BUCKET; i++) {
        struct anchor *a = &slot[i];
        if (a->released && same_key(&a->key, k)) {
            if (now - a->released <= ANCHOR_TTL_NS) {
                *nominal = a->nominal; *released = a->released; *queued = a->queued; found = true;
            }
            a->released = 0;
            break;
        }
    }
    pthread_spin_unlock(lock);
    return found;
}

static void anchor_forget(const struct key *k) {
    int64_t n, r;
    bool qd;
    anchor_take(k, 0, &n, &r, &qd);
}

static uint64_t anchors_pending(int64_t now) {
    uint64_t n = 0;
    size_t slots = ((size_t)D.anchor_mask + 1) * ANCHOR_BUCKET;
    for (size_t i = 0; i < slots; i++)
        if (D.anchors[i].released && now - D.anchors[i].released <= ANCHOR_TTL_NS) n++;
    return n;
}

/* ------------------------------------------------------------------ heap of queues by head due */
static inline int64_t head_due(struct queue *q) { return q->ring[q->head].due; }

static void heap_swap(struct worker *w, int a, int b) {
    struct queue *t = w->heap[a];
    w->heap[a] = w->heap[b]; w->heap[b] = t;
    w->heap[a]->heap_idx = a; w->heap[b]->heap_idx = b;
}

static void heap_up(struct worker *w, int i) {
    while (i > 0) {
        int p = (i - 1) / 2;
        if (head_due(w->heap[p]) <= head_due(w->heap[i])) break;
        heap_swap(w, i, p);
        i = p;
    }
}

static void heap_down(struct worker *w, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_len && head_due(w->heap[l]) < head_due(w->heap[m])) m = l;
        if (r < w->heap_len && head_due(w->heap[r]) < head_due(w->heap[m])) m = r;
        if (m == i) break;
        heap_swap(w, i, m);
        i = m;
    }
}

static void heap_push(struct worker *w, struct queue *q) {
    if (w->heap_len == w->heap_cap) {
        w->heap_cap = w->heap_cap ? 2 * w->heap_cap : 64;
        w->heap = realloc(w->heap, sizeof(*w->heap) * w->heap_cap);
        if (!w->heap) die("out of memory");
    }
    q->heap_idx = w->heap_len;
    w->heap[w->heap_len++] = q;
    heap_up(w, q->heap_idx);
}

static void heap_remove(struct worker *w, struct queue *q) {
    int i = q->heap_idx;
    if (i < 0) return;
    w->heap_len--;
    if (i != w->heap_len) {
        heap_swap(w, i, w->heap_len);
        heap_down(w, i);
        heap_up(w, i);
    }
    q->heap_idx = -1;
}

/* ------------------------------------------------------------------ verdicts */
static void ns_flush(struct ns *ns) {
    if (!ns->out_len) return;
    if (send(ns->fd, ns->out, ns->out_len, 0) < 0 && errno != ENOENT && errno != EBADF)
        ns->w->verdict_errors++;
    ns->out_len = 0;
}

static void flush_dirty(struct worker *w) {
    for (struct ns *ns = w->dirty; ns; ) {
        struct ns *next = ns->next_dirty;
        ns_flush(ns);
        ns->dirty = false;
        ns->next_dirty = NULL;
        ns = next;
    }
    w->dirty = NULL;
}

static void verdict(struct ns *ns, uint16_t queue, uint32_t id, int what, bool batch) {
    if (ns->out_len + 64 > OUT_BUF) ns_flush(ns);
    struct nlmsghdr *nlh = nfq_nlmsg_put(ns->out + ns->out_len,
                                         batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue);
    nfq_nlmsg_verdict_put(nlh, (int)id, what);
    ns->out_len += NLMSG_ALIGN(nlh->nlmsg_len);
    if (!ns->dirty) {
        ns->dirty = true;
        ns->next_dirty = ns->w->dirty;
        ns->w->dirty = ns;
    }
}

/* ------------------------------------------------------------------ queues */
static struct queue *queue_get(struct ns *ns, uint32_t num) {
    return num < ns->nqueues ? ns->queues[num] : NULL;
}

static void ring_push(struct queue *q, const struct pkt *p) {
    if (q->len == q->cap) {
        uint32_t cap = q->cap ? 2 * q->cap : 16;
        struct pkt *ring = malloc(sizeof(*ring) * cap);
        if (!ring) die("out of memory");
        for (uint32_t i = 0; i < q->len; i++) ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring; q->cap = cap; q->head = 0;
    }
    q->ring[(q->head + q->len) % q->cap] = *p;
    q->len++;
}

/* Accept everything a queue holds (it is about to disappear). */
static void queue_flush(struct worker *w, struct queue *q) {
    if (q->len) {
        uint32_t last = q->ring[(q->head + q->len - 1) % q->cap].id;
        verdict(q->ns, q->num, last, NF_ACCEPT, true);
        w->held -= q->len;
        q->len = 0; q->head = 0;
        heap_remove(w, q);
        flush_dirty(w);
    }
}

static void queue_free(struct queue *q) {
    free(q->ring);
    free(q);
}

/* ------------------------------------------------------------------ packets */
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Learn the timer's lateness from wake-ups out of a blocking wait: every 16 samples,
 * the lead becomes a high quantile of the last 128 plus a margin. */
static void timer_sample(struct worker *w, int64_t lateness) {
    w->late_samples[w->late_pos] = lateness;
    w->late_pos = (w->late_pos + 1) % LEAD_SAMPLES;
    if (w->n_late < LEAD_SAMPLES) w->n_late++;
    if (w->n_late < 16 || w->late_pos % 16) return;
    int64_t sorted[LEAD_SAMPLES];
    memcpy(sorted, w->late_samples, sizeof(int64_t) * w->n_late);
    qsort(sorted, (size_t)w->n_late, sizeof(int64_t), cmp_i64);
    int k = (int)((int64_t)w->n_late * atomic_load(&D.lead_quantile_pm) / 1000);
    if (k >= w->n_late) k = w->n_late - 1;
    int64_t lead = sorted[k] + 20000;
    int64_t maxl = atomic_load(&D.max_lead_ns);
    w->lead_ns = lead < MIN_LEAD_NS ? MIN_LEAD_NS : (lead > maxl ? maxl : lead);
}

static void note_transit(struct worker *w, int64_t transit) {
    w->transit_hist[hist_bin(transit)]++;
    w->transits[w->n_transits++] = transit;
    if (w->n_transits == FLOOR_WINDOW) {
        qsort(w->transits, FLOOR_WINDOW, sizeof(int64_t), cmp_i64);
        int64_t m = w->transits[FLOOR_WINDOW * atomic_load(&D.floor_quantile_pm) / 1000];
        w->floor_ns = m < MAX_FLOOR_NS ? m : MAX_FLOOR_NS;
        w->n_transits = 0;
    }
}

/* The bytes tbf will count for a packet of IP length `len`: the Ethernet header, and
 * for a GSO packet the headers of every segment (qdisc_pkt_len_init), estimated
 * generously: over-counting only makes the model see a queue a little earlier. */
static int64_t tbf_bytes(uint32_t len) {
    return (int64_t)len + 14 + (int64_t)(len / 1448) * 66;
}

/* Feed a released packet to its link end's tbf model: true when it may meet a queue
 * there (the bucket had fewer tokens than the packet needs, with an eighth of the
 * bucket to spare for the model's inexact byte count: a doubtful wait is kept rather
 * than made up). The model's bucket runs into debt like tbf's backlog does, so the
 * packets after a burst wait too. */
static bool tbf_queues(struct queue *q, const struct pkt *p, int64_t now) {
    if (!q->rate_Bps || !p->egress) return false;
    double refill = (double)(now - q->tokens_at) * (double)q->rate_Bps / 1e9;
    q->tokens_at = now;
    q->tokens = q->tokens + refill > (double)q->burst ? (double)q->burst : q->tokens + refill;
    q->tokens -= (double)tbf_bytes(p->len);
    return q->tokens < (double)q->burst / 8.0;
}

static bool packet_key(const uint8_t *ip, uint16_t len, struct key *k) {
    if (len < 20 || (ip[0] >> 4) != 4) return false;
    unsigned ihl = (ip[0] & 15u) * 4u;
    uint32_t src, dst;
    memcpy(&src, ip + 12, 4);
    memcpy(&dst, ip + 16, 4);
    k->a = ((uint64_t)ip[2] << 56) | ((uint64_t)ip[3] << 48) | ((uint64_t)ip[4] << 40) | ((uint64_t)ip[5] << 32)
         | ((uint64_t)ip[6] << 24) | ((uint64_t)ip[7] << 16) | ((uint64_t)ip[9] << 8) | 1;
    k->b = ((uint64_t)src << 32) | dst;
    k->c = 0;
    bool first_fragment = ((ip[6] & 0x1F) | ip[7]) == 0;
    if (first_fragment && ihl >= 20 && ihl + 8 <= len) memcpy(&k->c, ip + ihl, 8);
    return true;
}

/* When a packet held on arrival (PREROUTING) reached this node: the kernel stamps it
 * as its veth hands it over (netdev_tstamp_prequeue, with timestamps switched on by
 * the daemon's own SO_TIMESTAMPNS socket), before it waits for the kernel's receive
 * processing and for the daemon. That wait is not emulated time; without the stamp
 * it would be added to the first hop of every node's own packets, where no anchor can
 * make it up. Forwarded packets lose the stamp (ip_forward clears it): `now`. */
static int64_t arrival_time(struct worker *w, struct nlattr *stamp, bool egress, int64_t now) {
    if (egress || !stamp || mnl_attr_get_payload_len(stamp) < sizeof(struct nfqnl_msg_packet_timestamp))
        return now;
    const struct nfqnl_msg_packet_timestamp *ts = mnl_attr_get_payload(stamp);
    int64_t real = (int64_t)be64toh(ts->sec) * NS_PER_S + (int64_t)be64toh(ts->usec) * 1000;
    int64_t at = real - w->real_offset;
    if (at > now || now - at > MAX_STAMP_AGE_NS) return now;
    w->stamped++;
    return at;
}

static void packet(struct worker *w, struct ns *ns, const struct nlmsghdr *nlh, int64_t now) {
    struct nlattr *attr[NFQA_MAX + 1] = {0};
    if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) return;
    struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
    uint32_t id = ntohl(ph->packet_id);
    struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
    uint16_t num = ntohs(nfg->res_id);
    w->packets++;
    struct queue *q = queue_get(ns, num);
    if (!q) {
        w->unknown_queue++;
        verdict(ns, num, id, NF_ACCEPT, false);
        return;
    }
    q->packets++;
    struct pkt p = {.id = id, .egress = ph->hook == NF_INET_POST_ROUTING};
    if (attr[NFQA_PAYLOAD]) {
        const uint8_t *ip = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
        uint16_t copied = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
        p.keyed = packet_key(ip, copied, &p.key);
        p.len = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) : copied;
    }
    if (q->loss && (uint32_t)rand_r(&w->rng) * 2u + (rand_r(&w->rng) & 1) < q->loss) {
        q->dropped++;
        w->dropped_loss++;
        verdict(ns, num, id, NF_DROP, false);
        if (p.keyed) anchor_forget(&p.key);
        return;
    }
    int64_t prev_nominal, prev_released;
    bool prev_queued;
    int64_t arrived = arrival_time(w, attr[NFQA_TIMESTAMP], p.egress, now);
    bool anchoring = atomic_load_explicit(&D.anchoring, memory_order_relaxed);
    if (p.keyed && anchoring && anchor_take(&p.key, now, &prev_nominal, &prev_released, &prev_queued)) {
        /* due when the previous hop should have released it, plus this hop's delay,
         * plus its real time in between beyond the daemon's own hand-on cost: a wait
         * in a tbf queue is emulated time and kept; any other wait (for the daemon,
         * for the kernel's forwarding on a busy machine) is not, and is made up here */
        int64_t transit = arrived - prev_released, wait = transit - w->floor_ns;
        if (prev_queued || !atomic_load_explicit(&D.absorb_waits, memory_order_relaxed)) {
            p.nominal = prev_nominal + wait + q->delay_ns;
        } else {
            p.nominal = prev_nominal + q->delay_ns;
            w->wait_hist[hist_bin(wait)]++;
            w->absorbed++;
        }
        w->anchored++;
        note_transit(w, transit);
    } else {
        p.nominal = arrived + q->hold_ns;
    }
    p.due = p.nominal > q->last_due ? p.nominal : q->last_due;
    q->last_due = p.due;
    if (!q->len && p.due <= now) {
        /* due already (no delay left, or it came too late to make up): its lateness
         * counts like a late release's */
        verdict(ns, num, id, NF_ACCEPT, true);
        w->released++;
        w->late_hist[hist_bin(now - p.due)]++;
        if (p.due < now) w->behind++;
        bool queued = tbf_queues(q, &p, now);
        if (p.keyed && anchoring) anchor_put(&p.key, p.nominal, now, queued);
        return;
    }
    ring_push(q, &p);
    w->held++;
    if (q->len == 1) heap_push(w, q);
}

static void ack(struct ns *ns, const struct nlmsghdr *nlh) {
    const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
    if (nlh->nlmsg_seq == 0) {
        if (err->error) ns->w->verdict_errors++;
        return;
    }
    if (ns->acks < 4) {
        ns->ack_seq[ns->acks] = nlh->nlmsg_seq;
        ns->ack_err[ns->acks] = -err->error;
        ns->acks++;
    }
}

/* Read up to RECV_BATCH messages from a namespace's socket; false when it is empty. */
static bool receive(struct worker *w, struct ns *ns) {
    for (int i = 0; i < RECV_BATCH; i++) {
        w->iov[i].iov_base = w->bufs[i];
        w->iov[i].iov_len = MSG_BUF;
        memset(&w->msgs[i].msg_hdr, 0, sizeof(w->msgs[i].msg_hdr));
        w->msgs[i].msg_hdr.msg_iov = &w->iov[i];
        w->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(ns->fd, w->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
        if (errno == ENOBUFS) { w->enobufs++; return true; }
        return false;
    }
    int64_t now = now_ns();
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    w->real_offset = (int64_t)real.tv_sec * NS_PER_S + real.tv_nsec - now;
    for (int i = 0; i < n; i++) {
        int len = (int)w->msgs[i].msg_len;
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)w->bufs[i];
        while (mnl_nlmsg_ok(nlh, len)) {
            uint16_t type = nlh->nlmsg_type;
            if (type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) packet(w, ns, nlh, now);
            else if (type == NLMSG_ERROR) ack(ns, nlh);
            nlh = mnl_nlmsg_next(nlh, &len);
        }
    }
    return n == RECV_BATCH;
}

/* Accept every packet whose due time has come: one batch verdict per queue. */
static void release(struct worker *w) {
    if (!w->heap_len) return;
    int64_t now = now_ns();
    if (head_due(w->heap[0]) > now) return;
    bool anchoring = atomic_load_explicit(&D.anchoring, memory_order_relaxed);
    while (w->heap_len && head_due(w->heap[0]) <= now) {
        struct queue *q = w->heap[0];
        int64_t due = head_due(q);
        uint32_t last = 0, n = 0;
        while (q->len && q->ring[q->head].due <= now) {
            struct pkt *p = &q->ring[q->head];
            last = p->id;
            bool queued = tbf_queues(q, p, now);
            if (anchoring && p->keyed) anchor_put(&p->key, p->nominal, now, queued);
            q->head = (q->head + 1) % q->cap;
            q->len--;
            n++;
        }
        w->late_hist[hist_bin(now - due)] += n;
        w->released += n;
        w->held -= n;
        w->batches++;
        verdict(q->ns, q->num, last, NF_ACCEPT, true);
        if (q->len) heap_down(w, 0);
        else heap_remove(w, q);
    }
    flush_dirty(w);
}

/* ------------------------------------------------------------------ worker loop */
/* Polling is paid from a credit that refills at the spin budget (shared by the
 * workers) and holds at most SPIN_CREDIT_MAX_NS; every pass in polling mode, with or
 * without packets, is paid in full. */
static bool spin_allowed(struct worker *w, int64_t now) {
    int64_t refill = (now - w->credit_at) * atomic_load(&D.spin_budget_pm) / 1000 / D.nworkers;
    w->credit_at = now;
    w->credit_ns = w->credit_ns + refill > SPIN_CREDIT_MAX_NS ? SPIN_CREDIT_MAX_NS : w->credit_ns + refill;
    return w->credit_ns > 0 && w->rate < SPIN_MAX_RATE;
}

static void arm(struct worker *w, int64_t at) {
    if (at == w->armed_at) return;
    w->armed_at = at;
    struct itimerspec its = {0};
    if (at <= 0) at = 1;
    its.it_value.tv_sec = at / NS_PER_S;
    its.it_value.tv_nsec = at % NS_PER_S;
    timerfd_settime(w->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void set_thread_options(int index) {
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    if (D.realtime) {
        struct sched_param sp = {.sched_priority = 10};
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    }
    if (D.pin && index >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(index % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
}

/* Free the namespaces removed since the last pass (the caller holds w->lock): no
 * event of theirs can come any more, and this pass has seen the last of them. */
static void bury(struct worker *w) {
    while (w->graveyard) {
        struct ns *ns = w->graveyard;
        w->graveyard = ns->next_dead;
        close(ns->fd);             /* the kernel unbinds its queues */
        if (ns->proc_fd >= 0) close(ns->proc_fd);
        free(ns->queues);
        free(ns);
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "nfqd-w%d", w->index);
    pthread_setname_np(pthread_self(), name);
    atomic_store(&w->tid, gettid());
    set_thread_options(w->index);
    struct epoll_event events[64];
    while (atomic_load_explicit(&D.running, memory_order_relaxed)) {
        pthread_mutex_lock(&w->lock);
        release(w);
        int64_t now = now_ns();
        int timeout = -1;
        if (w->heap_len) {
            int64_t due = head_due(w->heap[0]);
            bool may_spin = spin_allowed(w, now);
            if (due - now > w->lead_ns || !may_spin)
                arm(w, due - (may_spin ? w->lead_ns : 0));
            else
                timeout = 0;       /* the due time is within the timer's lateness: poll */
        }
        pthread_mutex_unlock(&w->lock);
        int n = epoll_wait(w->epfd, events, 64, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait: %s", strerror(errno));
        }
        int64_t woke = now_ns();
        pthread_mutex_lock(&w->lock);
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == (void *)w) {                 /* the timer */
                uint64_t ticks;
                if (read(w->timerfd, &ticks, sizeof(ticks)) < 0) { /* spurious */ }
                if (timeout < 0 && w->armed_at) timer_sample(w, woke > w->armed_at ? woke - w->armed_at : 0);
                w->armed_at = 0;
            } else if (tag == (void *)&w->wakefd) {
                uint64_t v;
                if (read(w->wakefd, &v, sizeof(v)) < 0) { /* nothing */ }
            } else if (!((struct ns *)tag)->dead) {
                receive(w, (struct ns *)tag);
            }
            release(w);
        }
        flush_dirty(w);
        bury(w);
        int64_t done = now_ns();
        if (timeout == 0) {
            w->spin_ns += done - now;
            w->credit_ns -= done - now;
        }
        if (n > 0) {
            w->busy_ns += done - woke;
            w->window_busy += done - woke;
            if (done - w->window_start >= BUSY_WINDOW_NS) {
                w->busy_pm = (int)(1000 * w->window_busy / (done - w->window_start));
                w->rate = (int64_t)(w->packets - w->window_packets) * NS_PER_S / (done - w->window_start);
                w->window_packets = w->packets;
                w->window_start = done;
                w->window_busy = 0;
            }
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

/* ------------------------------------------------------------------ namespaces (control thread) */
static void wake(struct worker *w) {
    uint64_t one = 1;
    if (write(w->wakefd, &one, sizeof(one)) < 0) { /* the counter is full: it is awake anyway */ }
}

/* A namespace's worker: a hash of its name, so that the hops of any path spread over
 * the workers (round robin by creation order would give every 22nd satellite of a
 * +Grid, i.e. a whole path along a ring of planes, to the same worker). */
static int worker_of(const char *name) {
    uint64_t h = 1469598103934665603ULL;             /* FNV-1a */
    for (const char *c = name; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    h ^= h >> 29;
    return (int)(h % (uint64_t)D.nworkers);
}

static int setns_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

/* Open a namespace's netlink socket (the control thread setns'd there meanwhile);
 * 0 or an errno. */
static int ns_add(uint32_t id, const char *name) {
    if (id < D.nss_cap && D.nss[id]) return 0;
    if (id >= D.nss_cap) {
        uint32_t cap = D.nss_cap ? D.nss_cap : 64;
        while (cap <= id) cap *= 2;
        D.nss = realloc(D.nss, sizeof(*D.nss) * cap);
        if (!D.nss) die("out of memory");
        memset(D.nss + D.nss_cap, 0, sizeof(*D.nss) * (cap - D.nss_cap));
        D.nss_cap = cap;
    }
    char path[256];
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    if (setns_path(path) < 0) return errno;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
    int err = fd < 0 ? errno : 0;
    int proc_fd = open("/proc/thread-self/net/netfilter/nfnetlink_queue", O_RDONLY | O_CLOEXEC);
    if (setns(D.home_ns, CLONE_NEWNET) < 0) die("cannot return to the home namespace: %s", strerror(errno));
    if (fd < 0) {
        if (proc_fd >= 0) close(proc_fd);
        return err;
    }
    int rcvbuf = RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        err = errno;
        close(fd);
        if (proc_fd >= 0) close(proc_fd);
        return err;
    }
    struct ns *ns = xcalloc(1, sizeof(*ns));
    ns->id = id;
    snprintf(ns->name, sizeof(ns->name), "%s", name);
    ns->fd = fd;
    ns->proc_fd = proc_fd;
    ns->seq = 1;
    ns->w = &D.workers[worker_of(name)];
    D.nss[id] = ns;
    pthread_mutex_lock(&ns->w->lock);
    ns->w->nsockets++;
    pthread_mutex_unlock(&ns->w->lock);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ns};
    epoll_ctl(ns->w->epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static struct ns *ns_get(uint32_t id) { return id < D.nss_cap ? D.nss[id] : NULL; }

static void ns_remove(uint32_t id) {
    struct ns *ns = ns_get(id);
    if (!ns) return;
    struct worker *w = ns->w;
    pthread_mutex_lock(&w->lock);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, ns->fd, NULL);
    for (uint32_t i = 0; i < ns->nqueues; i++) {
        if (ns->queues[i]) {
            queue_flush(w, ns->queues[i]);
            queue_free(ns->queues[i]);
        }
    }
    if (ns->dirty) flush_dirty(w);
    w->nsockets--;
    ns->dead = true;
    ns->next_dead = w->graveyard;
    w->graveyard = ns;
    pthread_mutex_unlock(&w->lock);
    D.nss[id] = NULL;
    wake(w);
}

/* Send config messages on a namespace's socket and wait for their acks, handling the
 * packets that arrive meanwhile (the caller holds the worker's lock). */
static int ns_config(struct ns *ns, char *buf, size_t len, const uint32_t *seqs, int nseq) {
    ns->acks = 0;
    if (send(ns->fd, buf, len, 0) < 0) return errno;
    int64_t deadline = now_ns() + 5 * NS_PER_S;
    for (;;) {
        int have = 0, err = 0;
        for (int i = 0; i < nseq; i++)
            for (int j = 0; j < ns->acks; j++)
                if (ns->ack_seq[j] == seqs[i]) { have++; if (ns->ack_err[j] && !err) err = ns->ack_err[j]; }
        if (have == nseq) { ns->acks = 0; return err; }
        if (now_ns() > deadline) return ETIMEDOUT;
        struct pollfd pfd = {.fd = ns->fd, .events = POLLIN};
        poll(&pfd, 1, 50);
        receive(ns->w, ns);
        flush_dirty(ns->w);
    }
}

static int queue_bind(struct ns *ns, uint32_t num) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    size_t off = 0;
    uint32_t seqs[2] = {ns->seq, ns->seq + 1};
    ns->seq += 2;
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = seqs[0];
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    off += NLMSG_ALIGN(nlh->nlmsg_len);
    nlh = nfq_nlmsg_put(buf + off, NFQNL_MSG_CONFIG, num);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = seqs[1];
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, D.maxlen);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
    off += NLMSG_ALIGN(nlh->nlmsg_len);
    return ns_config(ns, buf, off, seqs, 2);
}

static void queue_unbind_msg(struct ns *ns, uint32_t num) {
    char buf[256];
    uint32_t seq = ns->seq++;
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
    ns_config(ns, buf, NLMSG_ALIGN(nlh->nlmsg_len), &seq, 1);  /* already gone: fine */
}

static void queue_set_locked(struct queue *q, int64_t delay_ns, uint32_t loss) {
    q->delay_ns = delay_ns;
    int64_t hold = delay_ns - atomic_load(&D.overhead_ns);
    q->hold_ns = hold > 0 ? hold : 0;
    q->loss = loss;
}

/* BIND or SET for one record; the caller holds ns->w->lock. */
static int queue_record(struct ns *ns, uint32_t num, int64_t delay_ns, uint32_t loss, bool bind) {
    struct queue *q = queue_get(ns, num);
    if (!q) {
        if (!bind) return ENOENT;
        if (num >= 65536) return EINVAL;
        int err = queue_bind(ns, num);
        if (err) return err;
        if (num >= ns->nqueues) {
            uint32_t cap = ns->nqueues ? ns->nqueues : 8;
            while (cap <= num) cap *= 2;
            ns->queues = realloc(ns->queues, sizeof(*ns->queues) * cap);
            if (!ns->queues) die("out of memory");
            memset(ns->queues + ns->nqueues, 0, sizeof(*ns->queues) * (cap - ns->nqueues));
            ns->nqueues = cap;
        }
        q = xcalloc(1, sizeof(*q));
        q->ns = ns;
        q->num = (uint16_t)num;
        q->heap_idx = -1;
        ns->queues[num] = q;
    }
    queue_set_locked(q, delay_ns, loss);
    return 0;
}

static void queue_unbind(struct ns *ns, uint32_t num) {
    struct worker *w = ns->w;
    struct queue *q = queue_get(ns, num);
    if (!q) return;
    queue_flush(w, q);
    ns->queues[num] = NULL;
    D.k_qdropped_total += q->k_qdropped;  /* keep the kernel's drop counts of the queue */
    D.k_udropped_total += q->k_udropped;
    queue_free(q);
    queue_unbind_msg(ns, num);
}

/* ------------------------------------------------------------------ kernel view */
/* Read each namespace's /proc/net/netfilter/nfnetlink_queue: the packets the kernel
 * holds per queue (held by us, or not read by us yet) and its drops (queue full;
 * netlink delivery failed because our socket buffer was full). */
static void read_kernel_counters(void) {
    uint64_t pending = 0, qdrop = D.k_qdropped_total, udrop = D.k_udropped_total;
    char buf[8192];
    for (uint32_t i = 0; i < D.nss_cap; i++) {
        struct ns *ns = D.nss[i];
        if (!ns || ns->proc_fd < 0) continue;
        ssize_t n = pread(ns->proc_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0) continue;
        buf[n] = 0;
        pthread_mutex_lock(&ns->w->lock);
        for (char *line = buf; line && *line; ) {
            char *next = strchr(line, '\n');
            if (next) *next++ = 0;
            unsigned num, portid, total, mode, range;
            unsigned long long qd, ud;
            if (sscanf(line, "%u %u %u %u %u %llu %llu", &num, &portid, &total, &mode, &range, &qd, &ud) == 7) {
                struct queue *q = queue_get(ns, num);
                if (q) {
                    pending += total > q->len ? total - q->len : 0;
                    q->k_qdropped = qd;
                    q->k_udropped = ud;
                    qdrop += qd;
                    udrop += ud;
                }
            }
            line = next;
        }
        pthread_mutex_unlock(&ns->w->lock);
    }
    D.k_pending = pending;
    D.k_qdropped = qdrop;
    D.k_udropped = udrop;
}

/* ------------------------------------------------------------------ stats (JSON) */
struct sbuf { char *p; size_t len, cap; };

static void sb_printf(struct sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) { b->len += (size_t)n; return; }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0);
        b->p = realloc(b->p, b->cap);
        if (!b->p) die("out of memory");
    }
}

static void sb_quantiles(struct sbuf *b, const char *name, const uint64_t *hist) {
    uint64_t total = 0;
    for (int i = 0; i < HBINS; i++) total += hist[i];
    sb_printf(b, "\"%s\": {", name);
    if (total) {
        const double ps[3] = {0.5, 0.99, 1.0};
        const char *names[3] = {"p50", "p99", "max"};
        for (int k = 0; k < 3; k++) {
            uint64_t acc = 0;
            double want = ps[k] * (double)total;
            for (int i = 0; i < HBINS; i++) {
                acc += hist[i];
                if (hist[i] && (double)acc >= want) {
                    sb_printf(b, "%s\"%s\": %.4f", k ? ", " : "", names[k], hist_mid_ms(i));
                    break;
                }
            }
        }
    }
    sb_printf(b, "}, ");
}

static void sb_hist(struct sbuf *b, const char *name, const uint64_t *hist) {
    sb_printf(b, "\"%s\": [", name);
    bool first = true;
    for (int i = 0; i < HBINS; i++) {
        if (!hist[i]) continue;
        sb_printf(b, "%s[%d, %" PRIu64 "]", first ? "" : ", ", i, hist[i]);
        first = false;
    }
    sb_printf(b, "], ");
}

/* A thread's scheduling class as it is now: something outside the daemon (a process
 * manager, `chrt`) may have changed what set_thread_options asked for, and the delays
 * depend on it (docs/benchmarks.md: SCHED_IDLE workers on a busy machine released
 * packets up to 1.6 s late). */
static const char *thread_policy(pid_t tid) {
    /* the kernel's view: pthread_getschedparam answers from glibc's cache of what was set */
    int policy = tid > 0 ? sched_getscheduler(tid) : -1;
    switch (policy) {
    case SCHED_FIFO: return "fifo";
    case SCHED_RR: return "rr";
    case SCHED_OTHER: return "other";
    case SCHED_BATCH: return "batch";
    case SCHED_IDLE: return "idle";
    default: return "unknown";
    }
}

static double thread_cpu_s(pthread_t t) {
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(t, &cid) || clock_gettime(cid, &ts)) return 0.0;
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *stats_json(bool kernel) {
    if (kernel) read_kernel_counters();
    uint64_t late[HBINS] = {0}, transit[HBINS] = {0}, waits[HBINS] = {0};
    uint64_t packets = 0, released = 0, batches = 0, dropped = 0, enobufs = 0, verr = 0, unknown = 0,
             anchored = 0, held = 0, absorbed = 0, behind = 0, stamped = 0;
    uint32_t queues = 0, namespaces = 0;
    int64_t lead = 0, floor_ns = 0, spin_ns = 0;
    struct sbuf b = {malloc(16384), 0, 16384};
    if (!b.p) die("out of memory");
    struct sbuf wk = {malloc(1024), 0, 1024};
    if (!wk.p) die("out of memory");
    sb_printf(&wk, "[");
    for (int i = 0; i < D.nworkers; i++) {
        struct worker *w = &D.workers[i];
        pthread_mutex_lock(&w->lock);
        for (int k = 0; k < HBINS; k++) {
            late[k] += w->late_hist[k]; transit[k] += w->transit_hist[k]; waits[k] += w->wait_hist[k];
        }
        absorbed += w->absorbed; behind += w->behind; stamped += w->stamped;
        packets += w->packets; released += w->released; batches += w->batches; dropped += w->dropped_loss;
        enobufs += w->enobufs; verr += w->verdict_errors; unknown += w->unknown_queue;
        anchored += w->anchored; held += w->held;
        if (w->lead_ns > lead) lead = w->lead_ns;
        if (w->floor_ns > floor_ns) floor_ns = w->floor_ns;
        spin_ns += w->spin_ns;
        sb_printf(&wk, "%s{\"cpu_s\": %.6f, \"busy_s\": %.6f, \"spin_s\": %.6f, \"packets\": %" PRIu64
                  ", \"namespaces\": %u, \"policy\": \"%s\"}", i ? ", " : "", thread_cpu_s(w->thread),
                  w->busy_ns / 1e9, w->spin_ns / 1e9, w->packets, w->nsockets, thread_policy(atomic_load(&w->tid)));
        namespaces += w->nsockets;
        pthread_mutex_unlock(&w->lock);
    }
    sb_printf(&wk, "]");
    for (uint32_t i = 0; i < D.nss_cap; i++) {
        struct ns *ns = D.nss[i];
        if (!ns) continue;
        for (uint32_t k = 0; k < ns->nqueues; k++) queues += ns->queues[k] != NULL;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    sb_printf(&b, "{\"pid\": %d, \"implementation\": \"c\", \"namespaces\": %u, \"queues\": %u, "
              "\"held\": %" PRIu64 ", \"cpu_s\": %.6f, \"max_rss_kb\": %ld, \"overhead_ns\": %" PRId64 ", "
              "\"lead_ns\": %" PRId64 ", \"spin_s\": %.6f, \"realtime\": %s, ",
              getpid(), namespaces, queues, held, cpu, ru.ru_maxrss, (int64_t)atomic_load(&D.overhead_ns), lead,
              spin_ns / 1e9, D.realtime ? "true" : "false");
    sb_quantiles(&b, "release_late_ms", late);
    sb_quantiles(&b, "transit_ms", transit);
    sb_hist(&b, "late_hist", late);
    sb_hist(&b, "transit_hist", transit);
    sb_quantiles(&b, "made_up_wait_ms", waits);
    sb_hist(&b, "wait_hist", waits);
    sb_printf(&b, "\"hist_bins_per_octave\": %d, \"transit_floor_ms\": %.4f, \"anchoring\": %s, "
              "\"anchors_pending\": %" PRIu64 ", \"workers\": %s, ",
              HSUB, floor_ns / 1e6, atomic_load(&D.anchoring) ? "true" : "false",
              anchors_pending(now_ns()), wk.p);
    if (kernel)
        sb_printf(&b, "\"kernel\": {\"pending\": %" PRIu64 ", \"queue_dropped\": %" PRIu64
                  ", \"user_dropped\": %" PRIu64 "}, ", D.k_pending, D.k_qdropped, D.k_udropped);
    sb_printf(&b, "\"packets\": %" PRIu64 ", \"released\": %" PRIu64 ", \"dropped_loss\": %" PRIu64
              ", \"batches\": %" PRIu64 ", \"enobufs\": %" PRIu64 ", \"verdict_errors\": %" PRIu64
              ", \"unknown_queue\": %" PRIu64 ", \"anchored\": %" PRIu64 ", \"absorbed\": %" PRIu64
              ", \"behind\": %" PRIu64 ", \"stamped\": %" PRIu64 ", \"absorb_waits\": %s}",
              packets, released, dropped, batches, enobufs, verr, unknown, anchored, absorbed, behind, stamped,
              atomic_load(&D.absorb_waits) ? "true" : "false");
    free(wk.p);
    return b.p;
}

/* ------------------------------------------------------------------ config (a flat JSON object) */
static bool json_number(const char *json, const char *key, double *out) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return false;
    p = strchr(p + strlen(pat), ':');
    if (!p) return false;
    p++;
    while (*p == ' ') p++;
    if (!strncmp(p, "true", 4)) { *out = 1; return true; }
    if (!strncmp(p, "false", 5)) { *out = 0; return true; }
    char *end;
    *out = strtod(p, &end);
    return end != p;
}

static void apply_config(const char *json) {
    double v;
    if (json_number(json, "overhead_ns", &v)) {
        atomic_store(&D.overhead_ns, (int64_t)v);
        for (uint32_t i = 0; i < D.nss_cap; i++) {
            struct ns *ns = D.nss[i];
            if (!ns) continue;
            pthread_mutex_lock(&ns->w->lock);
            for (uint32_t k = 0; k < ns->nqueues; k++)
                if (ns->queues[k]) queue_set_locked(ns->queues[k], ns->queues[k]->delay_ns, ns->queues[k]->loss);
            pthread_mutex_unlock(&ns->w->lock);
        }
    }
    if (json_number(json, "max_lead_ns", &v)) {
        int64_t m = (int64_t)v < MIN_LEAD_NS ? MIN_LEAD_NS : (int64_t)v;
        atomic_store(&D.max_lead_ns, m);
        for (int i = 0; i < D.nworkers; i++) {
            pthread_mutex_lock(&D.workers[i].lock);
            if (D.workers[i].lead_ns > m) D.workers[i].lead_ns = m;
            pthread_mutex_unlock(&D.workers[i].lock);
        }
    }
    if (json_number(json, "lead_quantile", &v))
        atomic_store(&D.lead_quantile_pm, (int)(1000 * (v < 0 ? 0 : v > 1 ? 1 : v)));
    if (json_number(json, "anchoring", &v)) {
        atomic_store(&D.anchoring, v != 0);
        memset(D.anchors, 0, sizeof(struct anchor) * ((size_t)D.anchor_mask + 1) * ANCHOR_BUCKET);
    }
    if (json_number(json, "absorb_waits", &v)) atomic_store(&D.absorb_waits, v != 0);
    if (json_number(json, "floor_quantile", &v))
        atomic_store(&D.floor_quantile_pm, (int)(999 * (v < 0 ? 0 : v > 1 ? 1 : v)));
    if (json_number(json, "spin_budget", &v))
        atomic_store(&D.spin_budget_pm, (int)(1000 * (v < 0 ? 0 : v > 1 ? 1 : v)));
}

/* ------------------------------------------------------------------ control loop */
static void reply(uint8_t op, uint32_t seq, int32_t status, const char *text) {
    size_t tl = text ? strlen(text) : 0;
    char *msg = malloc(REPLY_SIZE + tl);
    if (!msg) die("out of memory");
    msg[0] = (char)op;
    memcpy(msg + 1, &seq, 4);      /* little endian on every platform leonet runs on */
    memcpy(msg + 5, &status, 4);
    if (tl) memcpy(msg + REPLY_SIZE, text, tl);
    if (send(D.control, msg, REPLY_SIZE + tl, 0) < 0) { /* the shaper is gone: the next recv ends us */ }
    free(msg);
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* QUEUE records (BIND or SET), applied holding one worker's lock for up to
 * CONTROL_CHUNK consecutive records of that worker. */
static int queue_records(const uint8_t *p, size_t n, bool bind, char *err, size_t errlen) {
    struct worker *held = NULL;
    int count = 0, status = 0;
    for (size_t i = 0; i < n; i++, p += QUEUE_REC) {
        struct ns *ns = ns_get(rd32(p));
        if (!ns) { snprintf(err, errlen, "KeyError: namespace id %u", rd32(p)); status = ENOENT; break; }
        if (held != ns->w || count >= CONTROL_CHUNK) {
            if (held) pthread_mutex_unlock(&held->lock);
            held = ns->w;
            pthread_mutex_lock(&held->lock);
            count = 0;
        }
        int e = queue_record(ns, rd32(p + 4), (int64_t)rd64(p + 8), rd32(p + 16), bind);
        count++;
        if (e) {
            snprintf(err, errlen, "OSError: queue %u in %s: %s", rd32(p + 4), ns->name, strerror(e));
            status = e;
            break;
        }
    }
    if (held) pthread_mutex_unlock(&held->lock);
    return status;
}

static void control_message(const uint8_t *data, size_t len) {
    if (len < HEADER_SIZE) return;
    uint8_t op = data[0];
    uint32_t seq = rd32(data + 1);
    const uint8_t *p = data + HEADER_SIZE;
    size_t plen = len - HEADER_SIZE;
    char err[512] = "";
    int status = 0;
    char *text = NULL;
    switch (op) {
    case OP_NAMESPACE_ADD: {
        if (plen < 4) { status = EINVAL; break; }
        char name[128];
        size_t nl = plen - 4 < sizeof(name) - 1 ? plen - 4 : sizeof(name) - 1;
        memcpy(name, p + 4, nl);
        name[nl] = 0;
        status = ns_add(rd32(p), name);
        if (status) snprintf(err, sizeof(err), "OSError: namespace %s: %s", name, strerror(status));
        break;
    }
    case OP_NAMESPACE_REMOVE:
        for (size_t i = 0; i + 4 <= plen; i += 4) ns_remove(rd32(p + i));
        break;
    case OP_BIND:
    case OP_SET:
        status = queue_records(p, plen / QUEUE_REC, op == OP_BIND, err, sizeof(err));
        break;
    case OP_UNBIND:
        for (size_t i = 0; i + KEY_REC <= plen; i += KEY_REC) {
            struct ns *ns = ns_get(rd32(p + i));
            if (!ns) continue;
            pthread_mutex_lock(&ns->w->lock);
            queue_unbind(ns, rd32(p + i + 4));
            pthread_mutex_unlock(&ns->w->lock);
        }
        break;
    case OP_RATE:
        for (size_t i = 0; i + RATE_REC <= plen; i += RATE_REC) {
            struct ns *ns = ns_get(rd32(p + i));
            if (!ns) continue;
            pthread_mutex_lock(&ns->w->lock);
            struct queue *q = queue_get(ns, rd32(p + i + 4));
            if (q) {
                q->rate_Bps = (int64_t)rd64(p + i + 8);
                q->burst = (int64_t)rd64(p + i + 16);
                q->tokens = (double)q->burst;
                q->tokens_at = now_ns();
            }
            pthread_mutex_unlock(&ns->w->lock);
        }
        break;
    case OP_STATS:
        text = stats_json(!(plen == 5 && !memcmp(p, "quick", 5)));
        break;
    case OP_CONFIG: {
        char *json = strndup((const char *)p, plen);
        if (!json) die("out of memory");
        apply_config(json);
        free(json);
        break;
    }
    case OP_QUIT:
        atomic_store(&D.running, false);
        break;
    default:
        status = EINVAL;
        snprintf(err, sizeof(err), "ValueError: unknown op %u", op);
    }
    reply(op, seq, status, text ? text : err);
    free(text);
}

static void on_sigterm(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONTROL_FD [--parent=PID] [--maxlen=N] [--workers=N] [--realtime] "
                "[--pdeathsig] [--pin]\n", argv[0]);
        return 2;
    }
    D.control = atoi(argv[1]);
    D.maxlen = 10000;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    D.nworkers = ncpu > 0 ? (int)ncpu : 1;
    pid_t parent = getppid();
    bool pdeathsig = false;
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "--parent=", 9)) parent = atoi(argv[i] + 9);
        else if (!strncmp(argv[i], "--maxlen=", 9)) D.maxlen = (uint32_t)strtoul(argv[i] + 9, NULL, 10);
        else if (!strncmp(argv[i], "--workers=", 10)) D.nworkers = atoi(argv[i] + 10);
        else if (!strcmp(argv[i], "--realtime")) D.realtime = true;
        else if (!strcmp(argv[i], "--pdeathsig")) pdeathsig = true;
        else if (!strcmp(argv[i], "--pin")) D.pin = true;
    }
    if (D.nworkers < 1) D.nworkers = 1;
    if (D.nworkers > 64) D.nworkers = 64;
    if (pdeathsig) {
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
        if (getppid() != parent) return 0;
    }
    signal(SIGTERM, on_sigterm);
    signal(SIGINT, SIG_IGN);       /* Ctrl-C is the parent's to handle */
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Switch the kernel's receive timestamps on (a global switch: any socket asking
     * for them does it), so that packets held on arrival carry theirs (arrival_time). */
    int stamps = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;
    if (stamps >= 0) setsockopt(stamps, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    D.home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (D.home_ns < 0) die("cannot open /proc/self/ns/net: %s", strerror(errno));
    atomic_store(&D.max_lead_ns, MAX_LEAD_NS);
    atomic_store(&D.lead_quantile_pm, 990);
    atomic_store(&D.spin_budget_pm, 500);
    atomic_store(&D.floor_quantile_pm, 250);
    atomic_store(&D.anchoring, true);
    atomic_store(&D.absorb_waits, true);
    atomic_store(&D.running, true);
    D.anchor_mask = (1u << 16) - 1;   /* 65,536 buckets of 4: 256 Ki anchors, 10 MiB */
    D.anchors = xcalloc(((size_t)D.anchor_mask + 1) * ANCHOR_BUCKET, sizeof(struct anchor));
    for (int i = 0; i < ANCHOR_STRIPES; i++) pthread_spin_init(&D.stripes[i], PTHREAD_PROCESS_PRIVATE);
    D.workers = xcalloc((size_t)D.nworkers, sizeof(struct worker));
    for (int i = 0; i < D.nworkers; i++) {
        struct worker *w = &D.workers[i];
        w->index = i;
        w->lead_ns = MIN_LEAD_NS;
        w->credit_at = now_ns();
        w->rng = (unsigned)(now_ns() ^ (i * 7919));
        pthread_mutex_init(&w->lock, NULL);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->epfd < 0 || w->timerfd < 0 || w->wakefd < 0) die("epoll/timerfd/eventfd: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->timerfd, &ev);
        ev.data.ptr = &w->wakefd;
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev);
        if (pthread_create(&w->thread, NULL, worker_main, w)) die("pthread_create: %s", strerror(errno));
    }
    set_thread_options(-1);
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    if (!buf) die("out of memory");
    while (atomic_load(&D.running)) {
        ssize_t n = recv(D.control, buf, cap, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;             /* the shaper closed its end, or died */
        control_message(buf, (size_t)n);
    }
    atomic_store(&D.running, false);
    for (int i = 0; i < D.nworkers; i++) wake(&D.workers[i]);
    for (int i = 0; i < D.nworkers; i++) pthread_join(D.workers[i].thread, NULL);
    for (uint32_t i = 0; i < D.nss_cap; i++) if (D.nss[i]) ns_remove(i);
    for (int i = 0; i < D.nworkers; i++) bury(&D.workers[i]);
    return 0;
}
