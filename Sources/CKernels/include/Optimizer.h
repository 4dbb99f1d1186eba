// The AdamW update, element by element, in PyTorch's order of operations (see AdamW.swift).
#ifndef LIFELONG_OPTIMIZER_H
#define LIFELONG_OPTIMIZER_H

/// For i < count:  w ← w·decay;  m ← m + (g − m)(1 − β₁);  v ← β₂·v + (1 − β₂)·g·g;
///                 w ← w − stepSize·m / (√v / correction2Sqrt + ε).
/// The AVX path and the portable loop give identical results (every operation is exactly rounded
/// and none is fused).
void lf_adamw_update(float *w, const float *g, float *m, float *v, long count, float decay, float beta1,
                     float beta2, float stepSize, float correction2Sqrt, float epsilon);

#endif
