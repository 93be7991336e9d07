// Half-precision bit patterns <-> float for the stand-in's libraries, as the GPU converts them:
// fp16 through the host compiler's _Float16 (IEEE round to nearest even, subnormals and infinities included);
// bf16 is the upper half of a float32, rounded to nearest even; a NaN stays a NaN with its sign and the top of
// its payload, quieted (jdl's io.jdl.backend.HalfPrecision rule, checked against PyTorch).
#pragma once

#include <cstdint>
#include <cstring>

namespace standin::half {

inline float fromF16(uint16_t h) {
    _Float16 f;
    std::memcpy(&f, &h, 2);
    return static_cast<float>(f);
}

inline uint16_t toF16(float v) {
    _Float16 f = static_cast<_Float16>(v);
    uint16_t h;
    std::memcpy(&h, &f, 2);
    return h;
}

inline float fromBf16(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline uint16_t toBf16(float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<uint16_t>((b >> 16) | 0x40u);
    }
    return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

}  // namespace standin::half
