// Rounds of cold builds across tools, shared by bench/run.mjs (scenario rebuild)
// and bench/mmd-cold.mjs: every round builds with each tool in turn, the order
// rotated by one each round so no tool always runs first (after plain's page-cache
// warm-up) or last; ratios to the baseline are taken round by round, so a round
// slowed by the shared machine slows its baseline too.

/** The tools in round `round`'s order: `items` rotated left by `round`. */
export function rotated(items, round) {
  return items.map((_, i) => items[(i + round) % items.length]);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Runs `rounds` rounds of `buildOne(tool, round)` over `tools` in rotated order.
 * A tool whose build throws is dropped from the later rounds (its error kept).
 * @returns {{ samples: Record<string, object[]>, errors: Record<string, string> }}
 */
export async function rotatedRounds(tools, rounds, buildOne, onSample = () => {}) {
  const samples = Object.fromEntries(tools.map((t) => [t.name, []]));
  const errors = {};
  for (let r = 0; r < rounds; r++) {
    for (const t of rotated(tools, r)) {
      if (errors[t.name]) continue;
      try {
        const s = await buildOne(t, r);
        samples[t.name].push(s);
        onSample(t, r, s);
      } catch (e) {
        errors[t.name] = String(e.message ?? e);
      }
    }
  }
  return { samples, errors };
}

/**
 * Median, min and max over the rounds of `value(sample) / value(baseline's sample of the same round)`;
 * rounds where either is missing are left out. Null when no round has both.
 */
export function roundRatios(samples, baseline, value) {
  const ratios = [];
  for (let i = 0; i < Math.min(samples.length, baseline.length); i++) {
    const a = value(samples[i]);
    const b = value(baseline[i]);
    if (a != null && b) ratios.push(a / b);
  }
  return ratios.length ? { n: ratios.length, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), ratios } : null;
}
