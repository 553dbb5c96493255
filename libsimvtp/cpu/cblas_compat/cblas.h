/* cpu/cblas_compat/cblas.h — the CBLAS subset libsimvtp uses, for builds
 * without a CBLAS (meson -Dblas=disabled, or -Dblas=auto where neither
 * openblas nor cblas is found, e.g. the GPU machine without Debian -dev
 * packages). This folder is on the include path only in such builds; the
 * functions are the portable, cache-blocked OpenMP kernels of cpu/matmul.c
 * (hidden inside the library, never exported), with CBLAS semantics:
 *   sgemm: C = alpha op(A) op(B) + beta C   (beta == 0: C is not read)
 *   sgemv: y = alpha op(A) x + beta y       (beta == 0: y is not read)
 * They are deterministic (each output element summed in a fixed order by
 * one thread) and meant for the CPU reference on small shapes, not speed. */
#ifndef SV_CBLAS_COMPAT_H
#define SV_CBLAS_COMPAT_H

#include "simvtp_build_config.h"

#if SIMVTP_HAVE_CBLAS
#error "cpu/cblas_compat/cblas.h is for builds without CBLAS only"
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 };
typedef enum CBLAS_ORDER CBLAS_LAYOUT;

void sv_portable_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                       int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);
void sv_portable_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, int M, int N,
                       float alpha, const float *A, int lda, const float *x, int incx,
                       float beta, float *y, int incy);

#define cblas_sgemm sv_portable_sgemm
#define cblas_sgemv sv_portable_sgemv

#ifdef __cplusplus
}
#endif
#endif /* SV_CBLAS_COMPAT_H */
