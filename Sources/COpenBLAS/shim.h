// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <cblas.h>

// Fortran LAPACK entry points exported by libopenblas (lapacke.h is not installed on Debian's
// libopenblas-dev). Arguments are passed by reference, matrices are column-major.
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
