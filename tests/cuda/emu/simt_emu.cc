/* tests/cuda/emu/simt_emu.cc — the SIMT emulator (simt_emu.h): coroutine
 * threads, a scheduler that releases block barriers and executes warp
 * instructions once all lanes have arrived, and the instructions' data
 * movement as the PTX ISA describes it. */
#include "simt_emu.h"

#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

emu_dim3 emu_block_idx, emu_block_dim, emu_grid_dim;
int emu_cp_mode = EMU_CP_EAGER;
uint64_t emu_schedule_seed, emu_block_order_seed;

namespace {

enum { RUNNABLE = 0, AT_BARRIER = 1, AT_WARP_OP = 2 };
enum { OP_MMA = 1, OP_LDM = 2, OP_SHFL = 3 };

struct cp_op {
    void *dst;
    const void *src;
    int bytes;
    long group; /* -1: not committed yet */
};

struct ethread {
    ucontext_t ctx;
    emu_dim3 tid;
    int finished, wait, op;
    /* warp instruction operands and results */
    float c[4];
    uint32_t a[4], b0, b1, r[4];
    const void *addr;
    int trans, lanemask;
    double v; /* a shuffled value (float or double: floats convert exactly) */
    std::vector<cp_op> pending;
    long next_group;
};

const size_t STACK_BYTES = (size_t)1 << 20;
std::vector<ethread> threads;
std::vector<char> stacks;
ethread *cur;
ucontext_t sched_ctx;
const std::function<void()> *body_fn;
int failed;

void yield_to_scheduler() { swapcontext(&cur->ctx, &sched_ctx); }

uint64_t rnd_state;
uint64_t next_random()
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state >> 11;
}

void trampoline()
{
    (*body_fn)();
    cur->finished = 1; /* returning resumes sched_ctx (uc_link) */
}

float bf16_lo(uint32_t x) { uint32_t u = x << 16; float f; memcpy(&f, &u, 4); return f; }
float bf16_hi(uint32_t x) { uint32_t u = x & 0xffff0000u; float f; memcpy(&f, &u, 4); return f; }

void fail(const char *what)
{
    if (!failed) fprintf(stderr, "simt_emu: block (%u,%u,%u): %s\n", emu_block_idx.x, emu_block_idx.y,
                         emu_block_idx.z, what);
    failed = 1;
}

/* the warp instruction all 32 lanes of warp w are waiting at */
void run_warp_op(ethread *L)
{
    const int op = L[0].op;
    for (int l = 1; l < 32; l++)
        if (L[l].op != op) {
            fail("lanes of a warp reached different warp instructions");
            return;
        }
    if (op == OP_MMA) {
        float A[16][16], B[16][8], C[16][8];
        for (int l = 0; l < 32; l++) {
            const int g = l >> 2, t = l & 3;
            A[g][2 * t] = bf16_lo(L[l].a[0]);     A[g][2 * t + 1] = bf16_hi(L[l].a[0]);
            A[g + 8][2 * t] = bf16_lo(L[l].a[1]); A[g + 8][2 * t + 1] = bf16_hi(L[l].a[1]);
            A[g][2 * t + 8] = bf16_lo(L[l].a[2]); A[g][2 * t + 9] = bf16_hi(L[l].a[2]);
            A[g + 8][2 * t + 8] = bf16_lo(L[l].a[3]); A[g + 8][2 * t + 9] = bf16_hi(L[l].a[3]);
            B[2 * t][g] = bf16_lo(L[l].b0);     B[2 * t + 1][g] = bf16_hi(L[l].b0);
            B[2 * t + 8][g] = bf16_lo(L[l].b1); B[2 * t + 9][g] = bf16_hi(L[l].b1);
            C[g][2 * t] = L[l].c[0];     C[g][2 * t + 1] = L[l].c[1];
            C[g + 8][2 * t] = L[l].c[2]; C[g + 8][2 * t + 1] = L[l].c[3];
        }
        float D[16][8];
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++) {
                float s = 0.0f;
                for (int k = 0; k < 16; k++) s += A[i][k] * B[k][j];
                D[i][j] = s + C[i][j];
            }
        for (int l = 0; l < 32; l++) {
            const int g = l >> 2, t = l & 3;
            L[l].c[0] = D[g][2 * t];     L[l].c[1] = D[g][2 * t + 1];
            L[l].c[2] = D[g + 8][2 * t]; L[l].c[3] = D[g + 8][2 * t + 1];
        }
    } else if (op == OP_LDM) {
        const int trans = L[0].trans;
        for (int l = 0; l < 32; l++) {
            if (L[l].trans != trans) { fail("ldmatrix: lanes disagree on .trans"); return; }
            if ((uintptr_t)L[l].addr & 15) { fail("ldmatrix: a row address is not 16-byte aligned"); return; }
        }
        for (int l = 0; l < 32; l++)
            for (int j = 0; j < 4; j++) {
                const int g = l >> 2, t = l & 3;
                uint16_t e0, e1;
                const uint16_t *rows[8];
                for (int i = 0; i < 8; i++) rows[i] = (const uint16_t *)L[8 * j + i].addr;
                if (trans) {
                    e0 = rows[2 * t][g];
                    e1 = rows[2 * t + 1][g];
                } else {
                    e0 = rows[g][2 * t];
                    e1 = rows[g][2 * t + 1];
                }
                L[l].r[j] = (uint32_t)e0 | ((uint32_t)e1 << 16);
            }
    } else if (op == OP_SHFL) {
        double v[32];
        for (int l = 0; l < 32; l++) v[l] = L[l].v;
        for (int l = 0; l < 32; l++) L[l].v = v[l ^ (L[l].lanemask & 31)];
    } else {
        fail("unknown warp instruction");
    }
}

void warp_op(int op)
{
    cur->op = op;
    cur->wait = AT_WARP_OP;
    yield_to_scheduler();
}

void do_copy(const cp_op &c)
{
    if (c.bytes > 0) memcpy(c.dst, c.src, (size_t)c.bytes);
    if (c.bytes < 16) memset((char *)c.dst + c.bytes, 0, (size_t)(16 - c.bytes));
}

} // namespace

const emu_dim3 &emu_thread_idx() { return cur->tid; }

void __syncthreads()
{
    cur->wait = AT_BARRIER;
    yield_to_scheduler();
}

double __shfl_xor_sync(unsigned mask, double v, int lanemask)
{
    if (mask != 0xffffffffu) fail("shfl: only full-warp masks are emulated");
    cur->v = v;
    cur->lanemask = lanemask;
    warp_op(OP_SHFL);
    return cur->v;
}

float __shfl_xor_sync(unsigned mask, float v, int lanemask)
{
    return (float)__shfl_xor_sync(mask, (double)v, lanemask);
}

void emu_mma_m16n8k16_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    memcpy(cur->c, c, sizeof cur->c);
    memcpy(cur->a, a, sizeof cur->a);
    cur->b0 = b0;
    cur->b1 = b1;
    warp_op(OP_MMA);
    memcpy(c, cur->c, sizeof cur->c);
}

void emu_ldmatrix_x4(uint32_t r[4], const void *p, int trans)
{
    cur->addr = p;
    cur->trans = trans;
    warp_op(OP_LDM);
    memcpy(r, cur->r, sizeof cur->r);
}

void emu_cp_async16(void *dst, const void *src, int bytes)
{
    if (((uintptr_t)dst & 15) || ((uintptr_t)src & 15)) fail("cp.async: address not 16-byte aligned");
    if (bytes < 0 || bytes > 16) fail("cp.async: src-size out of 0..16");
    cp_op c = {dst, src, bytes, -1};
    if (emu_cp_mode == EMU_CP_EAGER) do_copy(c);
    else cur->pending.push_back(c);
}

void emu_cp_async_commit()
{
    for (cp_op &c : cur->pending)
        if (c.group < 0) c.group = cur->next_group;
    cur->next_group++;
}

void emu_cp_async_wait(int pending)
{
    /* every committed group but the `pending` most recent ones completes now */
    const long done_below = cur->next_group - pending;
    std::vector<cp_op> keep;
    for (const cp_op &c : cur->pending) {
        if (c.group >= 0 && c.group < done_below) do_copy(c);
        else keep.push_back(c);
    }
    cur->pending.swap(keep);
}

static int run_block(emu_dim3 block)
{
    const unsigned nthreads = block.x * block.y * block.z;
    threads.assign(nthreads, ethread());
    if (stacks.size() < nthreads * STACK_BYTES) stacks.resize(nthreads * STACK_BYTES);
    for (unsigned i = 0; i < nthreads; i++) {
        ethread &t = threads[i];
        t.tid = {i % block.x, i / block.x % block.y, i / (block.x * block.y)}; /* x fastest, as CUDA */
        t.finished = 0;
        t.wait = RUNNABLE;
        t.next_group = 0;
        getcontext(&t.ctx);
        t.ctx.uc_stack.ss_sp = stacks.data() + i * STACK_BYTES;
        t.ctx.uc_stack.ss_size = STACK_BYTES;
        t.ctx.uc_link = &sched_ctx;
        makecontext(&t.ctx, trampoline, 0);
    }
    for (;;) {
        int progress = 0;
        for (unsigned i = 0; i < nthreads && !failed; i++)
            if (!threads[i].finished && threads[i].wait == RUNNABLE) {
                cur = &threads[i];
                swapcontext(&sched_ctx, &threads[i].ctx);
                progress = 1;
            }
        if (failed) return -1;
        int first_ready = -1, went = 0;
        for (unsigned w = 0; w < nthreads / 32; w++) {
            ethread *L = &threads[w * 32];
            int at = 0;
            for (int l = 0; l < 32; l++) at += L[l].wait == AT_WARP_OP;
            if (at != 32) continue;
            if (first_ready < 0) first_ready = (int)w;
            if (emu_schedule_seed && (next_random() & 1)) continue; /* this warp waits a round */
            run_warp_op(L);
            for (int l = 0; l < 32; l++) L[l].wait = RUNNABLE;
            progress = went = 1;
        }
        if (!went && first_ready >= 0) { /* the random schedule still moves */
            ethread *L = &threads[first_ready * 32];
            run_warp_op(L);
            for (int l = 0; l < 32; l++) L[l].wait = RUNNABLE;
            progress = 1;
        }
        if (failed) return -1;
        unsigned alive = 0, at_bar = 0;
        for (const ethread &t : threads) {
            alive += !t.finished;
            at_bar += !t.finished && t.wait == AT_BARRIER;
        }
        if (!alive) return 0;
        if (at_bar == alive) {
            for (ethread &t : threads)
                if (!t.finished) t.wait = RUNNABLE;
            progress = 1;
        }
        if (!progress) {
            fail("deadlock: threads wait at different barriers or warp instructions");
            return -1;
        }
    }
}

int emu_launch(emu_dim3 grid, emu_dim3 block, const std::function<void()> &body)
{
    const unsigned nthreads = block.x * block.y * block.z;
    if (!nthreads || nthreads % 32) {
        fprintf(stderr, "simt_emu: blocks must have a multiple of 32 threads\n");
        return -1;
    }
    failed = 0;
    body_fn = &body;
    rnd_state = emu_schedule_seed * 0x9e3779b97f4a7c15ull + 1;
    emu_grid_dim = grid;
    emu_block_dim = block;
    std::vector<emu_dim3> order;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) order.push_back({x, y, z});
    if (emu_block_order_seed) { /* Fisher-Yates with its own stream */
        uint64_t st = emu_block_order_seed * 0x9e3779b97f4a7c15ull + 7;
        for (size_t i = order.size(); i > 1; i--) {
            st ^= st << 13; st ^= st >> 7; st ^= st << 17;
            std::swap(order[i - 1], order[(size_t)((st >> 11) % i)]);
        }
    }
    for (const emu_dim3 &b : order) {
        emu_block_idx = b;
        if (run_block(block) != 0) return -1;
    }
    return 0;
}
