//! A seeded pseudo-random sequence (xorshift64*) for the tests that generate their inputs: the
//! same seed gives the same inputs on every run.

pub(crate) struct Rng(u64);

impl Rng {
    /// A sequence from `seed`, which must not be 0 (xorshift stays at 0).
    pub(crate) fn new(seed: u64) -> Rng {
        assert_ne!(seed, 0, "a xorshift seed must not be 0");
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number from 0 to `n - 1`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `from`, which must not be empty.
    pub(crate) fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }
}
