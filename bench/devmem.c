/* bench/devmem.c — see devmem.h. The few driver entry points are declared
 * here with their C ABI (CUresult = int, CUdevice = int, CUcontext = a
 * pointer), which has been stable since CUDA 4. */
#include "devmem.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

typedef int cu_result;
typedef int cu_device;
typedef void *cu_context;

static struct {
    void *lib;
    cu_result (*init)(unsigned);
    cu_result (*device_get)(cu_device *, int);
    cu_result (*retain)(cu_context *, cu_device);
    cu_result (*release)(cu_device);
    cu_result (*set_current)(cu_context);
    cu_result (*mem_get_info)(size_t *, size_t *);
    cu_device dev;
    cu_context ctx;
    int open;
    char why[160];
    pthread_t thread;
    int polling;
    volatile int stop;
    unsigned interval_us;
    pthread_mutex_t lock;
    size_t peak;
} D = {.lock = PTHREAD_MUTEX_INITIALIZER};

const char *devmem_why(void) { return D.why[0] ? D.why : "ok"; }

int devmem_open(int ordinal)
{
    if (D.open) return 0;
    D.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!D.lib) {
        snprintf(D.why, sizeof D.why, "no CUDA driver (libcuda.so.1: %s)", dlerror());
        return -1;
    }
#define SYM(field, name)                                                                   \
    do {                                                                                   \
        *(void **)&D.field = dlsym(D.lib, name);                                           \
        if (!D.field) {                                                                    \
            snprintf(D.why, sizeof D.why, "libcuda.so.1 has no %s", name);                 \
            return -1;                                                                     \
        }                                                                                  \
    } while (0)
    SYM(init, "cuInit");
    SYM(device_get, "cuDeviceGet");
    SYM(retain, "cuDevicePrimaryCtxRetain");
    SYM(release, "cuDevicePrimaryCtxRelease_v2");
    SYM(set_current, "cuCtxSetCurrent");
    SYM(mem_get_info, "cuMemGetInfo_v2");
#undef SYM
    cu_result r;
    if ((r = D.init(0)) || (r = D.device_get(&D.dev, ordinal)) || (r = D.retain(&D.ctx, D.dev))) {
        snprintf(D.why, sizeof D.why, "CUDA driver error %d on device %d", r, ordinal);
        return -1;
    }
    D.open = 1;
    return 0;
}

int devmem_used(size_t *used, size_t *total)
{
    size_t fr = 0, tot = 0;
    if (!D.open || D.set_current(D.ctx) || D.mem_get_info(&fr, &tot)) return -1;
    if (used) *used = tot - fr;
    if (total) *total = tot;
    return 0;
}

void devmem_sample(void)
{
    size_t u;
    if (devmem_used(&u, NULL)) return;
    pthread_mutex_lock(&D.lock);
    if (u > D.peak) D.peak = u;
    pthread_mutex_unlock(&D.lock);
}

size_t devmem_peak(void)
{
    pthread_mutex_lock(&D.lock);
    size_t p = D.peak;
    pthread_mutex_unlock(&D.lock);
    return p;
}

static void *poll_main(void *arg)
{
    (void)arg;
    const struct timespec ts = {0, (long)D.interval_us * 1000L};
    while (!D.stop) {
        devmem_sample();
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int devmem_poll_start(unsigned interval_us)
{
    if (!D.open || D.polling) return -1;
    D.stop = 0;
    D.interval_us = interval_us ? interval_us : 1000;
    if (pthread_create(&D.thread, NULL, poll_main, NULL)) return -1;
    D.polling = 1;
    return 0;
}

void devmem_poll_stop(void)
{
    if (!D.polling) return;
    D.stop = 1;
    pthread_join(D.thread, NULL);
    D.polling = 0;
}

void devmem_close(void)
{
    devmem_poll_stop();
    if (D.open) D.release(D.dev);
    D.open = 0;
    /* the library stays loaded: the CUDA runtime of libsimvtp uses it too */
}
