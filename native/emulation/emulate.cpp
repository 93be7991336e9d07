// Runs the kernels of ../jdl_kernels.cu on the CPU (cuda_host.h: a block's threads are fibers), and compares them with
// plain double-precision references. A development check for machines without a GPU: it exercises the
// kernels' indexing, reductions, barriers and formulas (not the GPU compiler, nor the launch path).
//
//   native/emulation/run        (g++ >= 11)
//
// Emulation (cuda_host.h): blocks run one after another; the threads of a block are fibers that switch at
// __syncthreads; __shared__ becomes thread_local static (shared by the block's threads, reused by the next
// block); atomicAdd is a compare-and-swap; the math functions are the host's.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_host.h"

#include "../jdl_kernels.cu"

// The pointwise kernels take each operand as bytes with its element code (float32 here, but in the half checks).
template <class T>
static unsigned char* P(T* p) {
    return (unsigned char*)p;
}
static const int F = JDL_F32;

// Every kernel runs with barriers allowed (fibers), whether or not it uses them.
static void launch(unsigned grid, unsigned block, const std::function<void()>& kernel) {
    emu::runGrid({grid, 1, 1}, {block, 1, 1}, true, kernel);
}

static int failures = 0;
static std::mt19937_64 rng(20261123);

static std::vector<float> randn(size_t n, double scale) {
    std::normal_distribution<double> d(0, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = (float)d(rng);
    return v;
}

static void check(const char* what, const std::vector<double>& expected, const std::vector<float>& actual,
                  double tol = 1e-5) {
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < expected.size(); i++) {
        double err = std::fabs(actual[i] - expected[i]) / std::fmax(1.0, std::fabs(expected[i]));
        if (!(err <= worst)) {  // NaN counts as worst
            worst = std::isnan(err) ? INFINITY : err;
            at = i;
        }
    }
    bool ok = worst <= tol;
    if (!ok) failures++;
    std::printf("%-4s %-48s max scaled error %.3g%s\n", ok ? "ok" : "FAIL", what, worst,
                ok ? "" : (" at " + std::to_string(at) + ": expected " + std::to_string(expected[at]) + ", got " +
                           std::to_string(actual[at])).c_str());
}

static void checkNaN(const char* what, bool ok) {
    if (!ok) failures++;
    std::printf("%-4s %s\n", ok ? "ok" : "FAIL", what);
}

int main() {
    const int B = JDL_BLOCK;
    // --- elementwise (a small grid: the loops stride over the rest)
    {
        long long n = 3001;
        auto x = randn(n, 3), dy = randn(n, 1);
        std::vector<float> y(n, NAN), dx(n, NAN), g(n, NAN), gdx(n, NAN);
        launch(3, B, [&] { jdl_leaky_relu(P(x.data()), P(y.data()), n, 0.01f, F, F); });
        launch(3, B, [&] { jdl_leaky_relu_backward(P(x.data()), P(dy.data()), P(dx.data()), n, 0.01f, F, F, F); });
        launch(2, B, [&] { jdl_gelu(P(x.data()), P(g.data()), n, F, F); });
        launch(5, B, [&] { jdl_gelu_backward(P(x.data()), P(dy.data()), P(gdx.data()), n, F, F, F); });
        std::vector<double> ey(n), edx(n), eg(n), egdx(n);
        for (long long i = 0; i < n; i++) {
            double v = x[i];
            ey[i] = x[i] > 0 ? x[i] : 0.01f * x[i];  // in float, as the kernel
            edx[i] = v > 0 ? dy[i] : 0.01f * dy[i];
            double cdf = 0.5 * (1 + std::erf(v / std::sqrt(2.0)));
            eg[i] = v * cdf;
            egdx[i] = dy[i] * (cdf + v * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI));
        }
        check("leaky_relu", ey, y, 0);
        check("leaky_relu_backward", edx, dx, 0);
        check("gelu", eg, g);
        check("gelu_backward", egdx, gdx);
    }
    // --- softmax cross-entropy: one kernel each way; grids of 1 block, fewer blocks than rows, one per row
    for (int classes : {1, 10, 256, 1000}) {
        for (int grid : {1, 4, 9}) {
            int rows = 9, ignore = -100;
            auto logits = randn((size_t)rows * classes, 4);
            logits[1] = 80;
            std::vector<int> targets(rows);
            for (int r = 0; r < rows; r++) targets[r] = r % 4 == 2 ? ignore : (int)(rng() % classes);
            float scale = 1.0f / 7, gradOut = 0.5f;
            std::vector<float> lse(rows, NAN), partials(JDL_CE_MAX_BLOCKS, NAN), loss(1, NAN),
                grad((size_t)rows * classes, NAN);
            std::vector<int> ticket(1, 0);
            // twice: the ticket is back at 0 after a launch
            for (int again = 0; again < 2; again++)
                launch(grid, B, [&] {
                    jdl_cross_entropy(logits.data(), targets.data(), lse.data(), partials.data(), ticket.data(),
                                      loss.data(), rows, classes, ignore, scale);
                });
            launch(3, B, [&] {
                jdl_cross_entropy_backward(logits.data(), targets.data(), lse.data(), &gradOut, grad.data(),
                                           (long long)rows * classes, classes, ignore, scale);
            });
            std::vector<double> eLoss(1, 0), eLse(rows, 0), eGrad((size_t)rows * classes, 0);
            for (int r = 0; r < rows; r++) {
                if (targets[r] == ignore) continue;
                double m = -INFINITY, s = 0;
                for (int j = 0; j < classes; j++) m = std::fmax(m, logits[r * classes + j]);
                for (int j = 0; j < classes; j++) s += std::exp(logits[r * classes + j] - m);
                eLse[r] = std::log(s) + m;
                eLoss[0] += scale * (eLse[r] - logits[r * classes + targets[r]]);
                for (int j = 0; j < classes; j++)
                    eGrad[r * classes + j] =
                        gradOut * scale * (std::exp(logits[r * classes + j] - m) / s - (j == targets[r]));
            }
            std::string c = " classes=" + std::to_string(classes) + " grid=" + std::to_string(grid);
            check(("cross_entropy loss" + c).c_str(), eLoss, loss);
            check(("cross_entropy logsumexp" + c).c_str(), eLse, lse);
            checkNaN(("cross_entropy ticket back at 0" + c).c_str(), ticket[0] == 0);
            check(("cross_entropy_backward" + c).c_str(), eGrad, grad);
            std::vector<float> inPlace = logits;
            launch(2, B, [&] {
                jdl_cross_entropy_backward(inPlace.data(), targets.data(), lse.data(), &gradOut, inPlace.data(),
                                           (long long)rows * classes, classes, ignore, scale);
            });
            check(("cross_entropy_backward in place" + c).c_str(), eGrad, inPlace);
        }
    }
    {
        // no rows: one block writes loss 0; every row ignored: loss 0 (scale 0), gradient 0
        std::vector<float> logits = randn(20, 1), lse(2, NAN), partials(JDL_CE_MAX_BLOCKS), loss(1, NAN),
                           grad(20, NAN);
        std::vector<int> ticket(1, 0), ignored = {-1, -1};
        float one = 1;
        launch(1, B, [&] {
            jdl_cross_entropy(logits.data(), ignored.data(), lse.data(), partials.data(), ticket.data(), loss.data(),
                              0, 10, -1, 1.f);
        });
        checkNaN("cross_entropy of no rows is 0", loss[0] == 0 && ticket[0] == 0);
        loss[0] = NAN;
        launch(2, B, [&] {
            jdl_cross_entropy(logits.data(), ignored.data(), lse.data(), partials.data(), ticket.data(), loss.data(),
                              2, 10, -1, 0.f);
        });
        launch(1, B, [&] {
            jdl_cross_entropy_backward(logits.data(), ignored.data(), lse.data(), &one, grad.data(), 20, 10, -1, 0.f);
        });
        checkNaN("cross_entropy with every row ignored is 0, gradient 0",
                 loss[0] == 0 && std::all_of(grad.begin(), grad.end(), [](float g) { return g == 0; }));
        std::vector<int> targets = {3, 10};
        launch(2, B, [&] {
            jdl_cross_entropy(logits.data(), targets.data(), lse.data(), partials.data(), ticket.data(), loss.data(),
                              2, 10, -1, 1.f);
        });
        launch(1, B, [&] {
            jdl_cross_entropy_backward(logits.data(), targets.data(), lse.data(), &one, grad.data(), 20, 10, -1, 1.f);
        });
        checkNaN("out-of-range target gives NaN", std::isnan(loss[0]) && std::isfinite(grad[0]) && std::isnan(grad[10]));
    }
    // --- SGD
    for (int variant = 0; variant < 4; variant++) {
        long long n = 1001;
        float lr = 0.1f, momentum = variant == 0 ? 0 : 0.9f, dampening = variant == 1 ? 0.1f : 0,
              wd = variant >= 2 ? 0.01f : 0;
        int nesterov = variant == 2;
        auto p = randn(n, 1);
        std::vector<float> buf(n, NAN);
        std::vector<double> ep(p.begin(), p.end()), eb(n);
        for (int step = 1; step <= 3; step++) {
            auto g = randn(n, 1);
            launch(2, B, [&] {
                jdl_sgd_step(p.data(), g.data(), momentum != 0 ? buf.data() : nullptr, n, lr, momentum, dampening, wd,
                             nesterov, step == 1);
            });
            for (long long i = 0; i < n; i++) {
                double d = g[i] + (double)wd * ep[i];
                if (momentum != 0) {
                    eb[i] = step == 1 ? d : (double)momentum * eb[i] + (1 - (double)dampening) * d;
                    d = nesterov ? d + (double)momentum * eb[i] : eb[i];
                }
                ep[i] -= (double)lr * d;
            }
        }
        check(("sgd_step variant " + std::to_string(variant)).c_str(), ep, p);
    }
    // --- Adam
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        long long n = 1001;
        float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.05f;
        auto p = randn(n, 1);
        std::vector<float> m(n, 0), v(n, 0);
        std::vector<double> ep(p.begin(), p.end()), em(n, 0), ev(n, 0);
        for (int step = 1; step <= 4; step++) {
            auto g = randn(n, 1);
            float stepSize = (float)(lr / (1.0 - std::pow((double)b1, step)));
            float bc2 = (float)std::sqrt(1.0 - std::pow((double)b2, step));
            launch(2, B, [&] {
                jdl_adam_step(p.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, decoupled, stepSize, bc2);
            });
            for (long long i = 0; i < n; i++) {
                double d = g[i];
                if (decoupled) ep[i] *= 1 - (double)lr * wd; else d += (double)wd * ep[i];
                em[i] = b1 * em[i] + (1 - (double)b1) * d;
                ev[i] = b2 * ev[i] + (1 - (double)b2) * d * d;
                ep[i] -= lr / (1 - std::pow((double)b1, step)) * em[i] /
                         (std::sqrt(ev[i]) / std::sqrt(1 - std::pow((double)b2, step)) + eps);
            }
        }
        check(decoupled ? "adam_step (AdamW)" : "adam_step (Adam)", ep, p);
    }
    // --- dropout: print the mask of a fixed seed, to compare with NativeKernels.dropoutKeep in Java
    {
        long long n = 64;
        std::vector<float> x(n, 1.f), y(n), mask(n);
        launch(1, B, [&] {
            jdl_dropout(P(x.data()), P(y.data()), mask.data(), n, 0.5f, (unsigned long long)-7LL, F, F);
        });
        std::printf("dropout mask bits (seed -7, p 0.5, index 0..63): ");
        for (long long i = 0; i < n; i++) std::printf("%d", mask[i] != 0);
        std::printf("\n");
        long long big = 1000000, kept = 0;
        std::vector<float> xb(big, 1.f), yb(big), mb(big);
        launch(1, B, [&] { jdl_dropout(P(xb.data()), P(yb.data()), mb.data(), big, 0.3f, 12345ULL, F, F); });
        for (float k : mb) kept += k != 0;
        checkNaN("dropout p=0.3 keeps ~70%", std::fabs(kept / (double)big - 0.7) < 0.005);
        checkNaN("dropout scale is 1/(1-p)", mb[0] == 0 || mb[0] == 1.f / (1.f - 0.3f));
    }
    // --- embedding backward
    {
        int vocab = 20, dim = 7;
        long long n = 300;
        std::vector<int> ids(n);
        for (auto& id : ids) id = (int)(rng() % vocab);
        ids[5] = vocab;
        ids[6] = -1;
        auto dOut = randn(n * dim, 1);
        std::vector<float> dW((size_t)vocab * dim, 0);
        launch(3, B, [&] { jdl_embedding_backward(dOut.data(), ids.data(), dW.data(), n, dim, vocab); });
        std::vector<double> e((size_t)vocab * dim, 0);
        for (long long i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < vocab)
                for (int j = 0; j < dim; j++) e[ids[i] * dim + j] += dOut[i * dim + j];
        check("embedding_backward", e, dW);
    }
    // --- layer norm
    for (int cols : {1, 10, 256, 300, 1000}) {
        int rows = 5;
        float eps = 1e-5f;
        auto x = randn((size_t)rows * cols, 2);
        for (auto& v : x) v += 3;
        auto gamma = randn(cols, 1), beta = randn(cols, 1), dy = randn((size_t)rows * cols, 1);
        std::vector<float> y(x.size(), NAN), mean(rows, NAN), rstd(rows, NAN), dx(x.size(), NAN), dg(cols, NAN),
            db(cols, NAN);
        launch(rows, B, [&] {
            jdl_layer_norm_rows(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows, cols, eps);
        });
        launch((cols + JDL_COL_TILE - 1) / JDL_COL_TILE, B, [&] {
            jdl_layer_norm_backward_columns(x.data(), mean.data(), rstd.data(), dy.data(), dg.data(), db.data(), rows,
                                            cols, rows);
        });
        launch(rows, B, [&] {
            jdl_layer_norm_backward_rows(x.data(), gamma.data(), mean.data(), rstd.data(), dy.data(), dx.data(), rows,
                                         cols);
        });
        std::vector<double> eMean(rows), eRstd(rows), eY(x.size()), eDx(x.size()), eDg(cols, 0), eDb(cols, 0);
        for (int r = 0; r < rows; r++) {
            double mu = 0, var = 0, sg = 0, sgx = 0;
            for (int j = 0; j < cols; j++) mu += x[r * cols + j];
            mu /= cols;
            for (int j = 0; j < cols; j++) var += (x[r * cols + j] - mu) * (x[r * cols + j] - mu);
            var /= cols;
            double rs = 1 / std::sqrt(var + eps);
            eMean[r] = mu;
            eRstd[r] = rs;
            for (int j = 0; j < cols; j++) {
                int k = r * cols + j;
                double xh = (x[k] - mu) * rs;
                eY[k] = xh * gamma[j] + beta[j];
                sg += dy[k] * gamma[j];
                sgx += dy[k] * gamma[j] * xh;
                eDg[j] += dy[k] * xh;
                eDb[j] += dy[k];
            }
            for (int j = 0; j < cols; j++) {
                int k = r * cols + j;
                double xh = (x[k] - mu) * rs;
                eDx[k] = rs * (dy[k] * gamma[j] - sg / cols - xh * sgx / cols);
            }
        }
        std::string c = " cols=" + std::to_string(cols);
        check(("layer_norm mean" + c).c_str(), eMean, mean);
        check(("layer_norm rstd" + c).c_str(), eRstd, rstd);
        check(("layer_norm y" + c).c_str(), eY, y);
        check(("layer_norm_backward dx" + c).c_str(), eDx, dx);
        check(("layer_norm_backward dGamma" + c).c_str(), eDg, dg);
        check(("layer_norm_backward dBeta" + c).c_str(), eDb, db);
        // no gamma/beta, in place
        std::vector<float> yy = x, mm(rows), rr(rows);
        launch(rows, B, [&] {
            jdl_layer_norm_rows(yy.data(), nullptr, nullptr, yy.data(), mm.data(), rr.data(), rows, cols, eps);
        });
        std::vector<double> eYPlain(x.size());
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) eYPlain[r * cols + j] = (x[r * cols + j] - eMean[r]) * eRstd[r];
        check(("layer_norm no affine, in place" + c).c_str(), eYPlain, yy);
        // dx == dy, columns first
        std::vector<float> d2 = dy, dg2(cols, NAN);
        launch((cols + JDL_COL_TILE - 1) / JDL_COL_TILE, B, [&] {
            jdl_layer_norm_backward_columns(x.data(), mean.data(), rstd.data(), d2.data(), dg2.data(), nullptr, rows,
                                            cols, rows);
        });
        launch(rows, B, [&] {
            jdl_layer_norm_backward_rows(x.data(), gamma.data(), mean.data(), rstd.data(), d2.data(), d2.data(), rows,
                                         cols);
        });
        check(("layer_norm_backward dx in place" + c).c_str(), eDx, d2);
        check(("layer_norm_backward dGamma (dBeta NULL)" + c).c_str(), eDg, dg2);
    }
    {
        std::vector<float> dg(40, NAN), db(40, NAN);
        float dummy = 0;
        launch(2, B, [&] {
            jdl_layer_norm_backward_columns(&dummy, &dummy, &dummy, &dummy, dg.data(), db.data(), 0, 40, 1);
        });
        check("layer_norm_backward_columns rows=0 writes zeros", std::vector<double>(40, 0), dg, 0);
    }
    // --- layer norm column sums in row chunks (odd rows, a last chunk shorter than the others), then the finish pass
    for (int cols : {7, 300}) {
        int rows = 1001, perChunk = 64, chunks = (rows + perChunk - 1) / perChunk, tiles = (cols + JDL_COL_TILE - 1) / JDL_COL_TILE;
        auto x = randn((size_t)rows * cols, 1), dy = randn((size_t)rows * cols, 1), mean = randn(rows, 0.1),
             rstd = randn(rows, 0.2);
        for (auto& v : rstd) v = 1 + std::fabs(v);
        std::vector<float> pg((size_t)chunks * cols, NAN), pb((size_t)chunks * cols, NAN), dg(cols, NAN), db(cols, NAN),
            dbOnly(cols, NAN);
        launch(tiles * chunks, B, [&] {
            jdl_layer_norm_backward_columns(x.data(), mean.data(), rstd.data(), dy.data(), pg.data(), pb.data(), rows, cols,
                                            perChunk);
        });
        launch(1, B, [&] { jdl_layer_norm_backward_finish(pg.data(), pb.data(), dg.data(), db.data(), chunks, cols); });
        launch(1, B, [&] { jdl_layer_norm_backward_finish(nullptr, pb.data(), nullptr, dbOnly.data(), chunks, cols); });
        std::vector<double> eDg(cols, 0), eDb(cols, 0);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) {
                long long k = (long long)r * cols + j;
                eDg[j] += dy[k] * ((x[k] - (double)mean[r]) * rstd[r]);
                eDb[j] += dy[k];
            }
        std::string c = " rows=1001 in chunks of 64, cols=" + std::to_string(cols);
        check(("layer_norm_backward dGamma" + c).c_str(), eDg, dg, 1e-4);
        check(("layer_norm_backward dBeta" + c).c_str(), eDb, db, 1e-4);
        check(("layer_norm_backward dBeta alone" + c).c_str(), eDb, dbOnly, 1e-4);
    }
    // --- embedding forward
    {
        int vocab = 11, dim = 5;
        long long n = 77;
        std::vector<int> ids(n);
        for (auto& id : ids) id = (int)(rng() % vocab);
        ids[3] = vocab;
        auto w = randn((size_t)vocab * dim, 1);
        std::vector<float> out((size_t)n * dim, NAN);
        launch(2, B, [&] { jdl_embedding_forward(w.data(), ids.data(), out.data(), n, dim, vocab); });
        std::vector<double> e((size_t)n * dim, 0);
        for (long long i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < vocab)
                for (int j = 0; j < dim; j++) e[i * dim + j] = w[ids[i] * dim + j];
        check("embedding_forward", e, out, 0);
    }
    // --- attention softmax (scale, causal, key padding) and its backward
    for (int tk : {1, 7, 33, 300}) {
        for (int causal : {0, 1}) {
            for (int withMask : {0, 1}) {
                int batch = 2, heads = 2, tq = std::min(tk, 9), rows = batch * heads * tq;
                float scale = 0.37f;
                auto sc = randn((size_t)rows * tk, 3), dp = randn((size_t)rows * tk, 1);
                std::vector<float> mask((size_t)batch * tk, 1.0f);
                if (withMask) {
                    for (auto& m : mask) m = (rng() % 3 == 0) ? 0.0f : 1.0f;
                    for (int j = 0; j < tk; j++) mask[j] = 0.0f;  // batch 0: every key padded
                }
                std::vector<float> p((size_t)rows * tk, NAN), ds((size_t)rows * tk, NAN);
                launch(rows, B, [&] {
                    jdl_attention_softmax_rows(sc.data(), withMask ? mask.data() : nullptr, p.data(), rows, heads, tq,
                                               tk, scale, causal);
                });
                launch(rows, B, [&] { jdl_attention_softmax_backward_rows(p.data(), dp.data(), ds.data(), rows, tk, scale); });
                std::vector<double> eP((size_t)rows * tk, 0), eDs((size_t)rows * tk, 0);
                for (int r = 0; r < rows; r++) {
                    int i = r % tq, b = r / (heads * tq);
                    auto ok = [&](int j) { return !(causal && j > i) && mask[b * tk + j] != 0.0f; };
                    double m = -INFINITY, z = 0, dot = 0;
                    for (int j = 0; j < tk; j++) if (ok(j)) m = std::max(m, (double)scale * sc[r * tk + j]);
                    for (int j = 0; j < tk; j++) if (ok(j)) z += std::exp(scale * (double)sc[r * tk + j] - m);
                    for (int j = 0; j < tk; j++) eP[r * tk + j] = ok(j) ? std::exp(scale * (double)sc[r * tk + j] - m) / z : 0;
                    for (int j = 0; j < tk; j++) dot += dp[r * tk + j] * (double)p[r * tk + j];
                    for (int j = 0; j < tk; j++) eDs[r * tk + j] = scale * (double)p[r * tk + j] * (dp[r * tk + j] - dot);
                }
                std::string c = " tk=" + std::to_string(tk) + " causal=" + std::to_string(causal) + " mask="
                    + std::to_string(withMask);
                check(("attention_softmax" + c).c_str(), eP, p);
                check(("attention_softmax_backward" + c).c_str(), eDs, ds);
                // in place
                std::vector<float> q = sc;
                launch(rows, B, [&] {
                    jdl_attention_softmax_rows(q.data(), withMask ? mask.data() : nullptr, q.data(), rows, heads, tq, tk,
                                               scale, causal);
                });
                check(("attention_softmax in place" + c).c_str(), eP, q);
            }
        }
    }
    // --- key padding for cuDNN's fused attention: the additive bias and the zeroed rows of queries with no key
    for (int causal : {0, 1}) {
        int batch = 3, heads = 2, tq = 5, tk = 7, d = 3;
        std::vector<float> mask((size_t)batch * tk, 1.0f);
        for (auto& m : mask) m = (rng() % 3 == 0) ? 0.0f : 0.5f;  // non-zero keeps, whatever its value
        for (int j = 0; j < tk; j++) mask[j] = 0.0f;               // batch 0: every key hidden
        for (int j = 0; j < 3; j++) mask[tk + j] = 0.0f;           // batch 1: the first three hidden
        mask[tk + 3] = 1.0f;
        long long n = (long long)batch * tq * tk;
        std::vector<unsigned short> bias(n, 0x1234);
        launch(3, B, [&] { jdl_attention_key_bias(mask.data(), bias.data(), n, tq, tk, 0xCE6E); });
        bool ok = true;
        for (long long e = 0; e < n; e++) {
            long long b = e / (tq * tk);
            ok &= bias[e] == (mask[b * tk + e % tk] != 0.0f ? 0 : 0xCE6E);
        }
        checkNaN("attention_key_bias", ok);
        // x as [batch, tq, heads, d] (a fused projection's output layout), then checked row by row
        long long sB = (long long)tq * heads * d, sH = d, sT = (long long)heads * d;
        std::vector<unsigned short> x((size_t)batch * sB, 0x3F80);
        launch(2, B, [&] {
            jdl_attention_zero_unattended(mask.data(), x.data(), (long long)batch * tq, heads, tq, tk, d, causal, sB,
                                          sH, sT);
        });
        bool zok = true;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < tq; i++) {
                bool seen = false;
                for (int j = 0; j < (causal ? std::min(i + 1, tk) : tk); j++) seen |= mask[b * tk + j] != 0.0f;
                for (int h = 0; h < heads; h++)
                    for (int c = 0; c < d; c++) zok &= x[b * sB + h * sH + i * sT + c] == (seen ? 0x3F80 : 0);
            }
        checkNaN(causal ? "attention_zero_unattended causal" : "attention_zero_unattended", zok);
    }
    // --- pointwise arithmetic and activations (odd sizes; small grids stride over the rest; in place too)
    {
        long long n = 2999;
        auto a = randn(n, 2), b = randn(n, 1), dy = randn(n, 1);
        std::vector<float> out(n, NAN), s = {1.75f};
        std::vector<double> e(n);
        launch(3, B, [&] { jdl_fill(P(out.data()), n, -2.5f, F); });
        for (long long i = 0; i < n; i++) e[i] = -2.5;
        check("fill", e, out, 0);
        launch(2, B, [&] { jdl_axpby(P(a.data()), P(b.data()), P(out.data()), n, 0.5f, -3.0f, F, F, F); });
        for (long long i = 0; i < n; i++) e[i] = 0.5 * a[i] - 3.0 * b[i];
        check("axpby", e, out);
        std::vector<float> inPlace = a;
        launch(2, B, [&] { jdl_axpby(P(inPlace.data()), P(b.data()), P(inPlace.data()), n, 0.5f, -3.0f, F, F, F); });
        check("axpby in place", e, inPlace);
        launch(5, B, [&] { jdl_mul(P(a.data()), P(b.data()), P(out.data()), n, F, F, F); });
        for (long long i = 0; i < n; i++) e[i] = (double)a[i] * b[i];
        check("mul", e, out);
        launch(1, B, [&] { jdl_mul_scalar(P(a.data()), s.data(), P(out.data()), n, F, F); });
        for (long long i = 0; i < n; i++) e[i] = 1.75 * a[i];
        check("mul_scalar", e, out);
        launch(3, B, [&] { jdl_relu(P(a.data()), P(out.data()), n, F, F); });
        for (long long i = 0; i < n; i++) e[i] = a[i] > 0 ? a[i] : 0;
        check("relu", e, out, 0);
        launch(3, B, [&] { jdl_relu_backward(P(a.data()), P(dy.data()), P(out.data()), n, F, F, F); });
        for (long long i = 0; i < n; i++) e[i] = a[i] > 0 ? dy[i] : 0;
        check("relu_backward", e, out, 0);
        std::vector<float> nan = {NAN, -1.0f, 2.0f}, nanOut(3);
        launch(1, B, [&] { jdl_relu(P(nan.data()), P(nanOut.data()), 3, F, F); });
        checkNaN("relu keeps NaN (torch.relu)", std::isnan(nanOut[0]) && nanOut[1] == 0 && nanOut[2] == 2);
        std::vector<float> nanDy = {3.0f, 4.0f, 5.0f};
        launch(1, B, [&] { jdl_relu_backward(P(nan.data()), P(nanDy.data()), P(nanOut.data()), 3, F, F, F); });
        checkNaN("relu_backward passes dy at NaN (torch's threshold_backward)",
                 nanOut[0] == 3 && nanOut[1] == 0 && nanOut[2] == 5);
        std::vector<float> y(n);
        launch(2, B, [&] { jdl_sigmoid(P(a.data()), P(y.data()), n, F, F); });
        for (long long i = 0; i < n; i++) e[i] = 1 / (1 + std::exp(-(double)a[i]));
        check("sigmoid", e, y);
        launch(2, B, [&] { jdl_sigmoid_backward(P(y.data()), P(dy.data()), P(out.data()), n, F, F, F); });
        for (long long i = 0; i < n; i++) e[i] = dy[i] * (double)y[i] * (1 - (double)y[i]);
        check("sigmoid_backward", e, out);
        launch(2, B, [&] { jdl_tanh(P(a.data()), P(y.data()), n, F, F); });
        for (long long i = 0; i < n; i++) e[i] = std::tanh((double)a[i]);
        check("tanh", e, y);
        launch(2, B, [&] { jdl_tanh_backward(P(y.data()), P(dy.data()), P(out.data()), n, F, F, F); });
        for (long long i = 0; i < n; i++) e[i] = dy[i] * (1 - (double)y[i] * y[i]);
        check("tanh_backward", e, out);
    }
    // --- broadcasting binary ops read through stride-0 dimensions: against the expanded operands
    {
        const int D[4] = {3, 5, 1, 7}, A[4] = {3, 1, 1, 7}, Bd[4] = {1, 5, 1, 1};
        long long n = 3 * 5 * 7;
        auto a = randn(3 * 7, 1), b = randn(5, 1);
        int sa[4] = {7, 0, 0, 1}, sb[4] = {0, 1, 0, 0};  // contiguous strides of A and Bd, 0 where they repeat
        for (int mul = 0; mul <= 1; mul++) {
            std::vector<float> out(n, NAN);
            launch(2, B, [&] {
                jdl_broadcast_binary(P(a.data()), P(b.data()), P(out.data()), n, D[1], D[2], D[3], sa[0], sa[1], sa[2],
                                     sa[3], sb[0], sb[1], sb[2], sb[3], mul, 0.5f, -2.0f, F, F, F);
            });
            std::vector<double> e(n);
            for (int i0 = 0; i0 < D[0]; i0++)
                for (int i1 = 0; i1 < D[1]; i1++)
                    for (int i3 = 0; i3 < D[3]; i3++) {
                        double x = a[(i0 % A[0]) * 7 + (i3 % A[3])], y = b[i1 % Bd[1]];
                        e[(i0 * 5 + i1) * 7 + i3] = mul ? x * y : 0.5 * x - 2.0 * y;
                    }
            check(mul ? "broadcast_binary mul [3,1,7] x [5,1]" : "broadcast_binary 0.5a - 2b [3,1,7], [5,1]", e, out);
        }
    }
    // --- biases, broadcast, axis sums, channel-bias gradient over [outer, dim, inner] shapes with odd sizes
    for (auto [outer, dim, inner] : {std::tuple{3, 7, 5}, std::tuple{1, 300, 37}, std::tuple{129, 513, 1},
                                     std::tuple{2, 0, 3}, std::tuple{4, 1, 9}}) {
        std::string c = " [" + std::to_string(outer) + "," + std::to_string(dim) + "," + std::to_string(inner) + "]";
        long long n = (long long)outer * dim * inner;
        auto x = randn(n, 1), small = randn((size_t)outer * inner, 1), bias = randn(dim, 1);
        std::vector<float> out(n, NAN), sums((size_t)outer * inner, NAN);
        std::vector<double> e(n), es((size_t)outer * inner, 0.0);
        launch(2, B, [&] { jdl_broadcast(P(small.data()), P(out.data()), n, dim, inner, F, F); });
        for (int o = 0; o < outer; o++)
            for (int d = 0; d < dim; d++)
                for (int i = 0; i < inner; i++) e[((long long)o * dim + d) * inner + i] = small[o * inner + i];
        check(("broadcast" + c).c_str(), e, out, 0);
        launch(3, B, [&] {
            jdl_bias_act(P(x.data()), P(bias.data()), nullptr, P(out.data()), n, dim, inner, JDL_ACT_IDENTITY, 0.0f, F,
                         F, F, F);
        });
        for (int o = 0; o < outer; o++)
            for (int d = 0; d < dim; d++)
                for (int i = 0; i < inner; i++) {
                    long long k = ((long long)o * dim + d) * inner + i;
                    e[k] = (double)x[k] + bias[d];
                }
        check(("bias_act identity: the bias (channels = dim, hw = inner)" + c).c_str(), e, out);
        // bias + activation in one pass: equal, bit for bit, to the bias alone followed by the activation's kernel
        for (int act = JDL_ACT_IDENTITY; act <= JDL_ACT_GELU; act++) {
            std::vector<float> pre(n, NAN), y(n, NAN), unfused(n, NAN), inPlace = x;
            const float slope = 0.05f;
            launch(3, B, [&] {
                jdl_bias_act(P(x.data()), P(bias.data()), P(pre.data()), P(y.data()), n, dim, inner, act, slope, F, F, F, F);
            });
            launch(2, B, [&] {
                jdl_bias_act(P(inPlace.data()), P(bias.data()), nullptr, P(inPlace.data()), n, dim, inner, act, slope, F,
                             F, F, F);
            });
            launch(3, B, [&] {
                switch (act) {
                    case JDL_ACT_RELU: jdl_relu(P(out.data()), P(unfused.data()), n, F, F); break;
                    case JDL_ACT_LEAKY_RELU: jdl_leaky_relu(P(out.data()), P(unfused.data()), n, slope, F, F); break;
                    case JDL_ACT_SIGMOID: jdl_sigmoid(P(out.data()), P(unfused.data()), n, F, F); break;
                    case JDL_ACT_TANH: jdl_tanh(P(out.data()), P(unfused.data()), n, F, F); break;
                    case JDL_ACT_GELU: jdl_gelu(P(out.data()), P(unfused.data()), n, F, F); break;
                    default: jdl_axpby(P(out.data()), P(out.data()), P(unfused.data()), n, 1.0f, 0.0f, F, F, F); break;
                }
            });
            std::vector<double> ePre(out.begin(), out.end()), eUnfused(unfused.begin(), unfused.end()), eY(n);
            for (long long k = 0; k < n; k++) {
                double v = (double)x[k] + bias[(k / inner) % dim];
                eY[k] = act == JDL_ACT_RELU ? std::fmax(v, 0.0) : act == JDL_ACT_LEAKY_RELU ? (v > 0 ? v : slope * v)
                      : act == JDL_ACT_SIGMOID ? 1 / (1 + std::exp(-v)) : act == JDL_ACT_TANH ? std::tanh(v)
                      : act == JDL_ACT_GELU ? v * 0.5 * (1 + std::erf(v / std::sqrt(2.0))) : v;
            }
            std::string a = " act=" + std::to_string(act) + c;
            check(("bias_act pre" + a).c_str(), ePre, pre, 0);
            check(("bias_act = bias, then activation kernel" + a).c_str(), eUnfused, y, 0);
            check(("bias_act in place" + a).c_str(), eUnfused, inPlace, 0);
            check(("bias_act vs double" + a).c_str(), eY, y);
        }
        for (int o = 0; o < outer; o++)
            for (int d = 0; d < dim; d++)
                for (int i = 0; i < inner; i++) es[o * inner + i] += x[((long long)o * dim + d) * inner + i];
        if (inner == 1) {
            launch(outer, B, [&] { jdl_sum_rows(P(x.data()), P(sums.data()), outer, dim, F, F); });
            check(("sum_rows" + c).c_str(), es, sums);
        }
        std::fill(sums.begin(), sums.end(), NAN);
        launch(2, B, [&] { jdl_sum_axis(P(x.data()), P(sums.data()), outer, dim, inner, F, F); });
        // one thread adds the dim terms in order: float rounding grows like sqrt(dim) * eps * |terms|
        check(("sum_axis" + c).c_str(), es, sums, 1e-4);
        // channel-bias gradient: dy [batch = outer, channels = dim, hw = inner] -> db [dim]
        std::vector<float> db(dim, NAN);
        std::vector<double> edb(dim, 0.0);
        for (int o = 0; o < outer; o++)
            for (int d = 0; d < dim; d++)
                for (int i = 0; i < inner; i++) edb[d] += x[((long long)o * dim + d) * inner + i];
        if (dim > 0) {
            launch(dim, B, [&] { jdl_channel_bias_backward(P(x.data()), P(db.data()), outer, dim, inner, F, F); });
        }
        check(("channel_bias_backward" + c).c_str(), edb, db);
    }
    // --- multi-tensor Adam / SGD: bit-identical to one jdl_adam_step / jdl_sgd_step per tensor
    {
        std::vector<long long> sizes = {1, 300, JDL_MT_CHUNK + 1, 2 * JDL_MT_CHUNK + 77};
        int T = (int)sizes.size();
        for (int variant = 0; variant < 4; variant++) {
            std::vector<std::vector<float>> p, g, m, v, p2, m2, v2;
            std::vector<long long> table;
            for (int t = 0; t < T; t++) {
                p.push_back(randn(sizes[t], 1));
                g.push_back(randn(sizes[t], 1));
                m.push_back(randn(sizes[t], 0.1));
                auto vv = randn(sizes[t], 0.1);
                for (auto& x : vv) x = x * x;
                v.push_back(vv);
            }
            p2 = p, m2 = m, v2 = v;
            for (int t = 0; t < T; t++) {
                table.insert(table.end(), {(long long)(intptr_t)p2[t].data(), (long long)(intptr_t)g[t].data(),
                                           (long long)(intptr_t)m2[t].data(), (long long)(intptr_t)v2[t].data(),
                                           sizes[t]});
            }
            int chunks = 0;
            for (int t = 0; t < T; t++) {
                for (long long s0 = 0; s0 < sizes[t]; s0 += JDL_MT_CHUNK, chunks++) table.insert(table.end(), {t, s0});
            }
            bool adam = variant < 2;
            float lr = 1e-2f, wd = 0.05f, stepSize = (float)(lr / (1 - std::pow(0.9, 3))),
                  bc2 = (float)std::sqrt(1 - std::pow(0.999, 3));
            for (int t = 0; t < T; t++) {
                long long n = sizes[t];
                if (adam) {
                    launch(3, B, [&] {
                        jdl_adam_step(p[t].data(), g[t].data(), m[t].data(), v[t].data(), n, lr, 0.9f, 0.999f, 1e-8f, wd,
                                      variant, stepSize, bc2);
                    });
                } else {
                    launch(3, B, [&] {
                        jdl_sgd_step(p[t].data(), g[t].data(), m[t].data(), n, lr, 0.9f, 0.1f, wd, variant == 3, 0);
                    });
                }
            }
            // a grid smaller than the chunk count: blocks loop over chunks
            if (adam) {
                launch(2, B, [&] {
                    jdl_adam_multi(table.data(), T, chunks, lr, 0.9f, 0.999f, 1e-8f, wd, variant, stepSize, bc2);
                });
            } else {
                launch(2, B, [&] { jdl_sgd_multi(table.data(), T, chunks, lr, 0.9f, 0.1f, wd, variant == 3, 0); });
            }
            bool same = true;
            for (int t = 0; t < T; t++) {
                same = same && p[t] == p2[t] && m[t] == m2[t] && (!adam || v[t] == v2[t]);
            }
            checkNaN((std::string(adam ? "adam_multi" : "sgd_multi") + " variant " + std::to_string(variant)
                      + " bit-identical to one step per tensor (4 tensors, " + std::to_string(chunks) + " chunks)").c_str(),
                     same);
        }
    }
    // --- dtype conversions (jdl_cast) against what PyTorch 2.x gives on an x86 CPU for the same values (the
    //     table of DTypeConversionTest): float to int32 / int64 / uint8 / bool, and int64 to int32 / uint8 / float
    {
        const float nan = NAN, inf = INFINITY;
        std::vector<float> x = {nan, inf, -inf, 3e9f, -3e9f, 1e20f, -1.7f, 2.9f, -0.5f, 255.9f, 256.5f, -1.0f, -255.0f, 300.0f};
        long long n = (long long)x.size();
        std::vector<int> i32(n);
        std::vector<long long> i64(n);
        std::vector<unsigned char> u8(n), b(n);
        launch(3, B, [&] { jdl_cast((const unsigned char*)x.data(), (unsigned char*)i32.data(), n, JDL_F32, JDL_I32); });
        launch(3, B, [&] { jdl_cast((const unsigned char*)x.data(), (unsigned char*)i64.data(), n, JDL_F32, JDL_I64); });
        launch(3, B, [&] { jdl_cast((const unsigned char*)x.data(), u8.data(), n, JDL_F32, JDL_U8); });
        launch(3, B, [&] { jdl_cast((const unsigned char*)x.data(), b.data(), n, JDL_F32, JDL_BOOL); });
        const long long M32 = -2147483648LL, M64 = (long long)0x8000000000000000ull;
        std::vector<long long> w32 = {M32, M32, M32, M32, M32, M32, -1, 2, 0, 255, 256, -1, -255, 300};
        std::vector<long long> w64 = {M64, M64, M64, 3000000000LL, -3000000000LL, M64, -1, 2, 0, 255, 256, -1, -255, 300};
        std::vector<int> wu8 = {0, 0, 0, 0, 0, 0, 255, 2, 0, 255, 0, 255, 1, 44};
        bool ok = true;
        for (long long i = 0; i < n; i++) {
            ok = ok && i32[i] == w32[i] && i64[i] == w64[i] && u8[i] == wu8[i] && b[i] == 1;
        }
        checkNaN("cast float32 -> int32 / int64 / uint8 / bool as PyTorch on x86", ok);
        std::vector<long long> big = {9223372036854775807LL, M64, 16777217LL, 2147483653LL, 257, -1, 300};
        long long m = (long long)big.size();
        std::vector<int> n32(m);
        std::vector<unsigned char> n8(m);
        std::vector<float> nf(m);
        std::vector<unsigned short> nbf(m);
        launch(2, B, [&] { jdl_cast((const unsigned char*)big.data(), (unsigned char*)n32.data(), m, JDL_I64, JDL_I32); });
        launch(2, B, [&] { jdl_cast((const unsigned char*)big.data(), n8.data(), m, JDL_I64, JDL_U8); });
        launch(2, B, [&] { jdl_cast((const unsigned char*)big.data(), (unsigned char*)nf.data(), m, JDL_I64, JDL_F32); });
        launch(2, B, [&] { jdl_cast((const unsigned char*)big.data(), (unsigned char*)nbf.data(), m, JDL_I64, JDL_BF16); });
        ok = n32[0] == -1 && n32[1] == 0 && n32[2] == 16777217 && n32[3] == -2147483643 && n8[4] == 1 && n8[5] == 255
             && n8[6] == 44 && nf[2] == 16777216.0f && nbf[4] == 0x4380 && nbf[6] == 0x4396;
        checkNaN("cast int64 -> int32 / uint8 wraps, -> float32 / bf16 rounds to nearest even, as PyTorch", ok);
    }
    // --- row softmax / log-softmax and their backward, against double; one block per row
    for (int cols : {1, 7, 300, 1000}) {
        const int rows = 5;
        long long n = (long long)rows * cols;
        auto x = randn(n, 3), dy = randn(n, 1);
        for (int log = 0; log <= 1; log++) {
            std::vector<float> y(n, NAN), dx(n, NAN), inPlace = x;
            launch(rows, B, [&] { jdl_softmax_rows(P(x.data()), P(y.data()), rows, cols, log, F, F); });
            launch(rows, B, [&] { jdl_softmax_rows(P(inPlace.data()), P(inPlace.data()), rows, cols, log, F, F); });
            launch(rows, B, [&] { jdl_softmax_backward_rows(P(y.data()), P(dy.data()), P(dx.data()), rows, cols, log, F,
                                                            F, F); });
            std::vector<double> ey(n), edx(n);
            for (int r = 0; r < rows; r++) {
                double m = -INFINITY, s = 0, dot = 0;
                for (int j = 0; j < cols; j++) m = std::max(m, (double)x[r * cols + j]);
                for (int j = 0; j < cols; j++) s += std::exp(x[r * cols + j] - m);
                for (int j = 0; j < cols; j++) {
                    double z = x[r * cols + j] - m;
                    ey[r * cols + j] = log ? z - std::log(s) : std::exp(z) / s;
                }
                for (int j = 0; j < cols; j++) dot += log ? dy[r * cols + j] : dy[r * cols + j] * (double)y[r * cols + j];
                for (int j = 0; j < cols; j++) {
                    double v = y[r * cols + j], g = dy[r * cols + j];
                    edx[r * cols + j] = log ? g - std::exp(v) * dot : v * (g - dot);
                }
            }
            std::string c = std::string(log ? " log" : "") + " [5," + std::to_string(cols) + "]";
            check(("softmax_rows" + c).c_str(), ey, y, 1e-5);
            check(("softmax_rows in place" + c).c_str(), ey, inPlace, 1e-5);
            check(("softmax_backward_rows" + c).c_str(), edx, dx, 1e-5);
            // bf16 in, f16 out: the float32 result on the widened input, rounded once
            std::vector<unsigned short> xh(n), yh(n);
            std::vector<float> widened(n), yf(n);
            for (long long i = 0; i < n; i++) xh[i] = jdl_float_to_bf16(x[i]), widened[i] = jdl_bf16_to_float(xh[i]);
            launch(rows, B, [&] { jdl_softmax_rows(P(xh.data()), P(yh.data()), rows, cols, log, JDL_BF16, JDL_F16); });
            launch(rows, B, [&] { jdl_softmax_rows(P(widened.data()), P(yf.data()), rows, cols, log, F, F); });
            bool ok = true;
            for (long long i = 0; i < n; i++) ok &= yh[i] == jdl_float_to_f16(yf[i]);
            checkNaN(("softmax_rows bf16 -> f16 is the float32 one rounded" + c).c_str(), ok);
        }
    }
    // --- mixed precision: float32 <-> bf16 / f16 against a rounding in double (nearbyint: ties to even), and the
    //     GradScaler unscale with its non-finite flag
    {
        auto bits = [](float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; };
        auto reference = [](float x, bool bf16) -> double {  // the nearest half, as a double; NaN stays NaN
            if (std::isnan(x) || std::isinf(x) || x == 0) return x;
            int e = std::ilogb(x);
            double ulp = std::ldexp(1.0, std::max(e, bf16 ? -126 : -14) - (bf16 ? 7 : 10));
            double r = std::nearbyint(x / ulp) * ulp;
            double max = bf16 ? std::ldexp(255.0, 120) : 65504.0;
            return std::fabs(r) > max ? std::copysign(INFINITY, x) : r;
        };
        std::vector<float> x;
        for (uint32_t u = 0; u < (1u << 16); u++) {  // every half pattern, and the floats around its halfway points
            float f;
            uint32_t w = (u << 16) | 0x8000u;
            for (uint32_t d : {0u, 1u, 0xffffffffu}) { uint32_t v = w + d; std::memcpy(&f, &v, 4); x.push_back(f); }
        }
        for (float f : randn(20000, 3000)) x.push_back(f);
        for (float f : randn(20000, 1e-5)) x.push_back(f);
        long long n = (long long)x.size();
        for (int bf16 : {1, 0}) {
            std::vector<unsigned short> h(n);
            std::vector<float> back(n, NAN);
            launch(7, B, [&] { jdl_float_to_half(x.data(), h.data(), n, bf16); });
            launch(5, B, [&] { jdl_half_to_float(h.data(), back.data(), n, bf16); });
            long long wrong = 0, firstWrong = -1;
            for (long long i = 0; i < n; i++) {
                double want = reference(x[i], bf16);
                bool ok = std::isnan(want) ? std::isnan(back[i]) && (bits(back[i]) >> 31) == (bits(x[i]) >> 31)
                                           : bits(back[i]) == bits((float)want);
                if (!ok && wrong++ == 0) firstWrong = i;
            }
            bool ok = wrong == 0;
            if (!ok) failures++;
            std::printf("%-4s %-48s %lld of %lld values wrong%s\n", ok ? "ok" : "FAIL",
                        bf16 ? "float_to_half / half_to_float bf16" : "float_to_half / half_to_float f16", wrong, n,
                        ok ? "" : (" first at input bits " + std::to_string(bits(x[firstWrong]))).c_str());
        
            // The pointwise kernels' half operands: a store rounds as jdl_float_to_half (checked above), a load
            // widens exactly, and mixed operands compute in float32 with one rounding at the end.
            const int H = bf16 ? JDL_BF16 : JDL_F16;
            std::vector<float> ones(n, 1.0f);
            std::vector<unsigned short> stored(n), sum(n), dx(n);
            launch(3, B, [&] { jdl_mul(P(x.data()), P(ones.data()), P(stored.data()), n, F, F, H); });
            checkNaN(bf16 ? "mul float32 -> bf16 out rounds as float_to_half"
                          : "mul float32 -> f16 out rounds as float_to_half", stored == h);
            std::vector<float> b = randn(n, 1), mixed(n, NAN);
            launch(2, B, [&] { jdl_axpby(P(h.data()), P(b.data()), P(mixed.data()), n, 0.5f, -2.0f, H, F, F); });
            bool mixedOk = true;
            for (long long i = 0; i < n; i++) {
                float want = 0.5f * back[i] - 2.0f * b[i];  // the widened half, in float as the kernel
                mixedOk &= bits(mixed[i]) == bits(want) || (std::isnan(want) && std::isnan(mixed[i]));
            }
            checkNaN(bf16 ? "axpby bf16 a + float32 b -> float32" : "axpby f16 a + float32 b -> float32", mixedOk);
            launch(2, B, [&] { jdl_axpby(P(h.data()), P(h.data()), P(sum.data()), n, 1.0f, 1.0f, H, H, H); });
            launch(2, B, [&] { jdl_relu_backward(P(h.data()), P(h.data()), P(dx.data()), n, H, H, H); });
            bool halfOk = true;
            for (long long i = 0; i < n; i++) {
                float twice = back[i] + back[i];
                halfOk &= sum[i] == (bf16 ? jdl_float_to_bf16(twice) : jdl_float_to_f16(twice));
                halfOk &= dx[i] == (back[i] <= 0.0f ? (unsigned short)0 : h[i]);
            }
            checkNaN(bf16 ? "axpby and relu_backward all bf16" : "axpby and relu_backward all f16", halfOk);
        }
        std::vector<float> g = randn(5000, 100), scaled = g;
        float flag = 0;
        launch(3, B, [&] { jdl_amp_unscale(scaled.data(), (long long)g.size(), 0.25f, &flag); });
        std::vector<double> eg(g.size());
        for (size_t i = 0; i < g.size(); i++) eg[i] = g[i] * 0.25;
        check("amp_unscale", eg, scaled, 0);
        checkNaN("amp_unscale: finite gradients leave the flag at 0", flag == 0.0f);
        scaled[4321] = INFINITY;
        scaled[17] = NAN;
        launch(3, B, [&] { jdl_amp_unscale(scaled.data(), (long long)g.size(), 1.0f, &flag); });
        checkNaN("amp_unscale: inf and NaN set the flag, and stay", flag == 1.0f && std::isinf(scaled[4321]) &&
                 std::isnan(scaled[17]) && scaled[0] == (float)eg[0]);
    }
    std::printf(failures == 0 ? "all ok\n" : "%d FAILED\n", failures);
    return failures == 0 ? 0 : 1;
}
