#pragma once
// What every kernel file shares. NVRTC compiles the kernels as CUDA C++ for the GPU; the tests
// compile the same files as C for the CPU under Sources/CUDAKernels/emulation.h, which defines the CUDA names used
// here (threadIdx, __syncthreads, __shfl_xor_sync, atomicAdd). So the kernels keep to the C subset
// of CUDA: no templates, no references, no overloading, fixed-size shared arrays.
#ifdef __CUDACC_RTC__
#define KERNEL extern "C" __global__ void
#define DEVICE __device__ __forceinline__
#define NEGATIVE_INFINITY (-__int_as_float(0x7f800000))
#endif

#define FULL_MASK 0xffffffffu

// The index of this thread in the whole grid, and the grid's size: loops over n elements step by
// it, so that any launch covers any n.
#define GRID_INDEX ((int)(blockIdx.x * blockDim.x + threadIdx.x))
#define GRID_STRIDE ((int)(blockDim.x * gridDim.x))

DEVICE float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(FULL_MASK, v, offset);
    return v;
}

DEVICE float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, offset));
    return v;
}

// The sum of v over the block, returned to every thread. Every thread of the block must call it
// (it synchronises); `scratch` is 32 floats of shared memory. The second level is reduced by every
// warp at once, so no thread waits in a branch of its own.
DEVICE float block_sum(float v, float *scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    v = warp_sum(v);
    __syncthreads();  // an earlier call may still be reading scratch
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? scratch[lane] : 0.0f);
}

// As block_sum, for the maximum.
DEVICE float block_max(float v, float *scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_max(lane < warps ? scratch[lane] : NEGATIVE_INFINITY);
}
