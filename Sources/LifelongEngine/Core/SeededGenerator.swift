import Foundation

/// A small, fast, seedable PRNG (xoshiro256**, seeded through SplitMix64).
///
/// All randomness in the project (initialisation, dropout, sampling, shuffling) comes from
/// explicitly passed generators, so a run is reproducible from its seed; `state` can be saved in a
/// checkpoint and restored to resume the exact sequence.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0; state.3 ^= state.1; state.1 ^= state.2; state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1), 24 random bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, Double.leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// A tensor of independent N(0, std²) values.
    public convenience init(randomNormal shape: [Int], std: Float, rng: inout SeededGenerator, requiresGrad: Bool = false) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        let p = data
        for i in 0..<count { p[i] = rng.nextGaussian() * std }
    }
}
