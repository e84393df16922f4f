"""Seeds for a declared comparison: how many paired seeds establish an effect of a given size
after Holm's correction over the declared family, by the test experiments/analysis.py runs.

analysis.py tests each setting against the baseline with a paired t-test (a sign-flip test when
every difference is equal). Holm's first step compares the smallest p with alpha / m, so a
comparison is established at n seeds with probability at least the power of a two-sided paired
t-test at level alpha / m; the exact power comes from the noncentral t distribution. A sign-flip
test can never give p below 2 / 2^n, so n must also satisfy 2 / 2^n < alpha / m.

    python -m modecollapse.experiments.power --effect 30 --sd 12 --family 32
"""

from __future__ import annotations

import argparse
import math

from scipy import stats


def paired_power(effect: float, sd: float, seeds: int, alpha: float) -> float:
    """Power of a two-sided paired t-test at level `alpha` with `seeds` pairs, for a mean
    difference `effect` whose differences have standard deviation `sd`."""
    if seeds < 2:
        return 0.0
    if sd <= 0:
        return 1.0 if effect else 0.0
    df = seeds - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    shift = abs(effect) / sd * math.sqrt(seeds)
    upper = float(stats.nct.sf(critical, df, shift))
    lower = float(stats.nct.cdf(-critical, df, shift))  # the wrong-side tail: tiny, nan when it underflows
    return upper + (lower if math.isfinite(lower) else 0.0)


def smallest_sign_flip_seeds(alpha: float, family: int) -> int:
    """The fewest seeds at which an exact two-sided sign-flip test can pass Holm's first step."""
    seeds = 1
    while 2 * 0.5**seeds >= alpha / family:
        seeds += 1
    return seeds


def seeds_needed(
    effect: float, sd: float, family: int, alpha: float = 0.05, power: float = 0.8, most: int = 200
) -> int | None:
    """The fewest paired seeds that establish `effect` (paired sd `sd`) with probability `power`
    after Holm over `family` comparisons; None when even `most` seeds do not."""
    for seeds in range(2, most + 1):
        if paired_power(effect, sd, seeds, alpha / family) >= power:
            return seeds
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--effect", type=float, required=True, help="the smallest difference worth reporting")
    parser.add_argument("--sd", type=float, required=True, help="the pilot's paired standard deviation")
    parser.add_argument("--family", type=int, required=True, help="declared comparisons (fixes x primaries)")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--power", type=float, default=0.8)
    args = parser.parse_args()
    seeds = seeds_needed(args.effect, args.sd, args.family, args.alpha, args.power)
    flip = smallest_sign_flip_seeds(args.alpha, args.family)
    print(f"paired t-test, Holm over {args.family} at alpha {args.alpha}, power {args.power}: {seeds} seeds "
          f"(effect / sd = {args.effect / args.sd:.2f}); a sign-flip test needs >= {flip}")  # fmt: skip


if __name__ == "__main__":
    main()
