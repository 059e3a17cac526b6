/* attn_check.cu - the CUDA trainer's tiled attention kernels against its
 * warp-per-row (generic) kernels, on the GPU, on random inputs, shape by
 * shape, each output compared row by row (forward: o and the log-sum-exp;
 * backward: dq, dk, dv and dout.o, both paths fed the same forward).
 *
 * The generic kernels are the reference here because tests/test_cuda.c
 * checks them against the CPU trainer; this program says which tiled output
 * and which positions differ when a shape fails there. Built twice:
 *   build/tests/attn_check      by nvcc, where nvcc is; skips without a GPU
 *                               (tests/run.sh, tests/gpu/run.sh);
 *   build/tests/emu/attn_check  against the CPU emulation (tests/cuda_emu/),
 *                               on every machine (tests/run.sh), without the
 *                               largest shapes.
 * On an H100 with CUDA 13.0 this caught what the emulation could not: the
 * first form of the dK/dV kernel's chunk loads (a trip count that depended on
 * the chunk's length) came out of ptxas's optimiser reading rows past the
 * chunk, and so wrong dK and dV whenever the sequence length was not a
 * multiple of the tile (correct with -Xptxas -O0; the loads now have a fixed
 * trip count, see for_each_key and attn_dkv_tiled).
 *
 * Includes the trainer's source to reach its kernels (file-local there). */
#include "../../gpu_train/train_cuda.cu"

#include <vector>

#ifdef OZ_CUDA_EMU
#define EMU_PREFIX "[CPU emulation] "
#else
#define EMU_PREFIX ""
#endif

namespace {

int failures, checks;

struct shape {
    unsigned B, T, H, Dh, W;
    float amp; /* inputs uniform in [-amp, amp]: large amp, peaked attention */
};

float urand(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

/* Largest |a - b| relative to the largest |b| over rows x cols (cols of
 * each row from c0, stride ld); prints where it is. */
void compare(const char *what, const shape &s, const std::vector<float> &a, const std::vector<float> &b, size_t rows,
             size_t ld, size_t c0, size_t cols, double tol)
{
    double worst = 0, big = 0;
    size_t wr = 0, wc = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            double x = a[r * ld + c0 + c], y = b[r * ld + c0 + c], d = fabs(x - y);
            if (!(d <= worst))
                worst = d, wr = r, wc = c;
            if (fabs(y) > big)
                big = fabs(y);
        }
    double rel = worst / (big > 0 ? big : 1);
    int ok = rel <= tol;
    checks++;
    failures += !ok;
    printf("%s - %stiled attention %s matches the generic kernels (B%u T%u H%u Dh%u W%u amp %g): "
           "largest error %.3g of %.3g at row %zu (b %zu, t %zu), col %zu: tiled %.6g generic %.6g\n",
           ok ? "ok" : "not ok", EMU_PREFIX, what, s.B, s.T, s.H, s.Dh, s.W, s.amp, worst, big, wr, wr / s.T, wr % s.T, wc,
           (double)a[wr * ld + c0 + wc], (double)b[wr * ld + c0 + wc]);
}

void run(const shape &s, unsigned long long seed)
{
    const unsigned D = s.H * s.Dh;
    const size_t N = (size_t)s.B * s.T;
    std::vector<float> qkv(N * 3 * D), dout(N * D);
    for (auto &x : qkv)
        x = urand(&seed) * s.amp;
    for (auto &x : dout)
        x = urand(&seed);
    float *dqkv_in, *dout_d, *o[2], *lse[2], *dq[2], *ds[2];
    cudaMalloc((void **)&dqkv_in, qkv.size() * sizeof(float));
    cudaMalloc((void **)&dout_d, dout.size() * sizeof(float));
    for (int k = 0; k < 2; k++) {
        cudaMalloc((void **)&o[k], N * D * sizeof(float));
        cudaMalloc((void **)&lse[k], N * s.H * sizeof(float));
        cudaMalloc((void **)&dq[k], N * 3 * D * sizeof(float));
        cudaMalloc((void **)&ds[k], N * s.H * sizeof(float));
        cudaMemset(dq[k], 0, N * 3 * D * sizeof(float));
    }
    cudaMemcpy(dqkv_in, qkv.data(), qkv.size() * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dout_d, dout.data(), dout.size() * sizeof(float), cudaMemcpyHostToDevice);
    attn_args a;
    memset(&a, 0, sizeof a);
    a.qkv = dqkv_in;
    a.dout = dout_d;
    a.B = s.B, a.T = s.T, a.D = D, a.H = s.H, a.Dh = s.Dh, a.W = s.W;
    a.scale = 1.0f / sqrtf((float)s.Dh);
    for (unsigned h = 0; h < s.H; h++)
        a.slope2[h] = LOG2E * exp2f(-8.0f * (h + 1) / s.H);
    /* through the trainer's own launchers: tiled (k = 0) and generic (k = 1) */
    const int dp[2] = {attn_tiled_width(s.Dh), 0};
    for (int k = 0; k < 2; k++) {
        a.o = o[k], a.lse = lse[k];
        attn_fwd_launch(a, dp[k], 0);
    }
    /* backward: both from the generic forward */
    a.o = o[1], a.lse = lse[1];
    for (int k = 0; k < 2; k++) {
        a.dqkv = dq[k], a.dsum = ds[k];
        attn_bwd_launch(a, dp[k], 0);
    }
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        printf("not ok - %sattention kernels ran (B%u T%u W%u): %s\n", EMU_PREFIX, s.B, s.T, s.W,
               cudaGetErrorString(e));
        failures++;
        return;
    }
    std::vector<float> h_o[2], h_l[2], h_d[2], h_s[2];
    for (int k = 0; k < 2; k++) {
        h_o[k].resize(N * D), h_l[k].resize(N * s.H), h_d[k].resize(N * 3 * D), h_s[k].resize(N * s.H);
        cudaMemcpy(h_o[k].data(), o[k], N * D * sizeof(float), cudaMemcpyDeviceToHost);
        cudaMemcpy(h_l[k].data(), lse[k], N * s.H * sizeof(float), cudaMemcpyDeviceToHost);
        cudaMemcpy(h_d[k].data(), dq[k], N * 3 * D * sizeof(float), cudaMemcpyDeviceToHost);
        cudaMemcpy(h_s[k].data(), ds[k], N * s.H * sizeof(float), cudaMemcpyDeviceToHost);
        cudaFree(o[k]), cudaFree(lse[k]), cudaFree(dq[k]), cudaFree(ds[k]);
    }
    cudaFree(dqkv_in), cudaFree(dout_d);
    compare("output o", s, h_o[0], h_o[1], N, D, 0, D, 1e-4);
    compare("log-sum-exp", s, h_l[0], h_l[1], N, s.H, 0, s.H, 1e-4);
    compare("dq", s, h_d[0], h_d[1], N, 3 * D, 0, D, 1e-3);
    compare("dk", s, h_d[0], h_d[1], N, 3 * D, D, D, 1e-3);
    compare("dv", s, h_d[0], h_d[1], N, 3 * D, 2 * D, D, 1e-3);
    compare("dout.o", s, h_s[0], h_s[1], N, s.H, 0, s.H, 1e-4);
}

} // namespace

int main()
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        printf("skip - tiled attention against the generic kernels: no usable GPU\n");
        return 0;
    }
    static const shape shapes[] = {
        {1, 300, 2, 16, 100, 1}, {1, 300, 2, 16, 100, 8}, {1, 320, 2, 16, 100, 8}, {1, 300, 2, 16, 64, 8},
        {2, 300, 2, 16, 100, 8}, {1, 40, 4, 12, 16, 8},   {3, 48, 2, 32, 64, 8},   {2, 1000, 12, 16, 512, 2},
        {2, 1024, 12, 16, 512, 2}, {4, 97, 2, 8, 5, 8},   {2, 130, 4, 32, 33, 4},
    };
    unsigned long long seed = 7;
    for (const shape &s : shapes) {
#ifdef OZ_CUDA_EMU
        if (s.T >= 1000) /* too slow for the emulation */
            continue;
#endif
        run(s, seed++);
    }
    printf("# %d passed, %d failed\n", checks - failures, failures);
    return failures != 0;
}
